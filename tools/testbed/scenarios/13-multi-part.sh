# Scenario 13 (issue #17): volumes of several parts, assembled on the consumer by the CSI node
# plugin. Two 192 MiB LVM pools (VGs on loop devices in the guests' tmpfs), one on each node, carry
# the label scenario=s13. First a linear volume of 256 MiB, which no one pool can hold: the
# controller places its two segments on both nodes in one transaction; node-1 stages it (its own
# segment as the local LV, node-2's over NVMe/TCP, device-mapper linear over both, ext4), writes
# 200 MiB through the mount, which must cross into the second segment; unstage leaves no dm device
# and no NVMe controller; a second stage reads the same bytes. Deleting it removes every part's LV
# on both nodes and every key. Then a striped volume of 128 MiB, a 64 MiB stripe on each pool:
# device-mapper striped over both in 64 KiB chunks, 64 MiB written, the same bytes after a restage,
# nothing left after its deletion; grown to 160 MiB while mounted (ferryctl volume resize, then
# NodeExpandVolume: the dm table loaded with the larger stripes, ext4 grown online), data intact.
# Then a mirror of 64 MiB with its two legs on the two nodes: node-1
# assembles md RAID1 (array UUID from the controller), writes 32 MiB, waits for the resync; both
# legs' data areas are then byte for byte equal (read on each node from its own LV, past the 4 MiB
# md reserves); unstage stops the array; restage reads the same bytes; grown to 96 MiB while mounted
# (both legs, then mdadm --grow, then ext4; the bitmap kept), the data intact; delete leaves nothing.
# Needs --guests 2 or more. Runs before 15 and 16: they leave nvmet host entries of node-1 with
# DH-HMAC-CHAP keys, which still demand authentication after nvmeAuth is turned off again.

# Shell text for node-1: the staging mount's device, its filesystem, and how many devices it is built on.
s13_staged_text() {
  cat <<TEXT
src=\$(findmnt -n -o SOURCE $1)
echo staging=\$src \$(findmnt -n -o FSTYPE $1)
# By device number: without udev, /dev/mapper/<name> is a node of its own, not a link to dm-N.
sys=/sys/dev/block/\$((0x\$(stat -L -c %t "\$src"))):\$((0x\$(stat -L -c %T "\$src")))
echo slaves=\$(ls \$sys/slaves | wc -l) kind=\$(cat \$sys/dm/name 2>/dev/null || cat \$sys/md/level 2>/dev/null)
TEXT
}

s13_delete() {
  local vol="$1" v
  v="$(etcdctl_ns get --print-value-only "/ferry/volumes/$vol")"
  etcdctl_ns put "/ferry/volumes/$vol" "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["deletionRequested"]=True; print(json.dumps(d))' "$v")" >/dev/null
  local t=$SECONDS
  while [ -n "$(etcdctl_ns get --prefix --keys-only /ferry/volumes/ | grep -E "/$vol(--p[0-9]+)?\$" || true)" ] \
      || [ -n "$(etcdctl_ns get --keys-only "/ferry/parts/$vol")" ]; do
    ((SECONDS - t < 240)) || die "s13: $vol still has keys 240 s after its deletion was asked: $(etcdctl_ns get --prefix --keys-only /ferry | grep -- "$vol")"
    sleep 2
  done
  local left
  # Lifecycle events outlive the volume on purpose (they expire by their lease); nothing else may.
  left="$(etcdctl_ns get --prefix --keys-only /ferry | grep -v '^/ferry/events/' | grep -- "/$vol" || true)"
  [ -z "$left" ] || die "s13: keys of $vol left after its deletion: $left"
  for n in node-1 node-2; do
    out="$(gexec "$n" 60 "lvs --noheadings -o lv_name ferry-s13-${n#node-} 2>&1 || true")"
    if grep -q -- "$vol" <<<"$out"; then die "s13: an LV of $vol is left on $n: $out"; fi
  done
}

# s13_grow <vol> <size> <bytes> <staging> <target>: `ferryctl volume resize` grows every part (and
# waits until each reports its new size), then NodeExpandVolume on node-1 grows the assembled device
# and its ext4. Prints NodeExpandVolume's capacity, the device's and the filesystem's sizes, and the
# md bitmap's location (none for a device-mapper device).
s13_grow() {
  local vol="$1" size="$2" bytes="$3" staging="$4" target="$5" out json
  out="$(ferryctl_ns volume resize "$vol" --size "$size" 2>&1)" || { printf '%s\n' "$out" >&2; return 1; }
  log "s13: $out"
  json="$(csi node-1 node-expand --volume-id "$vol" --volume-path "$target" --staging-path "$staging" \
    --required-bytes "$bytes" -o json)" || return 1
  echo "capacity=$(json_get capacityBytes <<<"$json")"
  gexec node-1 60 "
    src=\$(findmnt -n -o SOURCE $staging)
    echo device=\$(blockdev --getsize64 \$src)
    echo fs=\$(df -B1 --output=size $target | tail -n 1 | tr -d ' ')
    echo bitmap=\$(cat /sys/block/\$(basename \$(readlink -f \$src))/md/bitmap/location 2>/dev/null || echo none)
  "
}

scenario() {
  local consumer=node-1 t=$SECONDS out sum sum2
  [ "${#GUESTS[@]}" -ge 2 ] || die "s13 needs --guests 2"
  lvm_loop_pool node-1 s13-a ferry-s13-1 192M s13
  lvm_loop_pool node-2 s13-b ferry-s13-2 192M s13
  timing "s13: two pools healthy" $((SECONDS - t))

  # --- linear ---
  local vol=s13-lin staging="$TB_CSI_STAGING/s13-lin" target="$TB_CSI_PODS/p17/s13-lin"
  log "s13: a linear volume of 256 MiB over two 192 MiB pools"
  multipart_create "$vol" linear 256Mi s13
  log "s13: parts $(etcdctl_ns get --print-value-only "/ferry/parts/$vol")"
  local nodes
  nodes="$(for p in 0 1; do etcdctl_ns get --print-value-only "/ferry/placements/$vol--p$p" | json_get node; done | sort -u | tr '\n' ' ')"
  [ "$nodes" = "node-1 node-2 " ] || die "s13: the segments are not on both nodes: $nodes"
  timing "s13: linear volume placed and served" $((SECONDS - t))
  csi_stage "$consumer" "$vol" || die "s13: node-stage of $vol failed"
  csi_publish "$consumer" "$vol" p17 || die "s13: node-publish of $vol failed"
  out="$(gexec "$consumer" 300 "
    $(s13_staged_text "$staging")
    echo size=\$(blockdev --getsize64 \$src)
    head -c 209715200 /dev/urandom >$target/data
    sync
    echo md5=\$(md5sum <$target/data | cut -d' ' -f1)
  ")" || die "s13: writing through the linear volume failed: $out"
  printf '%s\n' "$out"
  grep -q '^staging=/dev/.* ext4$' <<<"$out" || die "s13: the staging path is not an ext4"
  grep -q '^slaves=2 kind=' <<<"$out" || die "s13: the staged device is not built on two devices"
  grep -qx 'size=268435456' <<<"$out" || die "s13: the assembled device is not 256 MiB"
  sum="$(sed -n 's/^md5=//p' <<<"$out")"
  csi_unpublish "$consumer" "$vol" p17 || die "s13: node-unpublish failed"
  csi_unstage "$consumer" "$vol" || die "s13: node-unstage failed"
  out="$(gexec "$consumer" 60 "
    echo mounts=\$(findmnt -n -o TARGET $staging; true)
    echo dm=\$(dmsetup ls 2>/dev/null | grep -c -- $vol || true)
    echo nvme=\$(grep -l -- $vol /sys/class/nvme/nvme*/subsysnqn 2>/dev/null | wc -l)
  ")" || die "s13: inspecting $consumer failed: $out"
  printf '%s\n' "$out"
  grep -qx 'mounts=' <<<"$out" || die "s13: still mounted after node-unstage"
  grep -qx 'dm=0' <<<"$out" || die "s13: the dm device is still there after node-unstage"
  grep -qx 'nvme=0' <<<"$out" || die "s13: an NVMe controller of $vol is still connected after node-unstage"
  csi_stage "$consumer" "$vol" || die "s13: second node-stage of $vol failed"
  csi_publish "$consumer" "$vol" p17 || die "s13: second node-publish of $vol failed"
  sum2="$(gexec "$consumer" 300 "echo 3 >/proc/sys/vm/drop_caches; echo md5=\$(md5sum <$target/data | cut -d' ' -f1)" | sed -n 's/^md5=//p')"
  log "s13: linear md5 written $sum, read after re-stage $sum2"
  [ -n "$sum" ] && [ "$sum" = "$sum2" ] || die "s13: the linear volume's data differs after re-stage"
  csi_unpublish "$consumer" "$vol" p17 && csi_unstage "$consumer" "$vol" || die "s13: final unstage of $vol failed"
  etcdctl_ns del "/ferry/attachments/$vol/$consumer" >/dev/null
  s13_delete "$vol"
  timing "s13: linear volume checked and deleted" $((SECONDS - t))

  # --- striped ---
  vol=s13-str staging="$TB_CSI_STAGING/s13-str" target="$TB_CSI_PODS/p17/s13-str"
  log "s13: a striped volume of 128 MiB, one 64 MiB stripe on each pool"
  multipart_create "$vol" striped 128Mi s13
  nodes="$(for p in 0 1; do etcdctl_ns get --print-value-only "/ferry/placements/$vol--p$p" | json_get node; done | sort -u | tr '\n' ' ')"
  [ "$nodes" = "node-1 node-2 " ] || die "s13: the stripes are not on both nodes: $nodes"
  csi_stage "$consumer" "$vol" || die "s13: node-stage of $vol failed"
  csi_publish "$consumer" "$vol" p17 || die "s13: node-publish of $vol failed"
  out="$(gexec "$consumer" 300 "
    $(s13_staged_text "$staging")
    echo size=\$(blockdev --getsize64 \$src)
    echo table=\$(dmsetup table ferry-$vol | cut -d' ' -f3-5)
    head -c 67108864 /dev/urandom >$target/data
    sync
    echo md5=\$(md5sum <$target/data | cut -d' ' -f1)
  ")" || die "s13: writing through the striped volume failed: $out"
  printf '%s\n' "$out"
  grep -q '^staging=/dev/.* ext4$' <<<"$out" || die "s13: the striped volume's staging path is not an ext4"
  grep -q '^slaves=2 kind=' <<<"$out" || die "s13: the striped device is not built on two devices"
  grep -qx 'size=134217728' <<<"$out" || die "s13: the striped device is not 128 MiB"
  grep -qx 'table=striped 2 128' <<<"$out" || die "s13: the device is not striped over 2 devices in 64 KiB chunks"
  sum="$(sed -n 's/^md5=//p' <<<"$out")"
  csi_unpublish "$consumer" "$vol" p17 && csi_unstage "$consumer" "$vol" || die "s13: node-unstage of $vol failed"
  out="$(gexec "$consumer" 60 "echo dm=\$(dmsetup ls 2>/dev/null | grep -c -- $vol || true)")"
  grep -qx 'dm=0' <<<"$out" || die "s13: the striped dm device is still there after node-unstage"
  csi_stage "$consumer" "$vol" || die "s13: second node-stage of $vol failed"
  csi_publish "$consumer" "$vol" p17 || die "s13: second node-publish of $vol failed"
  sum2="$(gexec "$consumer" 300 "echo 3 >/proc/sys/vm/drop_caches; echo md5=\$(md5sum <$target/data | cut -d' ' -f1)" | sed -n 's/^md5=//p')"
  log "s13: striped md5 written $sum, read after re-stage $sum2"
  [ -n "$sum" ] && [ "$sum" = "$sum2" ] || die "s13: the striped volume's data differs after re-stage"
  # Grown while mounted: each stripe 64 -> 80 MiB, the dm table loaded again, ext4 grown online.
  out="$(s13_grow "$vol" 160Mi 167772160 "$staging" "$target")" || die "s13: growing the striped volume failed: $out"
  printf '%s\n' "$out"
  grep -qx 'capacity=167772160' <<<"$out" && grep -qx 'device=167772160' <<<"$out" \
    || die "s13: the striped device did not grow to 160 MiB"
  (( $(sed -n 's/^fs=//p' <<<"$out") > 134217728 )) || die "s13: the striped volume's ext4 did not grow"
  sum2="$(gexec "$consumer" 300 "echo 3 >/proc/sys/vm/drop_caches; echo md5=\$(md5sum <$target/data | cut -d' ' -f1)" | sed -n 's/^md5=//p')"
  [ "$sum" = "$sum2" ] || die "s13: the striped volume's data differs after growing"
  timing "s13: striped volume grown online" $((SECONDS - t))
  csi_unpublish "$consumer" "$vol" p17 && csi_unstage "$consumer" "$vol" || die "s13: final unstage of $vol failed"
  etcdctl_ns del "/ferry/attachments/$vol/$consumer" >/dev/null
  s13_delete "$vol"
  timing "s13: striped volume checked and deleted" $((SECONDS - t))

  # --- mirror ---
  vol=s13-mir staging="$TB_CSI_STAGING/s13-mir" target="$TB_CSI_PODS/p17/s13-mir"
  log "s13: a mirror of 64 MiB, one leg on each node"
  multipart_create "$vol" mirror 64Mi s13
  nodes="$(for p in 0 1; do etcdctl_ns get --print-value-only "/ferry/placements/$vol--p$p" | json_get node; done | sort -u | tr '\n' ' ')"
  [ "$nodes" = "node-1 node-2 " ] || die "s13: the legs are not on distinct nodes: $nodes"
  csi_stage "$consumer" "$vol" || die "s13: node-stage of $vol failed"
  csi_publish "$consumer" "$vol" p17 || die "s13: node-publish of $vol failed"
  out="$(gexec "$consumer" 300 "
    $(s13_staged_text "$staging")
    echo size=\$(blockdev --getsize64 \$src)
    head -c 33554432 /dev/urandom >$target/data
    sync
    echo md5=\$(md5sum <$target/data | cut -d' ' -f1)
    mdadm --wait \$src >/dev/null 2>&1 || true
    cat /proc/mdstat >&2
  ")" || die "s13: writing through the mirror failed: $out"
  printf '%s\n' "$out"
  grep -q '^slaves=2 kind=raid1$' <<<"$out" || die "s13: the staged device is not a RAID1 of two legs"
  grep -qx 'size=67108864' <<<"$out" || die "s13: the mirror is not 64 MiB"
  sum="$(sed -n 's/^md5=//p' <<<"$out")"
  csi_unpublish "$consumer" "$vol" p17 || die "s13: node-unpublish failed"
  csi_unstage "$consumer" "$vol" || die "s13: node-unstage failed"
  # The plugin waits for the kernel to delete the stopped array's device (it goes from a work queue);
  # an md device left after that, running or empty, is one too many.
  out="$(gexec "$consumer" 60 "
    echo md=\$(ls /sys/block | grep -c '^md' || true)
    for m in /sys/block/md*; do [ -e \$m ] && echo \$m \$(cat \$m/md/array_state 2>&1) \$(ls \$m/slaves 2>&1); done
    grep '^md' /proc/mdstat || true
  ")" || die "s13: inspecting $consumer failed: $out"
  grep -qx 'md=0' <<<"$out" || die "s13: an md device is still there after node-unstage: $out"
  # Both legs hold the same data, each read on its own node from its own LV past md's reserve.
  local legsum=()
  for p in 0 1; do
    local n lv
    n="$(etcdctl_ns get --print-value-only "/ferry/placements/$vol--p$p" | json_get node)"
    lv="$(gexec "$n" 60 "lvs --noheadings -o lv_path ferry-s13-${n#node-} | grep -- '$vol--p$p' | tr -d ' '")" || die "s13: no LV of leg $p on $n"
    legsum+=("$(gexec "$n" 120 "echo md5=\$(dd if=$lv bs=1M skip=4 count=64 iflag=direct status=none | md5sum | cut -d' ' -f1)" | sed -n 's/^md5=//p')")
  done
  log "s13: leg data md5 ${legsum[*]}"
  [ -n "${legsum[0]}" ] && [ "${legsum[0]}" = "${legsum[1]}" ] || die "s13: the legs differ after the resync"
  csi_stage "$consumer" "$vol" || die "s13: second node-stage of $vol failed"
  csi_publish "$consumer" "$vol" p17 || die "s13: second node-publish of $vol failed"
  sum2="$(gexec "$consumer" 300 "echo 3 >/proc/sys/vm/drop_caches; echo md5=\$(md5sum <$target/data | cut -d' ' -f1)" | sed -n 's/^md5=//p')"
  log "s13: mirror md5 written $sum, read after re-stage $sum2"
  [ -n "$sum" ] && [ "$sum" = "$sum2" ] || die "s13: the mirror's data differs after re-stage"
  # Grown while mounted: both legs 68 -> 100 MiB, then the array to 96 MiB, then ext4, online.
  out="$(s13_grow "$vol" 96Mi 100663296 "$staging" "$target")" || die "s13: growing the mirror failed: $out"
  printf '%s\n' "$out"
  grep -qx 'capacity=100663296' <<<"$out" && grep -qx 'device=100663296' <<<"$out" \
    || die "s13: the mirror did not grow to 96 MiB"
  (( $(sed -n 's/^fs=//p' <<<"$out") > 67108864 )) || die "s13: the mirror's ext4 did not grow"
  if grep -q '^bitmap=none$' <<<"$out"; then die "s13: the grown mirror has no write-intent bitmap"; fi
  sum2="$(gexec "$consumer" 300 "echo 3 >/proc/sys/vm/drop_caches; echo md5=\$(md5sum <$target/data | cut -d' ' -f1)" | sed -n 's/^md5=//p')"
  [ "$sum" = "$sum2" ] || die "s13: the mirror's data differs after growing"
  timing "s13: mirror grown online" $((SECONDS - t))
  csi_unpublish "$consumer" "$vol" p17 && csi_unstage "$consumer" "$vol" || die "s13: final unstage of $vol failed"
  etcdctl_ns del "/ferry/attachments/$vol/$consumer" >/dev/null
  s13_delete "$vol"
  etcdctl_ns del /ferry/config/pools/s13-a >/dev/null || true
  etcdctl_ns del /ferry/config/pools/s13-b >/dev/null || true
  timing "s13: total" $((SECONDS - t))
}
