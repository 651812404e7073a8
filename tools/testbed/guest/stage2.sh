#!/bin/bash
# Stage 2 of a testbed guest, PID 1 in the host's userspace (9p root + tmpfs overlay).
# Sets up the system from the kernel command line (t.name=, t.ip=<addr/len>, t.role=), tells LVM
# that no udev runs, runs the per-guest boot script the host left in the shared directory
# (/testbed/guests/<name>/boot.sh, e.g. to start an agent), then serves the command channel:
# each /testbed/guests/<name>/cmd/<id>.sh is run once, in name order, with its output in <id>.out
# and its exit status in <id>.rc (written last, atomically). A file "poweroff" there halts the guest.
set -uo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export DM_DISABLE_UDEV=1 HOME=/root LANG=C.UTF-8

say() { echo "[stage2 $(cut -d' ' -f1 /proc/uptime)s] $*" >/dev/console; }

mountpoint -q /proc || mount -t proc proc /proc
mountpoint -q /sys || mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
mountpoint -q /sys/kernel/config || mount -t configfs configfs /sys/kernel/config
mkdir -p /dev/pts /dev/shm
mountpoint -q /dev/pts || mount -t devpts devpts /dev/pts
mountpoint -q /dev/shm || mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs -o mode=0755 tmpfs /run
# The guests run the project's jars and scripts from the host's root; a tmpfs over /tmp would hide a
# checkout that lives there (CI may clone into /tmp), so /tmp then stays on the writable overlay.
case "$0" in
  /tmp/*) ;;
  *) mount -t tmpfs -o mode=1777 tmpfs /tmp ;;
esac
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
mkdir -p /run/lock /run/lvm

param() {
  local w
  for w in $(</proc/cmdline); do
    case "$w" in "$1="*) echo "${w#*=}"; return 0 ;; esac
  done
  return 1
}
name="$(param t.name || echo guest)"
ip_addr="$(param t.ip || true)"
role="$(param t.role || echo none)"
hostname "$name"
echo "$name" >/etc/hostname
printf '127.0.0.1 localhost\n127.0.1.1 %s\n' "$name" >/etc/hosts

ip link set lo up
if [ -n "$ip_addr" ]; then
  ip addr add "$ip_addr" dev eth0
  ip link set eth0 up
fi

# No udev in the guest: LVM must neither wait for it nor expect it to create nodes.
mkdir -p /etc/lvm
cat >/etc/lvm/lvmlocal.conf <<'LVM'
activation {
	udev_sync = 0
	udev_rules = 0
	monitoring = 0
}
devices {
	obtain_device_list_from_udev = 0
}
global {
	use_lvmpolld = 0
}
LVM
# A host NQN of the guest's own, from the machine UUID the host gave QEMU (-uuid), else random;
# never the host's /etc/nvme files, which every guest would share.
mkdir -p /etc/nvme
uuid="$(cat /sys/class/dmi/id/product_uuid 2>/dev/null || true)"
case "$uuid" in "" | 00000000-0000-0000-0000-000000000000) uuid="$(cat /proc/sys/kernel/random/uuid)" ;; esac
echo "nqn.2014-08.org.nvmexpress:uuid:$uuid" >/etc/nvme/hostnqn
echo "$uuid" >/etc/nvme/hostid

gdir="/testbed/guests/$name"
mkdir -p "$gdir/cmd"
say "up: name=$name role=$role ip=$ip_addr kernel=$(uname -r)"
cut -d' ' -f1 /proc/uptime >"$gdir/booted"

if [ -f "$gdir/boot.sh" ]; then
  say "running $gdir/boot.sh"
  bash "$gdir/boot.sh" >"$gdir/boot.log" 2>&1 || say "boot.sh exited with $?"
fi

say "serving commands in $gdir/cmd"
shopt -s nullglob
while :; do
  for f in "$gdir"/cmd/*.sh; do
    id="${f%.sh}"
    mv "$f" "$id.run" || continue
    bash "$id.run" >"$id.out" 2>&1 </dev/null
    rc=$?
    echo "$rc" >"$id.rc.tmp"
    mv "$id.rc.tmp" "$id.rc"
  done
  if [ -e "$gdir/poweroff" ]; then
    say "poweroff requested"
    sync
    poweroff -f
  fi
  sleep 0.5
done
