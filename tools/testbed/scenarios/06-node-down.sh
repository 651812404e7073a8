# Scenario 6: a storage node powered off under a staged volume, and booted again. Storage on
# node-2's third disk (/dev/vdc, free until now), consumer node-1 through the CSI node service.
# While node-2 is off: its registration expires (lease), the controller reports the volume
# unreachable, node-stats on node-1 reports the volume abnormal with a message, and a new volume
# that can only go to node-2 is not placed (NoFit, "node down"). node-2 then boots again with the
# same disks: the agent activates the LV again (no udev in the guest) and exports it again, the
# node re-registers, the volume is reachable, node-1's NVMe controller reconnects by itself (the
# node service connects with a ctrl-loss-tmo of 600 s) and finds the same namespace (the agent
# gives it a UUID derived from the NQN; a random one made the host drop it), node-stats is normal
# again, the data written before the power-off reads back with the same md5, and new writes work.
# Needs --guests 2 or more.

scenario() {
  local target=node-2 consumer=node-1 pool=s6-pool vg=ferry-s6 vol=s6-vol probe=s6-probe t=$SECONDS
  local pod=p6 target_path="$TB_CSI_PODS/p6/s6-vol"
  [ "${#GUESTS[@]}" -ge 2 ] || die "s6 needs --guests 2"

  # The pool selector keeps the volume on this scenario's disk (MustRemote alone lets the scheduler
  # pick any pool of node-2, e.g. scenario 4's).
  log "s6: pool $pool (lvm, prepare, /dev/vdc) on $target, volume $vol (128Mi, MustRemote for $consumer, in $pool)"
  etcdctl_ns put "/ferry/config/pools/$pool" \
    "{\"schemaVersion\":1,\"name\":\"$pool\",\"node\":\"$target\",\"engine\":\"lvm\",\"source\":{\"volumeGroup\":\"$vg\",\"devices\":[\"/dev/vdc\"]},\"prepare\":true,\"labels\":{\"scenario\":\"s6\"}}" >/dev/null
  wait_key "/ferry/nodes/$target/pools/$pool" '"healthy" *: *true' 240 >/dev/null
  etcdctl_ns put "/ferry/volumes/$vol" \
    "{\"schemaVersion\":1,\"name\":\"$vol\",\"sizeBytes\":\"128Mi\",\"engine\":\"lvm\",\"positionAdvice\":\"MustRemote\",\"consumerNode\":\"$consumer\",\"fsType\":\"ext4\",\"poolSelector\":{\"scenario\":\"s6\"}}" >/dev/null
  local hostnqn status nqn
  hostnqn="$(etcdctl_ns get --print-value-only "/ferry/nodes/$consumer/registration" | json_get hostNqn)"
  etcdctl_ns put "/ferry/attachments/$vol/$consumer" \
    "{\"schemaVersion\":1,\"volume\":\"$vol\",\"node\":\"$consumer\",\"hostNqn\":\"$hostnqn\",\"readOnly\":false}" >/dev/null
  status="$(wait_volume "$vol" 240 --for served --node "$consumer")"
  nqn="$(json_get export.nqn <<<"$status")"
  timing "s6: volume Ready and exported" $((SECONDS - t))

  log "s6: $consumer stages and publishes it through CSI, writes 16 MiB"
  csi_stage "$consumer" "$vol" || die "s6: node-stage failed"
  csi_publish "$consumer" "$vol" "$pod" || die "s6: node-publish failed"
  local out sum
  out="$(gexec "$consumer" 300 "
    head -c 16777216 /dev/urandom >$target_path/data
    sync
    echo md5=\$(md5sum <$target_path/data | cut -d' ' -f1)
  ")" || die "s6: writing failed: $out"
  sum="$(sed -n 's/^md5=//p' <<<"$out")"
  [ -n "$sum" ] || die "s6: no md5: $out"
  out="$(csi "$consumer" node-stats --volume-id "$vol" --volume-path "$target_path")" || die "s6: node-stats failed: $out"
  log "s6: node-stats before: $(grep '^condition' <<<"$out")"
  grep -q '^condition: normal' <<<"$out" || die "s6: the condition is not normal before the power-off"
  timing "s6: staged and written" $((SECONDS - t))

  # node-1's kernel log so far, to tell its messages from the ones about to come.
  local base
  base="$(gexec "$consumer" 60 "dmesg | wc -l")" || die "s6: dmesg on $consumer failed"
  log "s6: powering $target off"
  guest_poweroff "$target" 120
  timing "s6: $target powered off" $((SECONDS - t))

  log "s6: $target's registration must expire, the volume become unreachable"
  local k
  for k in $(seq 1 90); do
    [ -z "$(etcdctl_ns get --print-value-only "/ferry/nodes/$target/registration")" ] && break
    sleep 1
  done
  [ -z "$(etcdctl_ns get --print-value-only "/ferry/nodes/$target/registration")" ] || die "s6: $target is still registered"
  status="$(wait_key "/ferry/controller/volumes/$vol" '"reachable" *: *false' 60)" || die "s6: the volume is not reported unreachable"
  log "s6: scheduling $status"
  timing "s6: node down and volume unreachable" $((SECONDS - t))

  out="$(csi "$consumer" node-stats --volume-id "$vol" --volume-path "$target_path" -o json)" || die "s6: node-stats failed: $out"
  log "s6: node-stats while $target is off: $out"
  python3 -c '
import json, sys
c = json.load(sys.stdin).get("condition") or {}
sys.exit(0 if c.get("abnormal") is True and c.get("message") else 1)' <<<"$out" \
    || die "s6: node-stats does not report the volume abnormal with a message"

  log "s6: a volume that only $target could take ($probe, MustRemote for node-1) must not be placed there"
  etcdctl_ns put "/ferry/volumes/$probe" \
    "{\"schemaVersion\":1,\"name\":\"$probe\",\"sizeBytes\":\"64Mi\",\"engine\":\"lvm\",\"positionAdvice\":\"MustRemote\",\"consumerNode\":\"$consumer\"}" >/dev/null
  status="$(wait_key "/ferry/controller/volumes/$probe" '"phase" *: *"(NoFit|Placed)"' 60)" || die "s6: no scheduling decision for $probe"
  log "s6: $probe: $status"
  [ "$(json_get phase <<<"$status")" = NoFit ] || die "s6: $probe was placed while $target is down"
  grep -q 'node down' <<<"$status" || die "s6: the NoFit of $probe does not name the node down"
  # Deleted before node-2 returns: it would be placed there at once, and this scenario is about $vol.
  etcdctl_ns put "/ferry/volumes/$probe" \
    "{\"schemaVersion\":1,\"name\":\"$probe\",\"sizeBytes\":\"64Mi\",\"engine\":\"lvm\",\"positionAdvice\":\"MustRemote\",\"consumerNode\":\"$consumer\",\"deletionRequested\":true}" >/dev/null
  for k in $(seq 1 60); do
    [ -z "$(etcdctl_ns get --print-value-only "/ferry/volumes/$probe")" ] && break
    sleep 1
  done
  [ -z "$(etcdctl_ns get --print-value-only "/ferry/volumes/$probe")" ] || die "s6: $probe was not deleted"

  log "s6: booting $target again with the same disks"
  guest_boot_again "$target"
  timing "s6: $target booted again" $((SECONDS - t))
  wait_key "/ferry/nodes/$target/registration" '"' "$TB_START_TIMEOUT" >/dev/null || die "s6: $target did not register again"
  timing "s6: $target registered again" $((SECONDS - t))
  status="$(wait_key "/ferry/controller/volumes/$vol" '"reachable" *: *true' 120)" || die "s6: the volume is not reachable again"
  status="$(wait_key "/ferry/nodes/$target/volumes/$vol" "\"phase\" *: *\"Ready\".*\"allowedHostNqns\" *: *\\[\"$hostnqn\"\\]" 240)" \
    || die "s6: the volume is not Ready and exported again"
  log "s6: status $status"
  # The status in etcd still says Ready and exported from before the power-off (it is not
  # lease-bound); only the kernel state on node-2 tells that the agent has done its work again.
  out="$(gexec "$target" 300 "
    for i in \$(seq 1 200); do
      lvs --noheadings -o lv_attr $vg/$vol 2>/dev/null | grep -q '^ *-wi-a' && [ -e /sys/kernel/config/nvmet/subsystems/$nqn/namespaces/1/enable ] \\
        && [ \"\$(cat /sys/kernel/config/nvmet/subsystems/$nqn/namespaces/1/enable)\" = 1 ] \\
        && [ -n \"\$(ls /sys/kernel/config/nvmet/ports/*/subsystems/ | grep -x $nqn)\" ] && break
      sleep 1
    done
    lvs --noheadings -o lv_name,lv_attr,lv_tags $vg
    echo subsystems: \$(ls /sys/kernel/config/nvmet/subsystems)
    echo links: \$(ls /sys/kernel/config/nvmet/ports/*/subsystems/)
    echo device: \$(cat /sys/kernel/config/nvmet/subsystems/$nqn/namespaces/1/device_path 2>/dev/null)
  ")" || die "s6: inspecting $target failed: $out"
  log "s6: on $target: $(tr '\n' ' ' <<<"$out")"
  grep -Eq "^ *$vol +-wi-a" <<<"$out" || die "s6: the LV $vg/$vol is not active on $target"
  grep -Eq "^subsystems: .*$nqn" <<<"$out" || die "s6: no nvmet subsystem $nqn on $target"
  grep -Eq "^links: .*$nqn" <<<"$out" || die "s6: $nqn is not linked to a port on $target"
  grep -qx "device: /dev/$vg/$vol" <<<"$out" || die "s6: the namespace is not on /dev/$vg/$vol"
  timing "s6: volume Ready and exported again" $((SECONDS - t))

  log "s6: $consumer's NVMe controller reconnects by itself; the data reads back"
  out="$(gexec "$consumer" 300 "
    ctrls() {
      $(nvme_ctrls_text "$nqn")
    }
    for i in \$(seq 1 150); do
      case \"\$(ctrls)\" in *' live') break ;; esac
      sleep 1
    done
    echo ctrl=\$(ctrls)
    echo 3 >/proc/sys/vm/drop_caches
    echo md5=\$(md5sum <$target_path/data | cut -d' ' -f1)
    echo after=\$(head -c 1048576 /dev/urandom | tee $target_path/after | md5sum | cut -d' ' -f1)
    sync
    echo 3 >/proc/sys/vm/drop_caches
    echo after2=\$(md5sum <$target_path/after | cut -d' ' -f1)
    echo changed=\$(dmesg | tail -n +$((base + 1)) | grep -c 'identifiers changed' || true)
    echo errors=\$(dmesg | tail -n +$((base + 1)) | grep -c -e 'I/O error' -e 'Aborting journal' || true)
    dmesg | grep -i 'nvme' | tail -n 5 >&2
  ")" || die "s6: reading after the reboot failed: $out"
  printf '%s\n' "$out"
  # A namespace with new identifiers would be dropped by the host (every I/O failing) even when
  # the read happened to come from the page cache.
  grep -qx 'changed=0' <<<"$out" || die "s6: node-1 saw the namespace's identifiers change"
  grep -qx 'errors=0' <<<"$out" || die "s6: node-1 logged I/O errors on the volume"
  [ "$(sed -n 's/^after=//p' <<<"$out")" = "$(sed -n 's/^after2=//p' <<<"$out")" ] || die "s6: a write after the reconnect did not read back"
  grep -Eq '^ctrl=nvme[0-9]+ live$' <<<"$out" || die "s6: the NVMe controller for $nqn is not live again"
  [ "$(sed -n 's/^md5=//p' <<<"$out")" = "$sum" ] || die "s6: the data differs after $target's reboot"
  timing "s6: reconnected, data intact" $((SECONDS - t))

  local seen=
  for k in $(seq 1 30); do
    out="$(csi "$consumer" node-stats --volume-id "$vol" --volume-path "$target_path")" || die "s6: node-stats failed: $out"
    grep -q '^condition: normal' <<<"$out" && break
    # Each new answer once, so that a condition stuck on one reason names it in the log.
    [ "$(grep '^condition' <<<"$out")" = "$seen" ] || { seen="$(grep '^condition' <<<"$out")"; log "s6: node-stats: $seen"; }
    sleep 2
  done
  log "s6: node-stats after: $(grep '^condition' <<<"$out")"
  grep -q '^condition: normal' <<<"$out" || die "s6: the condition is not normal again: $(grep '^condition' <<<"$out")"

  csi_unpublish "$consumer" "$vol" "$pod" || die "s6: node-unpublish failed"
  csi_unstage "$consumer" "$vol" || die "s6: node-unstage failed"
  out="$(gexec "$consumer" 60 "echo ctrl=\$($(nvme_ctrls_text "$nqn"))")"
  grep -qx 'ctrl=' <<<"$out" || die "s6: still connected to $nqn after node-unstage"
  timing "s6: total" $((SECONDS - t))
}
