# Scenario 2 (first part, without the CSI node service yet): storage on node-2, consumer node-1
# (node-1's disk belongs to scenario 1).
# An attachment for node-2 makes the controller add an export; the agent on node-1 exports the LV
# over nvmet/TCP allowing only node-1's host NQN. node-1 connects with nvme-cli, writes random
# data, disconnects; node-2 reads the same bytes from the LV (md5 equal); a connect from node-1
# with another host NQN is refused. Needs --guests 2 or more.

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
  wait_key "/ferry/nodes/$target/volumes/$vol" '"phase" *: *"Ready"' 240 >/dev/null
  timing "s2: remote volume Ready on $target" $((SECONDS - t))

  local reg hostnqn
  reg="$(etcdctl_ns get --print-value-only "/ferry/nodes/$consumer/registration")"
  hostnqn="$(json_get hostNqn <<<"$reg")"
  log "s2: attach $vol to $consumer ($hostnqn)"
  etcdctl_ns put "/ferry/attachments/$vol/$consumer" \
    "{\"schemaVersion\":1,\"volume\":\"$vol\",\"node\":\"$consumer\",\"hostNqn\":\"$hostnqn\",\"readOnly\":false}" >/dev/null
  local status nqn addr port dev
  status="$(wait_key "/ferry/nodes/$target/volumes/$vol" "\"allowedHostNqns\" *: *\\[\"$hostnqn\"\\]" 240)"
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
  timing "s2: total" $((SECONDS - t))
}
