# Scenario 6: a storage node powered off under a staged volume, and booted again. Storage on
# node-2's third disk (/dev/vdc, free until now), consumer node-1 through the CSI node service.
# While node-2 is off: its registration expires (lease), the controller reports the volume
# unreachable, node-stats on node-1 reports the volume abnormal with a message, and a new volume
# that can only go to node-2 is not placed (NoFit, "node down"). node-2 then boots again with the
# same disks: the agent activates the LV again (no udev in the guest) and exports it again, the
# node re-registers, the volume is reachable, node-1's NVMe controller reconnects by itself (the
# node service connects with a ctrl-loss-tmo of 600 s), node-stats is normal again and the data
# written before the power-off reads back with the same md5. Needs --guests 2 or more.

scenario() {
  local target=node-2 consumer=node-1 pool=s6-pool vg=ferry-s6 vol=s6-vol probe=s6-probe t=$SECONDS
  local pod=p6 target_path="$TB_CSI_PODS/p6/s6-vol"
  [ "${#GUESTS[@]}" -ge 2 ] || die "s6 needs --guests 2"

  log "s6: pool $pool (lvm, prepare, /dev/vdc) on $target, volume $vol (128Mi, MustRemote for $consumer)"
  etcdctl_ns put "/ferry/config/pools/$pool" \
    "{\"schemaVersion\":1,\"name\":\"$pool\",\"node\":\"$target\",\"engine\":\"lvm\",\"source\":{\"volumeGroup\":\"$vg\",\"devices\":[\"/dev/vdc\"]},\"prepare\":true}" >/dev/null
  wait_key "/ferry/nodes/$target/pools/$pool" '"healthy" *: *true' 240 >/dev/null
  etcdctl_ns put "/ferry/volumes/$vol" \
    "{\"schemaVersion\":1,\"name\":\"$vol\",\"sizeBytes\":\"128Mi\",\"engine\":\"lvm\",\"positionAdvice\":\"MustRemote\",\"consumerNode\":\"$consumer\",\"fsType\":\"ext4\"}" >/dev/null
  local hostnqn status nqn
  hostnqn="$(etcdctl_ns get --print-value-only "/ferry/nodes/$consumer/registration" | json_get hostNqn)"
  etcdctl_ns put "/ferry/attachments/$vol/$consumer" \
    "{\"schemaVersion\":1,\"volume\":\"$vol\",\"node\":\"$consumer\",\"hostNqn\":\"$hostnqn\",\"readOnly\":false}" >/dev/null
  status="$(wait_key "/ferry/nodes/$target/volumes/$vol" "\"phase\" *: *\"Ready\".*\"allowedHostNqns\" *: *\\[\"$hostnqn\"\\]" 240)"
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
  wait_key "/ferry/nodes/$target/registration" '"' 240 >/dev/null || die "s6: $target did not register again"
  timing "s6: $target registered again" $((SECONDS - t))
  status="$(wait_key "/ferry/controller/volumes/$vol" '"reachable" *: *true' 120)" || die "s6: the volume is not reachable again"
  status="$(wait_key "/ferry/nodes/$target/volumes/$vol" "\"phase\" *: *\"Ready\".*\"allowedHostNqns\" *: *\\[\"$hostnqn\"\\]" 240)" \
    || die "s6: the volume is not Ready and exported again"
  log "s6: status $status"
  out="$(gexec "$target" 60 "lvs --noheadings -o lv_name,lv_attr,lv_tags $vg; ls /sys/kernel/config/nvmet/subsystems")" \
    || die "s6: inspecting $target failed: $out"
  log "s6: on $target: $(tr '\n' ' ' <<<"$out")"
  grep -Eq "^ *$vol +-wi-a" <<<"$out" || die "s6: the LV $vg/$vol is not active on $target"
  grep -qx "$nqn" <<<"$out" || die "s6: no nvmet subsystem $nqn on $target"
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
    dmesg | grep -i 'nvme' | tail -n 5 >&2
  ")" || die "s6: reading after the reboot failed: $out"
  printf '%s\n' "$out"
  grep -Eq '^ctrl=nvme[0-9]+ live$' <<<"$out" || die "s6: the NVMe controller for $nqn is not live again"
  [ "$(sed -n 's/^md5=//p' <<<"$out")" = "$sum" ] || die "s6: the data differs after $target's reboot"
  timing "s6: reconnected, data intact" $((SECONDS - t))

  for k in $(seq 1 30); do
    out="$(csi "$consumer" node-stats --volume-id "$vol" --volume-path "$target_path")" || die "s6: node-stats failed: $out"
    grep -q '^condition: normal' <<<"$out" && break
    sleep 2
  done
  log "s6: node-stats after: $(grep '^condition' <<<"$out")"
  grep -q '^condition: normal' <<<"$out" || die "s6: the condition is not normal again"

  csi_unpublish "$consumer" "$vol" "$pod" || die "s6: node-unpublish failed"
  csi_unstage "$consumer" "$vol" || die "s6: node-unstage failed"
  out="$(gexec "$consumer" 60 "echo ctrl=\$($(nvme_ctrls_text "$nqn"))")"
  grep -qx 'ctrl=' <<<"$out" || die "s6: still connected to $nqn after node-unstage"
  timing "s6: total" $((SECONDS - t))
}
