# Scenario 4: online expansion of a mounted remote volume. Storage on node-2's second disk
# (/dev/vdb; node-2's /dev/vda belongs to scenario 2), consumer node-1. The consumer connects over
# NVMe/TCP, makes an ext4 file system, mounts it and writes data; then the intent's sizeBytes is
# raised (how a resize is asked for, docs/etcd-schema.md). The controller grows the placement, the
# agent on node-2 grows the LV and makes nvmet re-read the size (revalidate_size), the kernel
# target tells the initiator, and node-1 sees the larger namespace without reconnecting;
# resize2fs grows the mounted file system; the old data is unchanged and data beyond the old size
# can be written and read back. Needs --guests 2 or more.
#
# The consumer's part goes through the CSI node service on node-1 (the s4_consumer_* functions):
# NodeStageVolume (connect, mkfs.ext4, mount) and NodePublishVolume, NodeExpandVolume (resize2fs of
# the mounted file system), NodeUnpublishVolume and NodeUnstageVolume (unmount, disconnect).

S4_POD=p4
S4_STAGING="$TB_CSI_STAGING/s4-vol"
S4_MNT="$TB_CSI_PODS/$S4_POD/s4-vol"

# s4_consumer_stage <node> <vol>: node-stage and node-publish; prints dev=<the staged device>.
s4_consumer_stage() {
  csi_stage "$1" "$2" >&2 && csi_publish "$1" "$2" "$S4_POD" >&2 || return 1
  gexec "$1" 60 "echo dev=\$(findmnt -n -o SOURCE $S4_STAGING)"
}

# s4_consumer_expand <node> <vol> <bytes>: waits until the namespace shows the new size (the
# target's namespace-changed event, no reconnect, no manual rescan), then NodeExpandVolume grows
# the mounted file system; prints size=<bytes> and capacity=<what NodeExpandVolume reports>.
s4_consumer_expand() {
  gexec "$1" 300 "
    dev=\$(findmnt -n -o SOURCE $S4_STAGING)
    for i in \$(seq 1 150); do
      [ \"\$(blockdev --getsize64 \$dev)\" = $3 ] && break
      sleep 0.4
    done
    echo size=\$(blockdev --getsize64 \$dev)
    [ \"\$(blockdev --getsize64 \$dev)\" = $3 ] || { echo \"\$dev did not grow to $3 bytes\" >&2; exit 1; }
  " || return 1
  local json
  json="$(csi "$1" node-expand --volume-id "$2" --volume-path "$S4_MNT" --staging-path "$S4_STAGING" \
    --required-bytes "$3" -o json)" || return 1
  echo "capacity=$(json_get capacityBytes <<<"$json")"
}

# s4_consumer_unstage <node> <vol> <nqn>: node-unpublish and node-unstage; then nothing is mounted
# and no NVMe controller of the subsystem is left.
s4_consumer_unstage() {
  csi_unpublish "$1" "$2" "$S4_POD" >&2 && csi_unstage "$1" "$2" >&2 || return 1
  gexec "$1" 60 "
    if findmnt $S4_STAGING >/dev/null || findmnt $S4_MNT >/dev/null; then echo 'still mounted' >&2; exit 1; fi
    ctrls=\$($(nvme_ctrls_text "$3"))
    [ -z \"\$ctrls\" ] || { echo \"still connected: \$ctrls\" >&2; exit 1; }
  "
}

# fs_bytes <node>: size of the mounted file system in bytes (df).
s4_fs_bytes() {
  gexec "$1" 60 "df -B1 --output=size $S4_MNT | tail -n 1 | tr -d ' '"
}

scenario() {
  local target=node-2 consumer=node-1 pool=s4-pool vg=ferry-s4 vol=s4-vol t=$SECONDS
  local small=268435456 big=536870912
  [ "${#GUESTS[@]}" -ge 2 ] || die "s4 needs --guests 2"

  log "s4: pool $pool (lvm, prepare, /dev/vdb) on $target, volume $vol (256Mi, MustRemote for $consumer)"
  etcdctl_ns put "/ferry/config/pools/$pool" \
    "{\"schemaVersion\":1,\"name\":\"$pool\",\"node\":\"$target\",\"engine\":\"lvm\",\"source\":{\"volumeGroup\":\"$vg\",\"devices\":[\"/dev/vdb\"]},\"prepare\":true}" >/dev/null
  wait_key "/ferry/nodes/$target/pools/$pool" '"healthy" *: *true' 240 >/dev/null
  local intent="{\"schemaVersion\":1,\"name\":\"$vol\",\"sizeBytes\":\"256Mi\",\"engine\":\"lvm\",\"positionAdvice\":\"MustRemote\",\"consumerNode\":\"$consumer\",\"fsType\":\"ext4\"}"
  etcdctl_ns put "/ferry/volumes/$vol" "$intent" >/dev/null
  local hostnqn
  hostnqn="$(etcdctl_ns get --print-value-only "/ferry/nodes/$consumer/registration" | json_get hostNqn)"
  etcdctl_ns put "/ferry/attachments/$vol/$consumer" \
    "{\"schemaVersion\":1,\"volume\":\"$vol\",\"node\":\"$consumer\",\"hostNqn\":\"$hostnqn\",\"readOnly\":false}" >/dev/null
  local status nqn addr port gen
  status="$(wait_volume "$vol" 240 --for served --node "$consumer")"
  timing "s4: volume Ready and exported" $((SECONDS - t))
  log "s4: status $status"
  nqn="$(json_get export.nqn <<<"$status")"
  addr="$(json_get export.address <<<"$status")"
  port="$(json_get export.port <<<"$status")"
  gen="$(json_get observedGeneration <<<"$status")"
  [ "$(json_get sizeBytes <<<"$status")" = "$small" ] || die "s4: volume is not $small bytes"

  log "s4: $consumer stages it (connect, mkfs.ext4, mount) and writes 64 MiB"
  local out before_fs
  out="$(s4_consumer_stage "$consumer" "$vol")" || die "s4: staging failed: $out"
  log "s4: $(grep '^dev=' <<<"$out")"
  out="$(gexec "$consumer" 300 "
    head -c 67108864 /dev/urandom >$S4_MNT/old
    sync
    echo md5=\$(md5sum <$S4_MNT/old | cut -d' ' -f1)
  ")" || die "s4: first write failed: $out"
  local sum_old
  sum_old="$(sed -n 's/^md5=//p' <<<"$out")"
  before_fs="$(s4_fs_bytes "$consumer")"
  log "s4: old data md5 $sum_old, file system $before_fs bytes"
  timing "s4: staged and written" $((SECONDS - t))

  log "s4: intent sizeBytes 256Mi -> 512Mi"
  etcdctl_ns put "/ferry/volumes/$vol" "${intent/\"256Mi\"/\"512Mi\"}" >/dev/null
  status="$(wait_volume "$vol" 240 --for grown --size "$big")"
  timing "s4: volume grown on $target" $((SECONDS - t))
  log "s4: status $status"
  [ "$(json_get observedGeneration <<<"$status")" -gt "$gen" ] || die "s4: observedGeneration did not advance"
  local lvs
  lvs="$(gexec "$target" 120 "lvs --reportformat json -o lv_name,lv_size,lv_tags --units b --nosuffix $vg")"
  python3 -c '
import json, sys
lvs = json.load(sys.stdin)["report"][0]["lv"]
ok = len(lvs) == 1 and lvs[0]["lv_name"] == sys.argv[1] and int(lvs[0]["lv_size"]) == int(sys.argv[2]) \
    and "ferry.volume=" + sys.argv[1] in lvs[0]["lv_tags"].split(",")
print("lvs:", [(lv["lv_name"], lv["lv_size"]) for lv in lvs])
sys.exit(0 if ok else 1)' "$vol" "$big" <<<"$lvs" || die "s4: the LV is not one $big-byte LV: $lvs"
  grep -q "volume $vol: nvmet namespace revalidated at $big bytes" "$RUN/guests/$target/agent.log" \
    || die "s4: the agent did not revalidate the nvmet namespace"

  log "s4: $consumer sees the new size and grows the mounted file system"
  out="$(s4_consumer_expand "$consumer" "$vol" "$big")" || die "s4: expansion on the consumer failed: $out"
  log "s4: $(grep '^size=' <<<"$out"), NodeExpandVolume: $(grep '^capacity=' <<<"$out")"
  grep -qx "capacity=$big" <<<"$out" || die "s4: NodeExpandVolume did not report $big bytes"
  local after_fs
  after_fs="$(s4_fs_bytes "$consumer")"
  log "s4: file system $before_fs -> $after_fs bytes"
  ((after_fs > before_fs + 200 * 1048576)) || die "s4: the file system did not grow (df: $before_fs -> $after_fs)"
  timing "s4: consumer sees and uses the new size" $((SECONDS - t))

  log "s4: old data unchanged; 192 MiB more (64 + 192 MiB do not fit the old file system), unstage, stage again, compare"
  out="$(gexec "$consumer" 600 "
    echo 3 >/proc/sys/vm/drop_caches
    echo old=\$(md5sum <$S4_MNT/old | cut -d' ' -f1)
    echo new=\$(head -c 201326592 /dev/urandom | tee $S4_MNT/new | md5sum | cut -d' ' -f1)
    sync
  ")" || die "s4: writing beyond the old size failed: $out"
  printf '%s\n' "$out"
  [ "$(sed -n 's/^old=//p' <<<"$out")" = "$sum_old" ] || die "s4: the old data changed after the expansion"
  local sum_new
  sum_new="$(sed -n 's/^new=//p' <<<"$out")"
  out="$(s4_consumer_unstage "$consumer" "$vol" "$nqn")" || die "s4: unstage failed: $out"
  out="$(s4_consumer_stage "$consumer" "$vol")" || die "s4: staging again failed: $out"
  out="$(gexec "$consumer" 600 "
    echo old2=\$(md5sum <$S4_MNT/old | cut -d' ' -f1)
    echo new2=\$(md5sum <$S4_MNT/new | cut -d' ' -f1)
  ")" || die "s4: reading after staging again failed: $out"
  printf '%s\n' "$out"
  [ "$(sed -n 's/^old2=//p' <<<"$out")" = "$sum_old" ] || die "s4: the old data changed after staging again"
  [ "$(sed -n 's/^new2=//p' <<<"$out")" = "$sum_new" ] || die "s4: the new data changed after staging again"

  out="$(s4_consumer_unstage "$consumer" "$vol" "$nqn")" || die "s4: unstage failed: $out"
  timing "s4: total" $((SECONDS - t))
}
