# Scenario 3: an lvm-thin pool prepared by the agent on node-1's second disk (/dev/vdb, 1 GiB by
# default; /dev/vda belongs to scenario 1), overprovisionRatio 4. Two thin volumes of 768 MiB each
# (more than the disk together) become Ready; 32 MiB of random data on the first, a snapshot, 32 MiB
# of other data over the same blocks, then a volume created from the snapshot: it holds the data of
# the snapshot point, not the later data. Every LV carries Ferry's tags.
# Sourced by ./testbed in a bash with set -euo pipefail and lib.sh loaded; defines scenario().

scenario() {
  local node=node-1 pool=s3-pool vg=ferry-s3 tp=s3-thin t=$SECONDS
  local va=s3-a vb=s3-b snap=s3-snap clone=s3-clone

  log "s3: pool $pool (lvm-thin, prepare, /dev/vdb, overprovisionRatio 4) on $node"
  etcdctl_ns put "/ferry/config/pools/$pool" \
    "{\"schemaVersion\":1,\"name\":\"$pool\",\"node\":\"$node\",\"engine\":\"lvm-thin\",\"source\":{\"volumeGroup\":\"$vg\",\"thinPool\":\"$tp\",\"devices\":[\"/dev/vdb\"]},\"prepare\":true,\"overprovisionRatio\":4}" >/dev/null
  wait_key "/ferry/nodes/$node/pools/$pool" '"healthy" *: *true' 240 >/dev/null
  timing "s3: thin pool prepared and healthy" $((SECONDS - t))

  local v
  for v in "$va" "$vb"; do
    log "s3: thin volume $v (768Mi, MustLocal on $node)"
    etcdctl_ns put "/ferry/volumes/$v" \
      "{\"schemaVersion\":1,\"name\":\"$v\",\"sizeBytes\":\"768Mi\",\"thin\":true,\"engine\":\"lvm-thin\",\"positionAdvice\":\"MustLocal\",\"consumerNode\":\"$node\"}" >/dev/null
  done
  local status dev
  for v in "$va" "$vb"; do
    status="$(wait_volume "$v" 240 --for created)"
    dev="$(sed -n 's/.*"devicePath" *: *"\([^"]*\)".*/\1/p' <<<"$status")"
    [ "$dev" = "/dev/$vg/$v" ] || die "s3: devicePath of $v is '$dev', expected /dev/$vg/$v"
  done
  timing "s3: two thin volumes Ready" $((SECONDS - t))

  log "s3: overprovisioned: the volumes' sizes against the disk's"
  local out disk sizes
  out="$(gexec "$node" 120 "
    echo disk=\$(blockdev --getsize64 /dev/vdb)
    echo sizes=\$(( \$(blockdev --getsize64 /dev/$vg/$va) + \$(blockdev --getsize64 /dev/$vg/$vb) ))
  ")" || die "s3: blockdev failed: $out"
  disk="$(sed -n 's/^disk=//p' <<<"$out")"
  sizes="$(sed -n 's/^sizes=//p' <<<"$out")"
  log "s3: disk $disk bytes, thin volumes $sizes bytes"
  if [ -z "$disk" ] || [ -z "$sizes" ] || [ "$sizes" -le "$disk" ]; then die "s3: volumes ($sizes) do not exceed the disk ($disk)"; fi

  log "s3: 32 MiB of random data on $va"
  local sum_before sum_after
  out="$(gexec "$node" 300 "
    head -c 33554432 /dev/urandom >/tmp/s3.before
    dd if=/tmp/s3.before of=/dev/$vg/$va bs=1M oflag=direct conv=fsync status=none
    echo md5=\$(dd if=/dev/$vg/$va bs=1M count=32 iflag=direct status=none | md5sum | cut -d' ' -f1)
  ")" || die "s3: write before the snapshot failed: $out"
  sum_before="$(sed -n 's/^md5=//p' <<<"$out")"
  log "s3: md5 at the snapshot point $sum_before"

  log "s3: snapshot $snap of $va"
  etcdctl_ns put "/ferry/snapshots/$snap" \
    "{\"schemaVersion\":1,\"name\":\"$snap\",\"sourceVolume\":\"$va\"}" >/dev/null
  status="$(wait_key "/ferry/nodes/$node/snapshots/$snap" '"readyToUse" *: *true' 240)"
  timing "s3: snapshot ready" $((SECONDS - t))
  log "s3: snapshot status $status"

  log "s3: 32 MiB of other data over the same blocks of $va"
  out="$(gexec "$node" 300 "
    head -c 33554432 /dev/urandom >/tmp/s3.after
    dd if=/tmp/s3.after of=/dev/$vg/$va bs=1M oflag=direct conv=fsync status=none
    echo md5=\$(dd if=/dev/$vg/$va bs=1M count=32 iflag=direct status=none | md5sum | cut -d' ' -f1)
  ")" || die "s3: write after the snapshot failed: $out"
  sum_after="$(sed -n 's/^md5=//p' <<<"$out")"
  log "s3: md5 of $va now $sum_after"
  if [ -z "$sum_after" ] || [ "$sum_after" = "$sum_before" ]; then die "s3: the second write did not change $va"; fi

  log "s3: volume $clone from snapshot $snap"
  etcdctl_ns put "/ferry/volumes/$clone" \
    "{\"schemaVersion\":1,\"name\":\"$clone\",\"sizeBytes\":\"768Mi\",\"thin\":true,\"engine\":\"lvm-thin\",\"positionAdvice\":\"MustLocal\",\"consumerNode\":\"$node\",\"sourceSnapshot\":\"$snap\"}" >/dev/null
  status="$(wait_volume "$clone" 240 --for created)"
  timing "s3: volume from snapshot Ready" $((SECONDS - t))
  log "s3: status $status"
  dev="$(sed -n 's/.*"devicePath" *: *"\([^"]*\)".*/\1/p' <<<"$status")"
  [ "$dev" = "/dev/$vg/$clone" ] || die "s3: devicePath of $clone is '$dev', expected /dev/$vg/$clone"
  local sum_clone
  sum_clone="$(gexec "$node" 120 "echo 3 >/proc/sys/vm/drop_caches
    echo md5=\$(dd if=$dev bs=1M count=32 iflag=direct status=none | md5sum | cut -d' ' -f1)" | sed -n 's/^md5=//p')"
  log "s3: md5 of $clone $sum_clone (snapshot point $sum_before, $va now $sum_after)"
  [ "$sum_clone" = "$sum_before" ] || die "s3: $clone does not hold the data of the snapshot point"

  log "s3: LVs and tags in the guest"
  local lvs
  lvs="$(gexec "$node" 120 "lvs --reportformat json -o lv_name,vg_name,lv_tags,lv_size,pool_lv,segtype --units b --nosuffix $vg")"
  printf '%s\n' "$lvs"
  python3 -c '
import json, sys
vg, tp, vols, snap, cid = sys.argv[1], sys.argv[2], sys.argv[3].split(","), sys.argv[4], sys.argv[5]
lvs = {lv["lv_name"]: lv for lv in json.load(sys.stdin)["report"][0]["lv"]}
def tags(name): return set(filter(None, lvs[name]["lv_tags"].split(",")))
errors = []
expected = set(vols) | {"snap." + snap, tp}
for name in expected - set(lvs): errors.append("no LV " + name)
for name in set(lvs) - expected:
    if not name.startswith("["): errors.append("unexpected LV " + name)
for name in expected & set(lvs):
    if "ferry.cluster=" + cid not in tags(name): errors.append(name + " lacks ferry.cluster=" + cid)
for v in vols:
    if v in lvs:
        if "ferry.volume=" + v not in tags(v): errors.append(v + " lacks ferry.volume=" + v)
        if lvs[v]["pool_lv"] != tp: errors.append(v + " is not in thin pool " + tp)
s = "snap." + snap
if s in lvs and "ferry.snapshot=" + snap not in tags(s): errors.append(s + " lacks ferry.snapshot=" + snap)
if tp in lvs and lvs[tp]["segtype"] != "thin-pool": errors.append(tp + " is not a thin pool")
print("\n".join(errors) or "tags ok")
sys.exit(1 if errors else 0)
' "$vg" "$tp" "$va,$vb,$clone" "$snap" "$(cluster_id)" <<<"$lvs" || die "s3: LVs or tags wrong"
  timing "s3: total" $((SECONDS - t))
}
