# Scenario 1: an LVM pool on node-1's virtio disk (prepared by the agent), a volume whose consumer
# is node-1 itself -> a local LV with Ferry's tags; mkfs, mount, write, read back by checksum.
# Sourced by ./testbed in a bash with set -euo pipefail and lib.sh loaded; defines scenario().

scenario() {
  local node=node-1 pool=s1-pool vg=ferry-s1 vol=s1-vol t=$SECONDS status dev

  log "s1: pool $pool (lvm, prepare, /dev/vda) on $node"
  etcdctl_ns put "/ferry/config/pools/$pool" \
    "{\"schemaVersion\":1,\"name\":\"$pool\",\"node\":\"$node\",\"engine\":\"lvm\",\"source\":{\"volumeGroup\":\"$vg\",\"devices\":[\"/dev/vda\"]},\"prepare\":true}" >/dev/null
  wait_key "/ferry/nodes/$node/pools/$pool" '"healthy" *: *true' 240 >/dev/null
  timing "s1: pool prepared and healthy" $((SECONDS - t))

  log "s1: volume $vol (256Mi, MustLocal on $node)"
  etcdctl_ns put "/ferry/volumes/$vol" \
    "{\"schemaVersion\":1,\"name\":\"$vol\",\"sizeBytes\":\"256Mi\",\"engine\":\"lvm\",\"positionAdvice\":\"MustLocal\",\"consumerNode\":\"$node\",\"fsType\":\"ext4\"}" >/dev/null
  status="$(wait_volume "$vol" 240 --for created)"
  timing "s1: volume Ready" $((SECONDS - t))
  log "s1: status $status"
  dev="$(sed -n 's/.*"devicePath" *: *"\([^"]*\)".*/\1/p' <<<"$status")"
  [ "$dev" = "/dev/$vg/$vol" ] || die "s1: devicePath is '$dev', expected /dev/$vg/$vol"

  log "s1: LV and tags in the guest"
  local lvs
  lvs="$(gexec "$node" 120 "lvs --reportformat json -o lv_name,vg_name,lv_tags,lv_size --units b --nosuffix $vg")"
  printf '%s\n' "$lvs"
  grep -q "\"lv_name\":\"$vol\"" <<<"${lvs// /}" || die "s1: no LV $vol in $vg"
  grep -q "ferry.volume=$vol" <<<"$lvs" || die "s1: LV $vol lacks the tag ferry.volume=$vol"
  local cid
  cid="$(cluster_id)" || die "s1: no cluster id in /ferry/config/cluster"
  grep -q "ferry.cluster=$cid" <<<"$lvs" || die "s1: LV $vol lacks the tag ferry.cluster=$cid (this cluster's id)"
  [ "$(grep -o '"lv_name"' <<<"$lvs" | wc -l)" = 1 ] || die "s1: expected exactly one LV in $vg"

  log "s1: mkfs, mount, write, read back"
  local out
  out="$(gexec "$node" 300 "
    mkfs.ext4 -q -F $dev
    mkdir -p /mnt/s1
    mount $dev /mnt/s1
    head -c 33554432 /dev/urandom >/mnt/s1/data
    a=\$(md5sum </mnt/s1/data)
    umount /mnt/s1
    echo 3 >/proc/sys/vm/drop_caches
    mount $dev /mnt/s1
    b=\$(md5sum </mnt/s1/data)
    umount /mnt/s1
    echo \"written=\$a read=\$b\"
    [ \"\$a\" = \"\$b\" ]
  ")" || die "s1: write/read back failed: $out"
  log "s1: $out"
  timing "s1: total" $((SECONDS - t))
}
