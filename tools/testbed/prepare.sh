#!/usr/bin/env bash
# Prepares everything the Ferry VM testbed needs and caches it under tools/testbed/cache/:
#   - host packages (apt-get, only when missing),
#   - the Debian kernel (vmlinuz + modules, extracted with dpkg-deb, depmod'ed),
#   - a busybox initramfs holding only the modules the guests need (and their dependencies).
# A second run with nothing changed does no work. Prints the cache paths on success.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${TESTBED_CACHE:-$here/cache}"
mkdir -p "$cache"

log() { printf '[prepare] %s\n' "$*" >&2; }

# Modules loaded by the guest's stage-1 init, in this order (dependencies are resolved by modprobe).
modules_load=(virtio_pci virtio_blk virtio_net crc32c_generic libcrc32c dm-mod dm-thin-pool
  dm-snapshot configfs nvmet-tcp nvme-tcp raid1 9pnet_virtio 9p loop overlay ext4 xfs)
# Modules shipped in the initramfs but loaded on demand (by lvm, nvme-cli, later scenarios).
modules_extra=(nvmet nvme-fabrics nvme-core dm-raid dm-mirror dm-bufio dm-persistent-data
  dm-bio-prison tun bridge null_blk
  # NVMe in-band authentication (scenario 15): the shared DH-HMAC-CHAP code and the crypto the
  # kernel asks for by name (hmac(sha256)); kernels that build them in, or lack them, just note it.
  nvme-auth hmac sha256_generic sha512_generic dh_generic)

# --- host packages ----------------------------------------------------------------------------
# The guests run the host's userspace (9p root), so the tools the scenarios run inside them are
# host packages too: lvm2, nvme-cli, e2fsprogs, procps (pgrep), util-linux (blockdev), python3,
# mdadm (the mirrors of multi-part volumes; dmsetup comes with lvm2).
packages=(qemu-system-x86 busybox-static cpio kmod xz-utils zstd gzip lvm2 nvme-cli
  thin-provisioning-tools e2fsprogs xfsprogs util-linux procps iproute2 fio python3 etcd-server mdadm
  etcd-client)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# --- kernel ---------------------------------------------------------------------------------
# The guests run Debian's bookworm-backports kernel (6.12 at the time of writing), not bookworm's
# 6.1: 6.1 is built without CONFIG_NVME_TARGET_AUTH and CONFIG_NVME_AUTH, so NVMe in-band
# authentication (DH-HMAC-CHAP) cannot be exercised on it. The suite's package lists are kept in a
# private apt state under the cache, so the host's own apt sources are neither read nor changed; apt
# still checks the suite's signature with the host's Debian archive keyring.
# TESTBED_KERNEL_SUITE=bookworm uses the host's default suite instead.
kernel_suite="${TESTBED_KERNEL_SUITE:-bookworm-backports}"
kernel_mirror="${TESTBED_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
aptdir="$cache/apt-$kernel_suite"
apt_opts=()
if [ "$kernel_suite" != bookworm ]; then
  mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial"
  printf 'deb %s %s main\n' "$kernel_mirror" "$kernel_suite" >"$aptdir/sources.list"
  apt_opts=(-o "Dir::Etc::SourceList=$aptdir/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$aptdir/lists" -o "Dir::Cache=$aptdir/cache")
fi
resolve_kernel() {
  apt-cache "${apt_opts[@]}" depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'
}
kpkg="$(resolve_kernel || true)"
if [ -z "$kpkg" ]; then
  apt-get "${apt_opts[@]}" update -qq >&2 || true
  kpkg="$(resolve_kernel || true)"
fi
if [ -z "$kpkg" ]; then
  # Offline and no package lists: fall back to the newest kernel already in the cache.
  cached="$(find "$cache" -maxdepth 2 -path "$cache/kernel-*/.done" -printf '%h\n' 2>/dev/null | sort -V | tail -n 1)"
  [ -n "$cached" ] || { log "cannot resolve the kernel package from linux-image-amd64 ($kernel_suite)"; exit 1; }
  kpkg="linux-image-${cached##*/kernel-}"
  log "using the cached $kpkg"
fi
kver="${kpkg#linux-image-}"
kdir="$cache/kernel-$kver"
if [ ! -f "$kdir/.done" ]; then
  log "downloading $kpkg"
  tmp="$(mktemp -d "$cache/dl.XXXXXX")"
  chmod 0755 "$tmp"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && apt-get "${apt_opts[@]}" download -qq "$kpkg" >&2)
  rm -rf "$kdir"
  mkdir -p "$kdir"
  dpkg-deb -x "$tmp"/"$kpkg"_*.deb "$kdir"
  depmod -b "$kdir" "$kver"
  touch "$kdir/.done"
  rm -rf "$tmp"
  trap - EXIT
fi
vmlinuz="$kdir/boot/vmlinuz-$kver"
[ -f "$vmlinuz" ] || { log "no $vmlinuz in the package"; exit 1; }

# --- initramfs -------------------------------------------------------------------------------
init_src="$here/guest/init"
stamp="$(cat "$init_src" <(printf '%s\n' "$kver" "${modules_load[@]}" "${modules_extra[@]}") | sha256sum | cut -c1-16)"
initrd="$cache/initrd-$kver-$stamp.cpio.gz"
if [ ! -f "$initrd" ]; then
  log "building $initrd"
  root="$(mktemp -d "$cache/initramfs.XXXXXX")"
  trap 'rm -rf "$root"' EXIT
  mkdir -p "$root"/{bin,sbin,dev,proc,sys,run,host,newroot,ovl,etc,lib/modules/"$kver"}
  cp /bin/busybox "$root/bin/busybox"
  for applet in $("$root/bin/busybox" --list); do
    [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
  done
  # Resolve every module and its dependencies against the extracted tree, copy them decompressed
  # (busybox modprobe need not understand .xz/.zst), then depmod the initramfs tree.
  declare -A seen=()
  for m in "${modules_load[@]}" "${modules_extra[@]}"; do
    deps="$(modprobe -d "$kdir" -S "$kver" --show-depends "$m" 2>/dev/null || true)"
    if [ -z "$deps" ]; then log "note: module $m not found (built in or absent)"; continue; fi
    while read -r kind path _; do
      [ "$kind" = insmod ] || continue
      [ -z "${seen[$path]:-}" ] || continue
      seen[$path]=1
      rel="${path#"$kdir"/lib/modules/"$kver"/}"
      dst="$root/lib/modules/$kver/$rel"
      mkdir -p "$(dirname "$dst")"
      case "$path" in
        *.ko.xz) xz -dc "$path" >"${dst%.xz}" ;;
        *.ko.zst) zstd -qdc "$path" >"${dst%.zst}" ;;
        *.ko.gz) gzip -dc "$path" >"${dst%.gz}" ;;
        *) cp "$path" "$dst" ;;
      esac
    done <<<"$deps"
  done
  cp "$kdir/lib/modules/$kver"/modules.{order,builtin,builtin.modinfo} "$root/lib/modules/$kver/" 2>/dev/null || true
  depmod -b "$root" "$kver"
  printf '%s\n' "${modules_load[@]}" >"$root/etc/modules-load"
  cp "$init_src" "$root/init"
  chmod 0755 "$root/init"
  (cd "$root" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) >"$initrd.tmp"
  mv "$initrd.tmp" "$initrd"
  rm -rf "$root"
  trap - EXIT
  log "initramfs: $(du -h "$initrd" | cut -f1), ${#seen[@]} modules"
  # Older initramfs builds (another init, module list or kernel) are of no further use.
  find "$cache" -maxdepth 1 -name 'initrd-*.cpio.gz' ! -name "$(basename "$initrd")" -delete
fi
ln -sfn "$vmlinuz" "$cache/vmlinuz"
ln -sfn "$initrd" "$cache/initrd.gz"
printf 'kernel=%s\ninitrd=%s\nversion=%s\n' "$vmlinuz" "$initrd" "$kver"
