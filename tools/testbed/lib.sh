# Shared functions of the Ferry VM testbed; sourced by ./testbed (bash, set -euo pipefail).
# Cluster layout (one testbed per machine at a time):
#   network namespace $TB_NS with bridge tb0 = 10.77.0.1/24 (etcd :2379, controller admin on its lo),
#   guest i (1..N) = node-i, 10.77.0.(10+i), tap tb-tap<i>, sparse virtio disks /dev/vda, /dev/vdb,
#   /dev/vdc and /dev/vdd,
#   shared directory $RUN (the guest's /testbed), guest files under $RUN/guests/node-i/.

TB_NS="${TB_NS:-ferrytb}"
TB_BRIDGE=tb0
TB_HOST_IP=10.77.0.1
TB_MEM="${TB_MEM:-1536}"
TB_SMP="${TB_SMP:-2}"
TB_DISK_SIZE="${TB_DISK_SIZE:-8G}"
TB_DISK2_SIZE="${TB_DISK2_SIZE:-1G}"   # second disk, /dev/vdb (node-1: scenario 3, node-2: scenario 4)
TB_DISK3_SIZE="${TB_DISK3_SIZE:-1G}"   # third disk, /dev/vdc (node-1: scenario 5)
TB_DISK4_SIZE="${TB_DISK4_SIZE:-512M}" # fourth disk, /dev/vdd (both nodes: scenario 14, a mirror's legs)
TB_BOOT_TIMEOUT="${TB_BOOT_TIMEOUT:-240}"
# From stage 2 to a registered agent (and an answering CSI plugin): 60-90 s on an idle 2-core host,
# over 180 s when the host is busy with other work, since every JVM start is emulated.
TB_START_TIMEOUT="${TB_START_TIMEOUT:-600}"
# Guests that also run the CSI plugin in node mode (the consumers of remote volumes), on port 10000.
TB_CSI_NODES="${TB_CSI_NODES:-node-1}"
TB_CSI_PORT=10000
# Where the scenarios stage and publish volumes in a guest, like the kubelet's plugin directories.
TB_CSI_STAGING=/var/lib/ferry-tb/staging
TB_CSI_PODS=/var/lib/ferry-tb/pods
ETCD_LOCAL="http://127.0.0.1:2379"

PIDS=()        # processes this harness started (killed in reverse order on teardown)
PID_LOGS=()    # their logs, same order (says which one it was when one is gone)
SCENARIO_PID=  # the scenario running now, if any
GUESTS=()      # guest names
T0="${T0:-$(date +%s)}"

log() { printf '[testbed %4ss] %s\n' "$(($(date +%s) - T0))" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }
# A guest that did not boot is a fault of the machine (see the boot hang in docs/testbed.md), not
# of Ferry: its own exit status lets CI tell it from a failed scenario and retry only this.
TB_EXIT_BOOT=3
die_boot() { log "FAIL (boot): $*"; exit "$TB_EXIT_BOOT"; }

guest_ip() { echo "10.77.0.$((10 + ${1#node-}))"; }

# Records a timing line "<what> <seconds>" in $RUN/timings.
timing() { printf '%-40s %5ss\n' "$1" "$2" | tee -a "$RUN/timings" >&2; }

in_ns() { ip netns exec "$TB_NS" "$@"; }

etcdctl_ns() { in_ns env ETCDCTL_API=3 etcdctl --endpoints="$ETCD_LOCAL" "$@"; }

# Starts a process inside the namespace in the background, output to a log, and records its pid.
start_bg() {
  local logf="$1"; shift
  # ip netns exec execs the command, so $! is the process itself (a function here would put a
  # subshell in between and leave its child behind on kill).
  ip netns exec "$TB_NS" "$@" >"$logf" 2>&1 </dev/null &
  PIDS+=("$!")
  PID_LOGS+=("$logf")
  echo "$!" >>"$RUN/pids"
}

java_bin() { readlink -f "$(command -v java)"; }
ferry_cp() { echo "$REPO/tools/target/ferry-tools-0.1.0-SNAPSHOT.jar:$REPO/tools/target/lib/*"; }

teardown() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  log "teardown (exit status $rc)"
  local i pid
  if [ -n "${SCENARIO_PID:-}" ]; then
    kill -TERM "$SCENARIO_PID" 2>/dev/null
    wait "$SCENARIO_PID" 2>/dev/null
  fi
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    pid="${PIDS[i]}"
    kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  # A guest a scenario powered off and booted again (scenario 6), or a controller it restarted
  # (scenario 17), was started by the scenario's shell, so it is only in $RUN/pids, not in PIDS; it
  # must not outlive the run either.
  if [ -n "${RUN:-}" ] && [ -f "$RUN/pids" ]; then
    while read -r pid; do
      [ -n "$pid" ] && [ -d "/proc/$pid" ] || continue
      [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = qemu-system-x86 ] \
        || tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'io[.]ferry[.]controller[.]ControllerMain' || continue
      kill -TERM "$pid" 2>/dev/null
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -KILL "$pid" 2>/dev/null
    done <"$RUN/pids"
  fi
  if ip netns list | grep -qw "$TB_NS"; then ip netns del "$TB_NS"; fi
  # The disk images and etcd's data (its WAL preallocates 64 MB) are of no use after the run.
  if [ -n "${RUN:-}" ] && [ -z "${TB_KEEP_DISKS:-}" ]; then rm -rf "$RUN/disks" "$RUN/etcd"; fi
  [ -n "${RUN:-}" ] && log "results: $RUN"
  exit "$rc"
}

net_up() {
  if ip netns list | grep -qw "$TB_NS"; then
    die "namespace $TB_NS exists: another testbed runs, or run './testbed down' to clean up"
  fi
  ip netns add "$TB_NS"
  ip -n "$TB_NS" link set lo up
  ip -n "$TB_NS" link add "$TB_BRIDGE" type bridge
  ip -n "$TB_NS" addr add "$TB_HOST_IP/24" dev "$TB_BRIDGE"
  ip -n "$TB_NS" link set "$TB_BRIDGE" up
  local n
  for n in "${GUESTS[@]}"; do
    ip -n "$TB_NS" tuntap add dev "tb-tap${n#node-}" mode tap
    ip -n "$TB_NS" link set "tb-tap${n#node-}" master "$TB_BRIDGE" up
  done
}

etcd_up() {
  start_bg "$RUN/etcd.log" etcd --name tb --data-dir "$RUN/etcd" \
    --listen-client-urls "http://$TB_HOST_IP:2379,$ETCD_LOCAL" \
    --advertise-client-urls "http://$TB_HOST_IP:2379" \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster tb=http://127.0.0.1:2380
  local i
  for i in $(seq 1 100); do
    if etcdctl_ns endpoint health >/dev/null 2>&1; then
      # NVMe in-band authentication off for the cluster: the scenarios connect by hand with
      # nvme-cli and name made-up consumers, none of which has keys. Scenario 15 turns it on for
      # itself and off again.
      etcdctl_ns put /ferry/config/global '{"schemaVersion":1,"nvmeAuth":"off"}' >/dev/null
      return 0
    fi
    sleep 0.2
  done
  tail -n 20 "$RUN/etcd.log" >&2
  die "etcd did not become healthy"
}

controller_up() {
  start_bg "${1:-$RUN/controller.log}" env FERRY_ETCD_ENDPOINTS="$ETCD_LOCAL" \
    "$(java_bin)" -Xmx512m -cp "$(ferry_cp)" io.ferry.controller.ControllerMain \
    --admin 127.0.0.1:7360 --lease-ttl 10
}

# controller_kill_restart <tag>: kills the controller with SIGKILL (no lease revoked, no write
# finished) and starts a new one, logging to controller-<tag>.log; teardown kills it from $RUN/pids.
controller_kill_restart() {
  pkill -KILL -f 'io[.]ferry[.]controller[.]ControllerMain' || die "no controller to kill"
  sleep 1
  controller_up "$RUN/controller-$1.log"
}

# csi_kill_restart <guest>: kills the guest's CSI node plugin with SIGKILL and starts it again, then
# waits until it answers.
csi_kill_restart() {
  gexec "$1" 60 "pkill -KILL -f 'io[.]ferry[.]csi[.]CsiMain'; sleep 1
    setsid nohup bash /testbed/guests/$1/csi-start.sh >/dev/null 2>&1 </dev/null &
    echo restarted" >/dev/null || die "$1: restarting the CSI plugin failed"
  csi_wait "$1" 240 || die "$1: the restarted CSI plugin did not answer"
}

# Writes the guest's boot script (run by stage 2 before it serves commands): starts the agent.
write_boot_script() {
  local n="$1" gdir="$RUN/guests/$1"
  mkdir -p "$gdir/cmd"
  cat >"$gdir/boot.sh" <<BOOT
# Written by the testbed host for $n. Starts the Ferry agent in the background.
mkdir -p /var/lib/ferry
cat >/testbed/guests/$n/agent-start.sh <<'AGENT'
export FERRY_ETCD_ENDPOINTS=http://$TB_HOST_IP:2379 DM_DISABLE_UDEV=1
exec setsid $(java_bin) -Xmx384m -XX:TieredStopAtLevel=1 -cp '$(ferry_cp)' io.ferry.agent.AgentMain \\
  --node=$n --data-address=$(guest_ip "$n") --labels=zone=z1,rack=r${n#node-} \\
  --state-dir=/var/lib/ferry --nvmet-root=/sys/kernel/config/nvmet --admin=127.0.0.1:9091 \\
  >>/testbed/guests/$n/agent.log 2>&1 </dev/null
AGENT
bash /testbed/guests/$n/agent-start.sh &
echo \$! >/run/ferry-agent.pid
BOOT
  case " $TB_CSI_NODES " in *" $n "*) ;; *) return 0 ;; esac
  # The CSI node plugin beside the agent, on a TCP port of the guest's address: the host drives it
  # with 'ferryctl csi' (one JVM on the host per call, never one in the guest). Serial GC and the
  # client compiler keep its start cheap under TCG; it and the agent fit the guest's memory.
  cat >>"$gdir/boot.sh" <<BOOT
cat >/testbed/guests/$n/csi-start.sh <<'CSI'
export FERRY_ETCD_ENDPOINTS=http://$TB_HOST_IP:2379 DM_DISABLE_UDEV=1
exec setsid $(java_bin) -Xmx384m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp '$(ferry_cp)' io.ferry.csi.CsiMain \\
  --mode=node --node-id=$n --endpoint=tcp://0.0.0.0:$TB_CSI_PORT \\
  >>/testbed/guests/$n/csi.log 2>&1 </dev/null
CSI
bash /testbed/guests/$n/csi-start.sh &
echo \$! >/run/ferry-csi.pid
BOOT
}

guest_up() {
  local n="$1" i="${1#node-}" gdir="$RUN/guests/$1"
  mkdir -p "$RUN/disks"
  truncate -s "$TB_DISK_SIZE" "$RUN/disks/$n.img"
  truncate -s "$TB_DISK2_SIZE" "$RUN/disks/$n-b.img"
  truncate -s "$TB_DISK3_SIZE" "$RUN/disks/$n-c.img"
  truncate -s "$TB_DISK4_SIZE" "$RUN/disks/$n-d.img"
  write_boot_script "$n"
  # shellcheck disable=SC2054 # the commas belong to QEMU option values
  local args=(
    -name "$n" -nodefaults -no-reboot -uuid "$(printf '5f3e7c2a-0000-4000-8000-%012d' "$i")"
    -accel tcg,thread=multi -cpu max -smp "$TB_SMP" -m "$TB_MEM"
    -display none -monitor none -serial "file:$gdir/console.log"
    -kernel "$KERNEL" -initrd "$INITRD"
    # no_timer_check: on a loaded host, TCG can miss the kernel's early check that the timer reaches
    # the IO-APIC, and the guest panics at boot ("IO-APIC + timer doesn't work"); the check tests
    # emulated hardware we know works, so it is skipped.
    -append "console=ttyS0 panic=-1 no_timer_check loglevel=4 t.name=$n t.ip=$(guest_ip "$n")/24 t.role=storage t.stage2=$HERE/guest/stage2.sh"
    -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
    -virtfs "local,path=$RUN,mount_tag=results,security_model=none,multidevs=remap"
    -drive "file=$RUN/disks/$n.img,if=none,id=d0,format=raw,cache=unsafe"
    -device "virtio-blk-pci,drive=d0,serial=ferry-$n"
    -drive "file=$RUN/disks/$n-b.img,if=none,id=d1,format=raw,cache=unsafe"
    -device "virtio-blk-pci,drive=d1,serial=ferry-$n-b"
    -drive "file=$RUN/disks/$n-c.img,if=none,id=d2,format=raw,cache=unsafe"
    -device "virtio-blk-pci,drive=d2,serial=ferry-$n-c"
    -drive "file=$RUN/disks/$n-d.img,if=none,id=d3,format=raw,cache=unsafe"
    -device "virtio-blk-pci,drive=d3,serial=ferry-$n-d"
    -netdev "tap,id=n0,ifname=tb-tap$i,script=no,downscript=no"
    -device "virtio-net-pci,netdev=n0,mac=52:54:00:77:00:$(printf %02x "$i")"
  )
  start_bg "$gdir/qemu.log" qemu-system-x86_64 "${args[@]}"
  echo "${PIDS[-1]}" >"$gdir/qemu.pid"
}

# Waits for stage 2 of a guest. A guest whose console stays empty for TB_HANG_SECONDS (seen once
# in ~15 boots under TCG: no output at all, not even stage 1) is restarted once.
wait_booted() {
  local n="$1" gdir="$RUN/guests/$1" t=$SECONDS retried=""
  while [ ! -f "$gdir/booted" ]; do
    if [ -z "$retried" ] && ((SECONDS - t > ${TB_HANG_SECONDS:-60})) && [ ! -s "$gdir/console.log" ]; then
      log "$n: no console output after ${TB_HANG_SECONDS:-60}s, restarting its QEMU once"
      retried=yes
      kill -TERM "$(cat "$gdir/qemu.pid")" 2>/dev/null || true
      wait "$(cat "$gdir/qemu.pid")" 2>/dev/null || true
      mv "$gdir/qemu.log" "$gdir/qemu.hung.log"
      guest_up "$n"
      t=$SECONDS
    fi
    if ! kill -0 "$(cat "$gdir/qemu.pid")" 2>/dev/null; then
      if [ -z "$retried" ] && grep -q 'Kernel panic' "$gdir/console.log" 2>/dev/null; then
        # TCG on a loaded host now and then panics the guest in early boot (seen 2026-12-01: a fault
        # in sched_clock_cpu from an interrupt, a Maven build running beside the testbed). The disks
        # are untouched, so booting once more is the same test; the panic stays in console.panic.log.
        log "$n: kernel panic during boot (the emulator, not Ferry), starting its QEMU once more"
        retried=yes
        mv "$gdir/console.log" "$gdir/console.panic.log"
        mv "$gdir/qemu.log" "$gdir/qemu.panic.log"
        guest_up "$n"
        t=$SECONDS
        continue
      fi
      tail -n 30 "$gdir/console.log" "$gdir/qemu.log" >&2
      die_boot "$n: QEMU exited during boot"
    fi
    if ((SECONDS - t > TB_BOOT_TIMEOUT)); then
      tail -n 30 "$gdir/console.log" >&2
      die_boot "$n: not booted after ${TB_BOOT_TIMEOUT}s"
    fi
    sleep 1
  done
}

# gexec <guest> <timeout-seconds> <shell script text>: runs it in the guest through the command
# channel, prints its output, returns its exit status.
gexec() {
  local n="$1" timeout="$2" script="$3" gdir="$RUN/guests/$1"
  local id
  id="$(date +%s%N)"
  printf 'set -euo pipefail\n%s\n' "$script" >"$gdir/cmd/$id.tmp"
  mv "$gdir/cmd/$id.tmp" "$gdir/cmd/$id.sh"
  local t=$SECONDS
  while [ ! -f "$gdir/cmd/$id.rc" ]; do
    if ((SECONDS - t > timeout)); then
      log "$n: command $id timed out after ${timeout}s"
      return 124
    fi
    sleep 0.3
  done
  cat "$gdir/cmd/$id.out"
  return "$(cat "$gdir/cmd/$id.rc")"
}

# wait_key <key> <jq-ish grep pattern> <timeout>: waits until the key's value matches (grep -E).
wait_key() {
  local key="$1" pattern="$2" timeout="$3" t=$SECONDS v=""
  while :; do
    v="$(etcdctl_ns get --print-value-only "$key" 2>/dev/null || true)"
    if [ -n "$v" ] && grep -Eq "$pattern" <<<"$v"; then
      printf '%s\n' "$v"
      return 0
    fi
    if ((SECONDS - t > timeout)); then
      log "timeout waiting for $key to match $pattern; last value: ${v:-<none>}"
      return 1
    fi
    sleep 1
  done
}

# ferryctl_ns <ferryctl arguments...>: ferryctl on the host (inside the namespace) against the
# testbed's etcd, from the jars like csi() below; prints its output, returns its exit status.
ferryctl_ns() {
  in_ns env FERRY_ETCD_ENDPOINTS="$ETCD_LOCAL" "$(java_bin)" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "$(ferry_cp)" \
    io.ferry.tools.cli.FerryCtl "$@"
}

# wait_volume <vol> <timeout> --for created|grown --size S|served --node N: waits with Ferry's own
# evaluator (io.ferry.model.VolumeProgress, as the CSI plugin does) and prints the volume's status
# as JSON. A failure Ferry already knows (no pool fits, the node cannot export, the volume lost)
# ends it at once with ferryctl's exit code (1 or 7, docs/ferryctl.md); no outcome in time is 5.
wait_volume() {
  local vol="$1" timeout="$2" rc=0; shift 2
  ferryctl_ns volume wait "$vol" --timeout "$timeout" -o json "$@" || rc=$?
  [ "$rc" = 0 ] || log "ferryctl volume wait $vol $* ended with exit code $rc"
  return "$rc"
}

# Prints the tails of every log, for a failing scenario, after naming any process of the harness
# that died under it (once seen: etcd killed with SIGKILL from outside the testbed mid-run).
dump_logs() {
  local f i
  for i in "${!PIDS[@]}"; do
    kill -0 "${PIDS[i]}" 2>/dev/null && continue
    # A guest powered off and booted again on purpose (scenario 6) has a new QEMU.
    f="$(dirname "${PID_LOGS[i]}")/qemu.pid"
    if [ "$(basename "${PID_LOGS[i]}")" = qemu.log ] && [ "$(cat "$f" 2>/dev/null)" != "${PIDS[i]}" ]; then continue; fi
    echo "----- process ${PIDS[i]} ($(basename "${PID_LOGS[i]}" .log)) is no longer running" >&2
  done
  for f in "$RUN/controller.log" "$RUN"/guests/*/agent.log "$RUN"/guests/*/csi.log "$RUN"/guests/*/console.log; do
    [ -f "$f" ] || continue
    echo "----- tail $f" >&2
    tail -n 25 "$f" >&2
  done
}

cluster_up() {
  local count="$1" i
  for i in $(seq 1 "$count"); do GUESTS+=("node-$i"); done
  local t=$SECONDS
  net_up
  etcd_up
  controller_up
  for i in "${GUESTS[@]}"; do guest_up "$i"; done
  log "booting ${GUESTS[*]}"
  for i in "${GUESTS[@]}"; do wait_booted "$i"; done
  timing "boot ${#GUESTS[@]} guest(s) to stage 2" $((SECONDS - t))
  for i in "${GUESTS[@]}"; do
    wait_key "/ferry/nodes/$i/registration" '"' "$TB_START_TIMEOUT" >/dev/null || { dump_logs; die "$i: agent did not register"; }
  done
  timing "cluster up, agents registered" $((SECONDS - t))
  for i in "${GUESTS[@]}"; do
    case " $TB_CSI_NODES " in *" $i "*) csi_wait "$i" "$TB_START_TIMEOUT" || { dump_logs; die "$i: the CSI plugin did not answer"; } ;; esac
  done
  timing "cluster up, CSI plugins ready" $((SECONDS - t))
}

# lvm_pool <node> <pool> <vg> <device> <label>: declares an LVM pool over <device> (Ferry makes the
# VG), labelled scenario=<label>, and waits until the node reports it healthy.
lvm_pool() {
  local node="$1" pool="$2" vg="$3" dev="$4" label="$5"
  etcdctl_ns put "/ferry/config/pools/$pool" \
    "{\"schemaVersion\":1,\"name\":\"$pool\",\"node\":\"$node\",\"engine\":\"lvm\",\"source\":{\"volumeGroup\":\"$vg\",\"devices\":[\"$dev\"]},\"prepare\":true,\"labels\":{\"scenario\":\"$label\"}}" >/dev/null
  wait_key "/ferry/nodes/$node/pools/$pool" '"healthy" *: *true' 240 >/dev/null || die "$label: pool $pool not healthy"
}

# lvm_loop_pool <node> <pool> <vg> <size> <label>: lvm_pool over a loop device of a sparse file of
# <size> in the guest's tmpfs.
lvm_loop_pool() {
  local node="$1" pool="$2" vg="$3" size="$4" label="$5" out
  out="$(gexec "$node" 60 "truncate -s $size /tmp/$pool.img; echo dev=\$(losetup --find --show /tmp/$pool.img)")" \
    || die "$label: no loop device on $node: $out"
  lvm_pool "$node" "$pool" "$vg" "$(sed -n 's/^dev=//p' <<<"$out")" "$label"
}

# mirror_condition <vol> <pod> <pattern> <seconds>: waits until node-1's NodeGetVolumeStats condition
# of <vol>, published in pod <pod>, matches the extended regex; prints it. Logs each new condition seen.
mirror_condition() {
  local vol="$1" pod="$2" pattern="$3" limit="$4" w=$SECONDS out seen=
  while :; do
    out="$(csi node-1 node-stats --volume-id "$vol" --volume-path "$TB_CSI_PODS/$pod/$vol" | grep '^condition' || true)"
    grep -Eq "$pattern" <<<"$out" && { printf '%s\n' "$out"; return 0; }
    [ "$out" = "$seen" ] || { seen="$out"; log "$vol: node-stats: $out"; }
    ((SECONDS - w < limit)) || { log "$vol: no condition matching '$pattern' within ${limit}s: $out"; return 1; }
    sleep 2
  done
}

# multipart_create <vol> <layout> <size> <label>: a volume of two parts in the pools labelled
# scenario=<label>, for node-1: the intent, both parts created, the parts record, the attachment to
# node-1 and both parts served there.
multipart_create() {
  local vol="$1" layout="$2" size="$3" label="$4" consumer=node-1 hostnqn p
  etcdctl_ns put "/ferry/volumes/$vol" \
    "{\"schemaVersion\":1,\"name\":\"$vol\",\"sizeBytes\":\"$size\",\"engine\":\"lvm\",\"layout\":\"$layout\",\"parts\":2,\"consumerNode\":\"$consumer\",\"fsType\":\"ext4\",\"poolSelector\":{\"scenario\":\"$label\"}}" >/dev/null
  wait_key "/ferry/parts/$vol" '"parts"' 120 || die "$label: $vol: no parts record"
  for p in 0 1; do
    wait_volume "$vol--p$p" 240 --for created >/dev/null || die "$label: part $vol--p$p not created"
  done
  hostnqn="$(etcdctl_ns get --print-value-only "/ferry/nodes/$consumer/registration" | json_get hostNqn)"
  etcdctl_ns put "/ferry/attachments/$vol/$consumer" \
    "{\"schemaVersion\":1,\"volume\":\"$vol\",\"node\":\"$consumer\",\"hostNqn\":\"$hostnqn\",\"readOnly\":false}" >/dev/null
  for p in 0 1; do
    wait_volume "$vol--p$p" 240 --for served --node "$consumer" >/dev/null || die "$label: part $vol--p$p not served to $consumer"
  done
}

# csi <guest> <ferryctl csi command> [options...]: calls the guest's CSI node plugin from the host
# (inside the namespace), prints ferryctl's output, returns its exit status.
csi() {
  local n="$1" c="$2"; shift 2
  # The jars directly, not bin/ferryctl: that one rebuilds tools/target when a source is newer,
  # which must never happen under guests running from it.
  in_ns "$(java_bin)" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "$(ferry_cp)" io.ferry.tools.cli.FerryCtl \
    csi "$c" -e "tcp://$(guest_ip "$n"):$TB_CSI_PORT" "$@"
}

# The steps of a pod's volume, the way the kubelet calls them: staging at $TB_CSI_STAGING/<vol>,
# publishing at $TB_CSI_PODS/<pod>/<vol>. The controller side (the attachment) is the scenario's.
csi_stage() { csi "$1" node-stage --volume-id "$2" --staging-path "$TB_CSI_STAGING/$2" --fs-type ext4; }
csi_publish() {
  csi "$1" node-publish --volume-id "$2" --staging-path "$TB_CSI_STAGING/$2" --target-path "$TB_CSI_PODS/$3/$2" --fs-type ext4
}
csi_unpublish() { csi "$1" node-unpublish --volume-id "$2" --target-path "$TB_CSI_PODS/$3/$2"; }
csi_unstage() { csi "$1" node-unstage --volume-id "$2" --staging-path "$TB_CSI_STAGING/$2"; }

# nvme_ctrls_text <nqn>: shell text for a guest that prints its NVMe controllers of that subsystem
# ("nvme0 live"), nothing when none is connected.
nvme_ctrls_text() {
  cat <<TEXT
for c in /sys/class/nvme/nvme*; do
  [ -e "\$c/subsysnqn" ] || continue
  [ "\$(cat "\$c/subsysnqn")" = "$1" ] && echo "\${c##*/} \$(cat "\$c/state")"
done
true
TEXT
}

# csi_wait <guest> <timeout>: waits until the guest's CSI plugin answers a probe and is ready.
csi_wait() {
  local n="$1" timeout="$2" t=$SECONDS
  until csi "$n" probe >/dev/null 2>&1; do
    if ((SECONDS - t > timeout)); then
      csi "$n" probe >&2 || true
      return 1
    fi
    sleep 2
  done
}

# guest_poweroff <guest> <timeout>: asks the guest to power off (stage 2 syncs and halts on the
# poweroff file) and waits until its QEMU is gone; kills the QEMU when it is not gone in time.
guest_poweroff() {
  local n="$1" timeout="$2" gdir="$RUN/guests/$1" pid t=$SECONDS
  pid="$(cat "$gdir/qemu.pid")"
  touch "$gdir/poweroff"
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS - t > timeout)); then
      log "$n: still running ${timeout}s after the poweroff request, killing its QEMU"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    sleep 0.5
  done
}

# guest_boot_again <guest>: boots a powered-off guest again with the same disks (guest_up only
# creates missing images; truncate to the same size keeps their contents) and waits for stage 2.
guest_boot_again() {
  local n="$1" gdir="$RUN/guests/$1" k=1
  while [ -e "$gdir/console.$k.log" ]; do k=$((k + 1)); done
  mv "$gdir/console.log" "$gdir/console.$k.log"
  rm -f "$gdir/booted" "$gdir/poweroff"
  guest_up "$n"
  wait_booted "$n"
}

# nvme_connect_text <nqn> <address> <port>: shell text for a guest that connects to the subsystem
# over NVMe/TCP with the guest's own host NQN and sets dev=/dev/nvme<X>n<Y> once the namespace's
# block device exists. The block device is found by its subsystem NQN, not by the controller's
# number: with native multipath (Debian's kernel) the namespace is named after the subsystem
# instance, which need not equal the controller's.
nvme_connect_text() {
  local nqn="$1" addr="$2" port="$3"
  cat <<TEXT
modprobe nvme-tcp
nvme connect -t tcp -a $addr -s $port -n $nqn >&2
dev=''
for i in \$(seq 1 100); do
  for b in /sys/block/nvme*n*; do
    case "\${b##*/}" in *c[0-9]*n*) continue ;; esac   # a hidden per-controller path
    if [ "\$(cat "\$b/device/subsysnqn" 2>/dev/null)" = "$nqn" ] && [ -b "/dev/\${b##*/}" ]; then dev="/dev/\${b##*/}"; fi
  done
  [ -n "\$dev" ] && break
  sleep 0.2
done
[ -n "\$dev" ] || { echo 'no block device for $nqn appeared' >&2; exit 1; }
TEXT
}

# json_get <dotted.path>: a field of the JSON document on stdin.
# The cluster id the first controller wrote; every LV Ferry makes carries it as ferry.cluster=<id>.
cluster_id() { etcdctl_ns get --print-value-only /ferry/config/cluster | json_get id; }

json_get() {
  python3 -c 'import json,sys
d=json.load(sys.stdin)
for k in sys.argv[1].split("."): d=d[k]
print(d)' "$1"
}
