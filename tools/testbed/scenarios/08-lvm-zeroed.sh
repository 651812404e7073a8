# Scenario 8 (issue #13): a new thick LVM volume reads zeros everywhere, even where a deleted
# volume's bytes were. On the last guest, a VG of its own on a loop device over a sparse file in the
# guest's tmpfs (every disk of the guests belongs to another scenario): a 64 MiB volume is filled
# with a non-zero pattern and deleted; the next volume of the same size lands on the same physical
# extents (checked with lvs seg_pe_ranges) and must read zeros over its whole length, well past the
# 4 KiB that 'lvcreate -Z y' clears. Then the same for growth: a 32 MiB volume on the first half of
# those (again dirtied) extents gets a pattern of its own and is grown to 64 MiB; the extents lvextend
# adds must read zeros while its own 32 MiB keep their pattern. Cleans up after itself: volumes,
# pool, VG, loop device.

s8_delete() {
  local vol="$1" node="$2" size="${3:-64Mi}"
  etcdctl_ns put "/ferry/volumes/$vol" \
    "{\"schemaVersion\":1,\"name\":\"$vol\",\"sizeBytes\":\"$size\",\"engine\":\"lvm\",\"positionAdvice\":\"MustLocal\",\"consumerNode\":\"$node\",\"poolSelector\":{\"scenario\":\"s8\"},\"deletionRequested\":true}" >/dev/null
  local w=$SECONDS
  while [ -n "$(etcdctl_ns get --keys-only "/ferry/volumes/$vol")" ]; do
    ((SECONDS - w < 180)) || die "s8: $vol was not deleted within 180 s"
    sleep 1
  done
}

s8_create() {
  local vol="$1" node="$2" size="${3:-64Mi}"
  etcdctl_ns put "/ferry/volumes/$vol" \
    "{\"schemaVersion\":1,\"name\":\"$vol\",\"sizeBytes\":\"$size\",\"engine\":\"lvm\",\"positionAdvice\":\"MustLocal\",\"consumerNode\":\"$node\",\"poolSelector\":{\"scenario\":\"s8\"}}" >/dev/null
  # Not wait_volume: each volume here is made right after the previous one was deleted, on a pool
  # that cannot hold both, and until the agent reports the freed extents the controller records a
  # NoFit (disk full) that clears by itself. Ferry's evaluator rightly answers that at once (exit 7,
  # RESOURCE_EXHAUSTED for CSI); this scenario is about the bytes on those extents, so it waits.
  wait_key "/ferry/nodes/$node/volumes/$vol" '"phase" *: *"Ready"' 240 >/dev/null || die "s8: $vol did not become Ready"
}

scenario() {
  local target="${GUESTS[-1]}" pool=s8-pool vg=ferry-s8 size=67108864 t=$SECONDS out dev
  log "s8: loop device over /tmp/s8.img (128 MiB, sparse) in $target"
  out="$(gexec "$target" 60 "truncate -s 128M /tmp/s8.img; echo dev=\$(losetup --find --show /tmp/s8.img)")" \
    || die "s8: no loop device: $out"
  dev="$(sed -n 's/^dev=//p' <<<"$out")"
  etcdctl_ns put "/ferry/config/pools/$pool" \
    "{\"schemaVersion\":1,\"name\":\"$pool\",\"node\":\"$target\",\"engine\":\"lvm\",\"source\":{\"volumeGroup\":\"$vg\",\"devices\":[\"$dev\"]},\"prepare\":true,\"labels\":{\"scenario\":\"s8\"}}" >/dev/null
  wait_key "/ferry/nodes/$target/pools/$pool" '"healthy" *: *true' 240 >/dev/null || die "s8: pool not healthy"
  timing "s8: pool healthy" $((SECONDS - t))

  s8_create s8-old "$target"
  log "s8: s8-old Ready; 64 MiB of the byte 0x5a written over all of it"
  out="$(gexec "$target" 120 "
    head -c $size /dev/zero | tr '\\000' '\\132' | dd of=/dev/$vg/s8-old bs=1M oflag=direct conv=fsync status=none
    echo nonzero=\$(dd if=/dev/$vg/s8-old bs=1M iflag=direct status=none | tr -d '\\000' | wc -c)
    echo pe=\$(lvs --noheadings -o seg_pe_ranges $vg/s8-old | tr -d ' ')
  ")" || die "s8: writing the pattern failed: $out"
  printf '%s\n' "$out"
  grep -qx "nonzero=$size" <<<"$out" || die "s8: the pattern did not reach every byte of s8-old"
  local pe_old
  pe_old="$(sed -n 's/^pe=//p' <<<"$out")"
  timing "s8: pattern written" $((SECONDS - t))

  s8_delete s8-old "$target"
  gexec "$target" 60 "! lvs $vg/s8-old >/dev/null 2>&1" >/dev/null || die "s8: the LV s8-old is still there"
  s8_create s8-new "$target"
  timing "s8: deleted and created again" $((SECONDS - t))

  out="$(gexec "$target" 120 "
    echo pe=\$(lvs --noheadings -o seg_pe_ranges $vg/s8-new | tr -d ' ')
    echo size=\$(blockdev --getsize64 /dev/$vg/s8-new)
    echo nonzero=\$(dd if=/dev/$vg/s8-new bs=1M iflag=direct status=none | tr -d '\\000' | wc -c)
    for off in 0 4096 65536 1048576 33554432 67104768; do
      echo at\$off=\$(dd if=/dev/$vg/s8-new bs=4096 skip=\$((off / 4096)) count=1 iflag=direct status=none | od -An -v -tx1 | tr -d ' \\n' | tr -d 0 | wc -c)
    done
  ")" || die "s8: reading s8-new failed: $out"
  printf '%s\n' "$out"
  [ "$(sed -n 's/^pe=//p' <<<"$out")" = "$pe_old" ] \
    || die "s8: s8-new is not on s8-old's extents ($pe_old); the check would prove nothing"
  grep -qx "size=$size" <<<"$out" || die "s8: s8-new is not $size bytes"
  grep -qx 'nonzero=0' <<<"$out" || die "s8: s8-new shows bytes of the deleted s8-old"
  if grep -E '^at[0-9]+=' <<<"$out" | grep -vqE '=0$'; then die "s8: a sampled offset of s8-new is not zero"; fi
  timing "s8: new volume reads zeros" $((SECONDS - t))

  # Growth: dirty the extents again, put a 32 MiB volume on their first half, mark it, grow it.
  local half=$((size / 2))
  gexec "$target" 120 "head -c $size /dev/zero | tr '\\000' '\\132' | dd of=/dev/$vg/s8-new bs=1M oflag=direct conv=fsync status=none" \
    >/dev/null || die "s8: writing the pattern into s8-new failed"
  s8_delete s8-new "$target"
  s8_create s8-grow "$target" 32Mi
  out="$(gexec "$target" 120 "
    head -c $half /dev/zero | tr '\\000' '\\063' | dd of=/dev/$vg/s8-grow bs=1M oflag=direct conv=fsync status=none
    echo head=\$(dd if=/dev/$vg/s8-grow bs=1M iflag=direct status=none | tr -d '\\063' | wc -c)
  ")" || die "s8: writing s8-grow's own pattern failed: $out"
  grep -qx 'head=0' <<<"$out" || die "s8: s8-grow does not hold its own pattern before growing: $out"
  log "s8: s8-grow (32 MiB, the byte 0x33 over all of it) grown to 64 MiB"
  etcdctl_ns put "/ferry/volumes/s8-grow" \
    "{\"schemaVersion\":1,\"name\":\"s8-grow\",\"sizeBytes\":\"64Mi\",\"engine\":\"lvm\",\"positionAdvice\":\"MustLocal\",\"consumerNode\":\"$target\",\"poolSelector\":{\"scenario\":\"s8\"}}" >/dev/null
  # The growth too may meet the freed extents before the agent reports them (see s8_create).
  wait_key "/ferry/nodes/$target/volumes/s8-grow" "\"phase\" *: *\"Ready\".*\"sizeBytes\" *: *$size" 240 >/dev/null \
    || die "s8: s8-grow was not reported Ready at $size bytes"
  out="$(gexec "$target" 120 "
    echo pe=\$(lvs --noheadings -o seg_pe_ranges $vg/s8-grow | tr -d ' ')
    echo tags=\$(lvs --noheadings -o lv_tags $vg/s8-grow | tr -d ' ')
    echo head=\$(dd if=/dev/$vg/s8-grow bs=1M count=$((half >> 20)) iflag=direct status=none | tr -d '\\063' | wc -c)
    echo tail=\$(dd if=/dev/$vg/s8-grow bs=1M skip=$((half >> 20)) iflag=direct status=none | tr -d '\\000' | wc -c)
  ")" || die "s8: reading s8-grow failed: $out"
  printf '%s\n' "$out"
  # s8-old's range was <pv>:0-<last>; s8-grow must span the same, whether LVM lists it as one
  # segment or two (its first 32 MiB and the added extents).
  local pe_grow="$(sed -n 's/^pe=//p' <<<"$out")"
  [[ "$pe_grow" == "${pe_old%%-*}-"* && "$pe_grow" == *"-${pe_old##*-}" ]] \
    || die "s8: s8-grow ($pe_grow) is not on the dirtied extents ($pe_old); the check would prove nothing"
  grep -qx 'head=0' <<<"$out" || die "s8: growing s8-grow changed its own first 32 MiB"
  grep -qx 'tail=0' <<<"$out" || die "s8: the extents lvextend added to s8-grow show a deleted volume's bytes"
  if grep -q 'ferry.zero-from' <<<"$out"; then die "s8: s8-grow still carries its ferry.zero-from tag after growing"; fi
  timing "s8: grown volume reads zeros past its old end" $((SECONDS - t))

  s8_delete s8-grow "$target"
  etcdctl_ns del "/ferry/config/pools/$pool" >/dev/null
  local w=$SECONDS
  while [ -n "$(etcdctl_ns get --keys-only "/ferry/nodes/$target/pools/$pool")" ]; do
    ((SECONDS - w < 60)) || die "s8: the pool status was not withdrawn"
    sleep 1
  done
  gexec "$target" 120 "vgremove -y $vg >/dev/null; pvremove -y $dev >/dev/null; losetup -d $dev; rm -f /tmp/s8.img" >/dev/null \
    || die "s8: cleanup in $target failed"
  timing "s8: total" $((SECONDS - t))
}
