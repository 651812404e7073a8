# Scenario 11 (issue #18): a remote NVMe/TCP volume keeps serving while the control plane is gone.
# A 128 MiB LVM volume on node-2 (a VG of its own on a loop device in node-2's tmpfs), consumed by
# node-1 through the CSI node service (nvme connect, ext4, mount). node-1 writes 1 MiB blocks with
# O_DIRECT and an fsync each, recording every acknowledged block's md5. Then etcd is frozen
# (SIGSTOP) for 35 s, more than three times the agents' and the controller's 10 s lease: nobody can
# renew a lease, and when etcd resumes it revokes them all at once, so every registration and the
# controller's leadership disappear together, which is the harshest form of "etcd was down".
# Meanwhile and afterwards: no write fails, writes go on during the freeze, node-2's nvmet subsystem
# and its port link stay, node-1's NVMe controller stays live and its mounts stay; after etcd
# resumes the agents register again and the volume is Ready and exported again, and every
# acknowledged block reads back with its md5. Cleans up after itself. Needs --guests 2 or more.

S11_FREEZE=35

scenario() {
  local target=node-2 consumer=node-1 pool=s11-pool vg=ferry-s11 vol=s11-vol pod=p11 t=$SECONDS
  local target_path="$TB_CSI_PODS/p11/s11-vol" out dev
  [ "${#GUESTS[@]}" -ge 2 ] || die "s11 needs --guests 2"

  log "s11: loop device over /tmp/s11.img (256 MiB, sparse) in $target, pool $pool on it"
  out="$(gexec "$target" 60 "truncate -s 256M /tmp/s11.img; echo dev=\$(losetup --find --show /tmp/s11.img)")" \
    || die "s11: no loop device: $out"
  dev="$(sed -n 's/^dev=//p' <<<"$out")"
  etcdctl_ns put "/ferry/config/pools/$pool" \
    "{\"schemaVersion\":1,\"name\":\"$pool\",\"node\":\"$target\",\"engine\":\"lvm\",\"source\":{\"volumeGroup\":\"$vg\",\"devices\":[\"$dev\"]},\"prepare\":true,\"labels\":{\"scenario\":\"s11\"}}" >/dev/null
  wait_key "/ferry/nodes/$target/pools/$pool" '"healthy" *: *true' 240 >/dev/null || die "s11: pool not healthy"
  etcdctl_ns put "/ferry/volumes/$vol" \
    "{\"schemaVersion\":1,\"name\":\"$vol\",\"sizeBytes\":\"128Mi\",\"engine\":\"lvm\",\"positionAdvice\":\"MustRemote\",\"consumerNode\":\"$consumer\",\"fsType\":\"ext4\",\"poolSelector\":{\"scenario\":\"s11\"}}" >/dev/null
  local hostnqn status nqn
  hostnqn="$(etcdctl_ns get --print-value-only "/ferry/nodes/$consumer/registration" | json_get hostNqn)"
  etcdctl_ns put "/ferry/attachments/$vol/$consumer" \
    "{\"schemaVersion\":1,\"volume\":\"$vol\",\"node\":\"$consumer\",\"hostNqn\":\"$hostnqn\",\"readOnly\":false}" >/dev/null
  status="$(wait_volume "$vol" 240 --for served --node "$consumer")" \
    || die "s11: the volume was not exported to $consumer"
  nqn="$(json_get export.nqn <<<"$status")"
  timing "s11: volume Ready and exported" $((SECONDS - t))

  csi_stage "$consumer" "$vol" || die "s11: node-stage failed"
  csi_publish "$consumer" "$vol" "$pod" || die "s11: node-publish failed"
  # The writer runs detached from the command channel; it stops when /tmp/s11.stop appears or on
  # its first failed write, which it records in /tmp/s11.err with dd's message.
  gexec "$consumer" 60 "
    rm -f /tmp/s11.stop /tmp/s11.err /tmp/s11.sums
    cat >/tmp/s11-writer.sh <<'WRITER'
i=0
while [ ! -e /tmp/s11.stop ]; do
  head -c 1048576 /dev/urandom >/tmp/s11.blk
  if ! dd if=/tmp/s11.blk of=$target_path/data bs=1M seek=\$i count=1 oflag=direct conv=notrunc,fsync status=none 2>>/tmp/s11.err; then
    echo \"write of block \$i failed at \$(date +%s)\" >>/tmp/s11.err
    break
  fi
  echo \"\$(date +%s) \$i \$(md5sum </tmp/s11.blk | cut -d' ' -f1)\" >>/tmp/s11.sums
  i=\$(( (i + 1) % 64 ))
  sleep 0.2
done
WRITER
    setsid nohup bash /tmp/s11-writer.sh >/dev/null 2>&1 </dev/null &
  " >/dev/null || die "s11: starting the writer failed"
  local k
  for k in $(seq 1 60); do
    [ "$(gexec "$consumer" 30 "if [ -f /tmp/s11.sums ]; then wc -l </tmp/s11.sums; else echo 0; fi")" -ge 5 ] && break
    sleep 1
  done
  timing "s11: staged, writer running" $((SECONDS - t))

  local etcd_pid
  etcd_pid="$(pgrep -f -- "--data-dir $RUN/etcd" | head -n 1)"
  [ -n "$etcd_pid" ] || die "s11: etcd's process not found"
  log "s11: freezing etcd (pid $etcd_pid, SIGSTOP) for ${S11_FREEZE}s"
  local frozen_at resumed_at
  frozen_at="$(date +%s)"
  kill -STOP "$etcd_pid"
  # Whatever happens below, etcd must not stay frozen for the scenarios after this one.
  trap 'kill -CONT '"$etcd_pid"' 2>/dev/null' EXIT
  sleep $((S11_FREEZE / 2))
  s11_check_serving "$target" "$consumer" "$nqn" "$target_path" "during the freeze"
  sleep $((S11_FREEZE - S11_FREEZE / 2))
  kill -CONT "$etcd_pid"
  trap - EXIT
  resumed_at="$(date +%s)"
  timing "s11: etcd resumed" $((SECONDS - t))

  # etcd revokes the expired leases within a second or two of resuming; a registration seen before
  # that would be the old one.
  sleep 5
  local n
  for n in "$target" "$consumer"; do
    wait_key "/ferry/nodes/$n/registration" '"' 180 >/dev/null || die "s11: $n did not register again after etcd resumed"
  done
  wait_key "/ferry/nodes/$target/volumes/$vol" "\"phase\" *: *\"Ready\".*\"allowedHostNqns\" *: *\\[\"$hostnqn\"\\]" 180 >/dev/null \
    || die "s11: the volume is not Ready and exported to $consumer after etcd resumed"
  timing "s11: agents registered again" $((SECONDS - t))
  # The controller's and the agents' reconciles after a mass lease revocation are where a teardown
  # would happen: give them time, then look again.
  sleep 15
  s11_check_serving "$target" "$consumer" "$nqn" "$target_path" "after etcd resumed"
  for n in "$target" "$consumer"; do
    [ -n "$(etcdctl_ns get --keys-only "/ferry/nodes/$n/registration")" ] || die "s11: $n's registration is gone again"
  done

  out="$(gexec "$consumer" 120 "
    touch /tmp/s11.stop
    sleep 1
    echo errors=\$(cat /tmp/s11.err 2>/dev/null | tr '\n' ' ')
    echo during=\$(awk -v a=$frozen_at -v b=$resumed_at '\$1 > a && \$1 < b' /tmp/s11.sums | wc -l)
    echo total=\$(wc -l </tmp/s11.sums)
    echo 3 >/proc/sys/vm/drop_caches
    bad=0
    # The last md5 recorded for each block is what the block must hold now.
    awk '{ last[\$2] = \$3 } END { for (b in last) print b, last[b] }' /tmp/s11.sums >/tmp/s11.last
    while read -r b sum; do
      got=\$(dd if=$target_path/data bs=1M skip=\$b count=1 iflag=direct status=none | md5sum | cut -d' ' -f1)
      [ \"\$got\" = \"\$sum\" ] || { echo \"block \$b: wrote \$sum, read \$got\"; bad=\$((bad + 1)); }
    done </tmp/s11.last
    echo blocks=\$(wc -l </tmp/s11.last) bad=\$bad
  ")" || die "s11: checking the writes failed: $out"
  printf '%s\n' "$out"
  grep -qx 'errors=' <<<"$out" || die "s11: a write failed: $(grep '^errors=' <<<"$out")"
  local during
  during="$(sed -n 's/^during=//p' <<<"$out")"
  [ "${during:-0}" -ge 10 ] || die "s11: only ${during:-0} writes were acknowledged while etcd was frozen"
  grep -q ' bad=0$' <<<"$out" || die "s11: acknowledged blocks read back wrong"
  timing "s11: every acknowledged block read back" $((SECONDS - t))

  csi_unpublish "$consumer" "$vol" "$pod" || die "s11: node-unpublish failed"
  csi_unstage "$consumer" "$vol" || die "s11: node-unstage failed"
  etcdctl_ns del "/ferry/attachments/$vol/$consumer" >/dev/null
  etcdctl_ns put "/ferry/volumes/$vol" \
    "{\"schemaVersion\":1,\"name\":\"$vol\",\"sizeBytes\":\"128Mi\",\"engine\":\"lvm\",\"positionAdvice\":\"MustRemote\",\"consumerNode\":\"$consumer\",\"fsType\":\"ext4\",\"poolSelector\":{\"scenario\":\"s11\"},\"deletionRequested\":true}" >/dev/null
  local w=$SECONDS
  while [ -n "$(etcdctl_ns get --keys-only "/ferry/volumes/$vol")" ]; do
    ((SECONDS - w < 180)) || die "s11: the volume was not deleted"
    sleep 1
  done
  etcdctl_ns del "/ferry/config/pools/$pool" >/dev/null
  w=$SECONDS
  while [ -n "$(etcdctl_ns get --keys-only "/ferry/nodes/$target/pools/$pool")" ]; do
    ((SECONDS - w < 60)) || die "s11: the pool status was not withdrawn"
    sleep 1
  done
  gexec "$target" 120 "vgremove -y $vg >/dev/null; pvremove -y $dev >/dev/null; losetup -d $dev; rm -f /tmp/s11.img" >/dev/null \
    || die "s11: cleanup in $target failed"
  timing "s11: total" $((SECONDS - t))
}

# s11_check_serving <target> <consumer> <nqn> <mount> <when>: node-2 still exports the subsystem on
# a port, node-1 still has a live controller for it and the volume mounted.
s11_check_serving() {
  local target="$1" consumer="$2" nqn="$3" mnt="$4" when="$5" out
  out="$(gexec "$target" 60 "
    [ -d /sys/kernel/config/nvmet/subsystems/$nqn ] && echo subsystem=yes || echo subsystem=no
    echo links=\$(ls /sys/kernel/config/nvmet/ports/*/subsystems/ 2>/dev/null | grep -cx '$nqn' || true)
  ")" || die "s11: inspecting $target $when failed: $out"
  grep -qx 'subsystem=yes' <<<"$out" || die "s11: $target's nvmet subsystem $nqn is gone $when"
  grep -qx 'links=0' <<<"$out" && die "s11: $target's subsystem $nqn is on no port $when"
  out="$(gexec "$consumer" 60 "
    echo ctrl=\$($(nvme_ctrls_text "$nqn"))
    echo mount=\$(findmnt -n -o FSTYPE $mnt || true)
    echo errors=\$(cat /tmp/s11.err 2>/dev/null | tr '\n' ' ')
  ")" || die "s11: inspecting $consumer $when failed: $out"
  grep -Eq '^ctrl=nvme[0-9]+ live$' <<<"$out" || die "s11: $consumer's NVMe controller is not live $when: $out"
  grep -qx 'mount=ext4' <<<"$out" || die "s11: $consumer's volume is not mounted $when: $out"
  grep -qx 'errors=' <<<"$out" || die "s11: a write failed $when: $out"
  log "s11: still serving $when"
}
