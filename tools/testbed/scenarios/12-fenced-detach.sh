# Scenario 12 (issue #15): a host that is no longer allowed on an export is cut off, not just
# refused its next connect. nvmet checks allowed_hosts only when a host connects, so the agent
# unlinks the subsystem from its port (every controller of it goes) before it removes the revoked
# host and before it allows a new one, then links it again. A 64 MiB LVM volume on node-2 (a VG on a
# loop device in node-2's tmpfs) is attached to node-1 and to a second, made-up consumer; node-1
# connects by hand (ctrl-loss-tmo 5 s) and writes pattern A, which node-2 reads from the LV. Then
# node-1's attachment is removed while the other stays, so the export lives on with only the other
# host: the agent must cut node-1's live connection. node-1 then tries to write pattern B through
# the connection it still believes in: the write must fail, and node-2's LV must still hold
# pattern A. Cleans up after itself. Needs --guests 2 or more.

scenario() {
  local target=node-2 consumer=node-1 pool=s12-pool vg=ferry-s12 vol=s12-vol t=$SECONDS out dev
  local other=node-9 other_nqn=nqn.2014-08.org.nvmexpress:uuid:12121212-3434-4565-8787-909090909090
  [ "${#GUESTS[@]}" -ge 2 ] || die "s12 needs --guests 2"

  out="$(gexec "$target" 60 "truncate -s 128M /tmp/s12.img; echo dev=\$(losetup --find --show /tmp/s12.img)")" \
    || die "s12: no loop device: $out"
  dev="$(sed -n 's/^dev=//p' <<<"$out")"
  etcdctl_ns put "/ferry/config/pools/$pool" \
    "{\"schemaVersion\":1,\"name\":\"$pool\",\"node\":\"$target\",\"engine\":\"lvm\",\"source\":{\"volumeGroup\":\"$vg\",\"devices\":[\"$dev\"]},\"prepare\":true,\"labels\":{\"scenario\":\"s12\"}}" >/dev/null
  wait_key "/ferry/nodes/$target/pools/$pool" '"healthy" *: *true' 240 >/dev/null || die "s12: pool not healthy"
  local intent="{\"schemaVersion\":1,\"name\":\"$vol\",\"sizeBytes\":\"64Mi\",\"engine\":\"lvm\",\"positionAdvice\":\"MustRemote\",\"consumerNode\":\"$consumer\",\"poolSelector\":{\"scenario\":\"s12\"}"
  etcdctl_ns put "/ferry/volumes/$vol" "$intent}" >/dev/null
  local hostnqn status nqn addr port lv
  hostnqn="$(etcdctl_ns get --print-value-only "/ferry/nodes/$consumer/registration" | json_get hostNqn)"
  etcdctl_ns put "/ferry/attachments/$vol/$consumer" \
    "{\"schemaVersion\":1,\"volume\":\"$vol\",\"node\":\"$consumer\",\"hostNqn\":\"$hostnqn\",\"readOnly\":false}" >/dev/null
  etcdctl_ns put "/ferry/attachments/$vol/$other" \
    "{\"schemaVersion\":1,\"volume\":\"$vol\",\"node\":\"$other\",\"hostNqn\":\"$other_nqn\",\"readOnly\":false}" >/dev/null
  status="$(wait_key "/ferry/nodes/$target/volumes/$vol" "\"phase\" *: *\"Ready\".*\"allowedHostNqns\" *: *\\[[^]]*\"$hostnqn\"" 240)" \
    || die "s12: the volume was not exported to $consumer"
  nqn="$(json_get export.nqn <<<"$status")"
  addr="$(json_get export.address <<<"$status")"
  port="$(json_get export.port <<<"$status")"
  lv="$(json_get devicePath <<<"$status")"
  timing "s12: exported to $consumer and $other" $((SECONDS - t))

  log "s12: $consumer connects by hand (ctrl-loss-tmo 5 s) and writes pattern A"
  out="$(gexec "$consumer" 180 "
    modprobe nvme-tcp
    nvme connect -t tcp -a $addr -s $port -n $nqn --ctrl-loss-tmo 5 >&2
    dev=''
    for i in \$(seq 1 100); do
      for b in /sys/block/nvme*n*; do
        case \"\${b##*/}\" in *c[0-9]*n*) continue ;; esac
        if [ \"\$(cat \"\$b/device/subsysnqn\" 2>/dev/null)\" = $nqn ] && [ -b \"/dev/\${b##*/}\" ]; then dev=/dev/\${b##*/}; fi
      done
      [ -n \"\$dev\" ] && break
      sleep 0.2
    done
    [ -n \"\$dev\" ] || { echo 'no block device for $nqn' >&2; exit 1; }
    head -c 1048576 /dev/urandom >/tmp/s12.a
    head -c 1048576 /dev/urandom >/tmp/s12.b
    dd if=/tmp/s12.a of=\$dev bs=1M count=1 oflag=direct conv=fsync status=none
    echo dev=\$dev
    echo a=\$(md5sum </tmp/s12.a | cut -d' ' -f1)
    echo b=\$(md5sum </tmp/s12.b | cut -d' ' -f1)
  ")" || die "s12: connecting and writing failed: $out"
  local ndev sum_a sum_b sum_lv
  ndev="$(sed -n 's/^dev=//p' <<<"$out")"
  sum_a="$(sed -n 's/^a=//p' <<<"$out")"
  sum_b="$(sed -n 's/^b=//p' <<<"$out")"
  sum_lv="$(gexec "$target" 60 "dd if=$lv bs=1M count=1 iflag=direct status=none | md5sum | cut -d' ' -f1")"
  [ -n "$sum_a" ] && [ "$sum_lv" = "$sum_a" ] || die "s12: pattern A did not reach the LV (wrote $sum_a, LV has $sum_lv): the check below would prove nothing"

  log "s12: $consumer's attachment removed; the export stays for $other only"
  etcdctl_ns del "/ferry/attachments/$vol/$consumer" >/dev/null
  wait_key "/ferry/nodes/$target/volumes/$vol" "\"allowedHostNqns\" *: *\\[\"$other_nqn\"\\]" 120 >/dev/null \
    || die "s12: the export still allows $consumer"
  timing "s12: $consumer revoked" $((SECONDS - t))

  log "s12: $consumer writes pattern B through its old connection: it must not land"
  out="$(gexec "$consumer" 120 "
    if timeout 60 dd if=/tmp/s12.b of=$ndev bs=1M count=1 oflag=direct conv=fsync status=none 2>/tmp/s12.err; then
      echo write=ok
    else
      echo write=failed \$(tail -n 1 /tmp/s12.err)
    fi
  ")" || die "s12: the write attempt could not be run: $out"
  log "s12: $out"
  sum_lv="$(gexec "$target" 60 "dd if=$lv bs=1M count=1 iflag=direct status=none | md5sum | cut -d' ' -f1")"
  [ "$sum_lv" != "$sum_b" ] || die "s12: pattern B from the revoked host reached the LV"
  [ "$sum_lv" = "$sum_a" ] || die "s12: the LV no longer holds pattern A ($sum_lv)"
  grep -q '^write=failed' <<<"$out" || die "s12: the revoked host's write was acknowledged: $out"
  gexec "$target" 60 "dmesg | grep -q 'connect by host $hostnqn for subsystem $nqn not allowed'" \
    || log "s12: (the target logged no refused reconnect from $consumer yet)"
  timing "s12: revoked host cut off" $((SECONDS - t))

  gexec "$consumer" 60 "nvme disconnect -n $nqn >/dev/null 2>&1 || true" >/dev/null
  etcdctl_ns del "/ferry/attachments/$vol/$other" >/dev/null
  etcdctl_ns put "/ferry/volumes/$vol" "$intent,\"deletionRequested\":true}" >/dev/null
  local w=$SECONDS
  while [ -n "$(etcdctl_ns get --keys-only "/ferry/volumes/$vol")" ]; do
    ((SECONDS - w < 180)) || die "s12: the volume was not deleted"
    sleep 1
  done
  etcdctl_ns del "/ferry/config/pools/$pool" >/dev/null
  w=$SECONDS
  while [ -n "$(etcdctl_ns get --keys-only "/ferry/nodes/$target/pools/$pool")" ]; do
    ((SECONDS - w < 60)) || die "s12: the pool status was not withdrawn"
    sleep 1
  done
  gexec "$target" 120 "vgremove -y $vg >/dev/null; pvremove -y $dev >/dev/null; losetup -d $dev; rm -f /tmp/s12.img" >/dev/null \
    || die "s12: cleanup in $target failed"
  timing "s12: total" $((SECONDS - t))
}
