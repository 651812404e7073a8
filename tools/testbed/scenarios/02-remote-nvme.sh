# Scenario 2: storage on node-2, consumer node-1 (node-1's disk belongs to scenario 1).
# An attachment for node-1 makes the controller add an export; the agent on node-2 exports the LV
# over nvmet/TCP allowing only node-1's host NQN. First by hand: node-1 connects with nvme-cli,
# writes random data, disconnects; node-2 reads the same bytes from the LV (md5 equal); a connect
# from node-1 with another host NQN is refused. Then through the CSI node service on node-1, as the
# kubelet would: node-stage (nvme connect, mkfs.ext4, mount), node-publish, data written through
# the mount, node-unpublish, node-unstage (the NVMe controller must be gone), node-stage and
# node-publish again, the same md5 read back, unstaged at the end. Needs --guests 2 or more.

json_get() { python3 -c 'import json,sys; d=json.load(sys.stdin)
for k in sys.argv[1].split("."): d=d[k]
print(d)' "$1"; }

scenario() {
  local target=node-2 consumer=node-1 pool=s2-pool vg=ferry-s2 vol=s2-vol t=$SECONDS
  [ "${#GUESTS[@]}" -ge 2 ] || die "s2 needs --guests 2"

  etcdctl_ns put "/ferry/config/pools/$pool" \
    "{\"schemaVersion\":1,\"name\":\"$pool\",\"node\":\"$target\",\"engine\":\"lvm\",\"source\":{\"volumeGroup\":\"$vg\",\"devices\":[\"/dev/vda\"]},\"prepare\":true}" >/dev/null
  wait_key "/ferry/nodes/$target/pools/$pool" '"healthy" *: *true' 240 >/dev/null
  etcdctl_ns put "/ferry/volumes/$vol" \
    "{\"schemaVersion\":1,\"name\":\"$vol\",\"sizeBytes\":\"128Mi\",\"engine\":\"lvm\",\"positionAdvice\":\"MustRemote\",\"consumerNode\":\"$consumer\"}" >/dev/null
  wait_volume "$vol" 240 --for created >/dev/null
  timing "s2: remote volume Ready on $target" $((SECONDS - t))

  local reg hostnqn
  reg="$(etcdctl_ns get --print-value-only "/ferry/nodes/$consumer/registration")"
  hostnqn="$(json_get hostNqn <<<"$reg")"
  log "s2: attach $vol to $consumer ($hostnqn)"
  etcdctl_ns put "/ferry/attachments/$vol/$consumer" \
    "{\"schemaVersion\":1,\"volume\":\"$vol\",\"node\":\"$consumer\",\"hostNqn\":\"$hostnqn\",\"readOnly\":false}" >/dev/null
  local status nqn addr port dev
  status="$(wait_volume "$vol" 240 --for served --node "$consumer")"
  timing "s2: export ready" $((SECONDS - t))
  log "s2: status $status"
  nqn="$(json_get export.nqn <<<"$status")"
  addr="$(json_get export.address <<<"$status")"
  port="$(json_get export.port <<<"$status")"
  dev="$(json_get devicePath <<<"$status")"

  log "s2: $consumer connects to $nqn at $addr:$port, writes 16 MiB"
  local out sum_remote sum_local
  out="$(gexec "$consumer" 300 "
    modprobe nvme-tcp
    nvme connect -t tcp -a $addr -s $port -n $nqn >&2
    ctrl=''
    for i in \$(seq 1 50); do
      for c in /sys/class/nvme/nvme*; do
        [ \"\$(cat \$c/subsysnqn 2>/dev/null)\" = $nqn ] && ctrl=\$(basename \$c)
      done
      [ -n \"\$ctrl\" ] && ls /dev/\${ctrl}n1 >/dev/null 2>&1 && break
      sleep 0.2
    done
    [ -n \"\$ctrl\" ] || { echo 'no controller for $nqn' >&2; exit 1; }
    head -c 16777216 /dev/urandom >/tmp/s2.data
    dd if=/tmp/s2.data of=/dev/\${ctrl}n1 bs=1M oflag=direct status=none
    sum=\$(dd if=/dev/\${ctrl}n1 bs=1M count=16 iflag=direct status=none | md5sum | cut -d' ' -f1)
    nvme disconnect -n $nqn
    echo md5=\$sum
  ")" || die "s2: remote write failed: $out"
  sum_remote="$(sed -n 's/^md5=//p' <<<"$out")"
  sum_local="$(gexec "$target" 120 "echo md5=\$(dd if=$dev bs=1M count=16 iflag=direct status=none | md5sum | cut -d' ' -f1)" | sed -n 's/^md5=//p')"
  log "s2: md5 written on $consumer=$sum_remote, read on $target=$sum_local"
  if [ -z "$sum_remote" ] || [ "$sum_remote" != "$sum_local" ]; then die "s2: data differs"; fi

  log "s2: a connect with another host NQN must be refused"
  if out="$(gexec "$consumer" 120 "nvme connect -t tcp -a $addr -s $port -n $nqn --hostnqn nqn.2014-08.org.nvmexpress:uuid:11111111-2222-4333-8444-555555555555 2>&1")"; then
    die "s2: connect with a foreign host NQN succeeded: $out"
  fi
  log "s2: refused: $(tail -n 1 <<<"$out")"
  # The refusal must come from the target's host check, not from anything else on the way.
  gexec "$target" 60 "dmesg | grep 'nvmet: connect by host nqn.2014-08.org.nvmexpress:uuid:11111111-2222-4333-8444-555555555555 for subsystem $nqn not allowed'" \
    || die "s2: the target's kernel did not log the refused host"
  timing "s2: raw NVMe/TCP checks done" $((SECONDS - t))

  # The attachment is what ControllerPublishVolume writes; the node service reads the placement
  # and the export from etcd, as the CSI node plugin does for the kubelet.
  local staging="$TB_CSI_STAGING/$vol" target="$TB_CSI_PODS/p2/$vol" sum_csi sum_again
  log "s2: CSI node-stage of $vol on $consumer (nvme connect, mkfs.ext4, mount), node-publish"
  csi_stage "$consumer" "$vol" || die "s2: node-stage failed"
  csi_publish "$consumer" "$vol" p2 || die "s2: node-publish failed"
  timing "s2: staged and published through CSI" $((SECONDS - t))
  out="$(gexec "$consumer" 300 "
    echo staging=\$(findmnt -n -o SOURCE,FSTYPE $staging)
    echo target=\$(findmnt -n -o FSTYPE $target)
    echo ctrl=\$($(nvme_ctrls_text "$nqn"))
    head -c 16777216 /dev/urandom >$target/data
    sync
    echo md5=\$(md5sum <$target/data | cut -d' ' -f1)
  ")" || die "s2: writing through the CSI mount failed: $out"
  printf '%s\n' "$out"
  grep -Eq '^staging=/dev/nvme[0-9]+n[0-9]+ ext4$' <<<"$out" || die "s2: the staging path is not an ext4 on an NVMe namespace"
  grep -q '^target=ext4$' <<<"$out" || die "s2: the target path is not mounted"
  grep -Eq '^ctrl=nvme[0-9]+ live$' <<<"$out" || die "s2: not exactly one live NVMe controller for $nqn"
  sum_csi="$(sed -n 's/^md5=//p' <<<"$out")"

  log "s2: node-unpublish, node-unstage: unmounted and disconnected"
  csi_unpublish "$consumer" "$vol" p2 || die "s2: node-unpublish failed"
  csi_unstage "$consumer" "$vol" || die "s2: node-unstage failed"
  out="$(gexec "$consumer" 60 "
    echo mounts=\$(findmnt -n -o TARGET $staging; findmnt -n -o TARGET $target; true)
    echo ctrl=\$($(nvme_ctrls_text "$nqn"))
  ")" || die "s2: inspecting $consumer failed: $out"
  printf '%s\n' "$out"
  grep -qx 'mounts=' <<<"$out" || die "s2: still mounted after node-unstage"
  grep -qx 'ctrl=' <<<"$out" || die "s2: the NVMe controller for $nqn is still there after node-unstage"

  log "s2: staged and published again: the same data"
  csi_stage "$consumer" "$vol" || die "s2: second node-stage failed"
  csi_publish "$consumer" "$vol" p2 || die "s2: second node-publish failed"
  out="$(gexec "$consumer" 300 "
    echo 3 >/proc/sys/vm/drop_caches
    echo md5=\$(md5sum <$target/data | cut -d' ' -f1)
  ")" || die "s2: reading after the second stage failed: $out"
  sum_again="$(sed -n 's/^md5=//p' <<<"$out")"
  log "s2: md5 written $sum_csi, read after re-stage $sum_again"
  if [ -z "$sum_csi" ] || [ "$sum_csi" != "$sum_again" ]; then die "s2: data differs after re-stage"; fi
  csi_unpublish "$consumer" "$vol" p2 || die "s2: node-unpublish failed"
  csi_unstage "$consumer" "$vol" || die "s2: node-unstage failed"
  timing "s2: total" $((SECONDS - t))
}
