# Scenario 14 (issue #17, mirror health): a mirror keeps serving while one leg's node is powered
# off, and takes the leg back when the node returns. Two LVM pools on the guests' fourth disks
# (/dev/vdd, which survive a power-off), label scenario=s14; a 64 MiB mirror for node-1 with one leg
# on each node. node-1 stages it through CSI (md RAID1 over its own LV and node-2's over NVMe/TCP),
# writes 8 MiB (md5), waits for the first resync; node-stats says "mirror healthy". fio then writes
# with verification (crc32c, verify_backlog) for 90 s; 10 s in, node-2 is powered off:
#  - node-1's NVMe controller for the leg gives up I/O after its fast_io_fail_tmo (10 s, set by the
#    plugin for mirror legs), md drops the leg and the writes go on on node-1's leg: fio ends with
#    no error and no failed verification, and node-1's kernel logs no I/O error on the md device or
#    the filesystem;
#  - node-stats reports the volume abnormal, "mirror degraded", naming the lost leg.
# node-2 boots again with the same disks; its agent exports the leg again, node-1's controller
# reconnects by itself, and the plugin's keeper re-adds the leg (md resyncs what its bitmap marks);
# node-stats is "mirror healthy" again. Unstaged, the two legs' data areas (read on each node from
# its own LV, past md's 4 MiB reserve) are byte for byte equal; restaged, the 8 MiB read back the
# same. Deleted, with its pools. Needs --guests 2 or more.

scenario() {
  local consumer=node-1 target=node-2 vol=s14-mir t=$SECONDS out sum base rc
  local staging="$TB_CSI_STAGING/s14-mir" target_path="$TB_CSI_PODS/p14/s14-mir"
  [ "${#GUESTS[@]}" -ge 2 ] || die "s14 needs --guests 2"
  # The fourth disks, which survive a power-off.
  lvm_pool node-1 s14-a ferry-s14-1 /dev/vdd s14
  lvm_pool node-2 s14-b ferry-s14-2 /dev/vdd s14
  multipart_create "$vol" mirror 64Mi s14
  [ "$(etcdctl_ns get --print-value-only "/ferry/placements/$vol--p1" | json_get node)" = "$target" ] \
    || die "s14: leg 1 is not on $target"
  timing "s14: mirror placed and served" $((SECONDS - t))

  csi_stage "$consumer" "$vol" || die "s14: node-stage failed"
  csi_publish "$consumer" "$vol" p14 || die "s14: node-publish failed"
  out="$(gexec "$consumer" 300 "
    src=\$(findmnt -n -o SOURCE $staging)
    echo staging=\$src
    head -c 8388608 /dev/urandom >$target_path/data
    sync
    echo md5=\$(md5sum <$target_path/data | cut -d' ' -f1)
    mdadm --wait \$src >/dev/null 2>&1 || true
    cat /proc/mdstat >&2
    echo fast_io_fail=\$(cat /sys/class/nvme/nvme*/fast_io_fail_tmo | sort -u | tr '\n' ' ')
  ")" || die "s14: writing through the mirror failed: $out"
  printf '%s\n' "$out"
  sum="$(sed -n 's/^md5=//p' <<<"$out")"
  grep -q '^staging=/dev/md' <<<"$out" || die "s14: the staging mount is not an md device"
  grep -Eq '^fast_io_fail=10 ?$' <<<"$out" || die "s14: the leg's controller does not fail I/O after 10 s"
  mirror_condition s14-mir p14 '^condition: normal: mirror healthy .*2 of 2 legs in sync' 60 >/dev/null \
    || die "s14: node-stats does not report a healthy mirror"
  timing "s14: staged, written, in sync" $((SECONDS - t))

  base="$(gexec "$consumer" 60 "dmesg | wc -l")" || die "s14: dmesg on $consumer failed"
  log "s14: fio writes with verification for 90 s; $target is powered off 10 s in"
  gexec "$consumer" 60 "
    rm -f /tmp/s14-fio.rc /tmp/s14-fio.out
    cat >/tmp/s14-fio.sh <<'FIO'
fio --name=s14 --filename=$target_path/fio.dat --size=16M --bs=64k --rw=randwrite --ioengine=psync --direct=1 \
  --verify=crc32c --verify_backlog=16 --verify_fatal=1 --time_based --runtime=90 --output=/tmp/s14-fio.out
echo \$? >/tmp/s14-fio.rc
FIO
    setsid nohup bash /tmp/s14-fio.sh >/dev/null 2>&1 </dev/null &
  " >/dev/null || die "s14: starting fio failed"
  sleep 10
  guest_poweroff "$target" 120
  timing "s14: $target powered off under fio" $((SECONDS - t))
  out="$(mirror_condition s14-mir p14 '^condition: abnormal: mirror degraded .*leg s14-mir--p1' 150)" \
    || die "s14: node-stats does not report the mirror degraded with the lost leg"
  log "s14: $out"
  timing "s14: degraded reported" $((SECONDS - t))

  local w=$SECONDS
  until gexec "$consumer" 30 "test -s /tmp/s14-fio.rc" >/dev/null 2>&1; do
    ((SECONDS - w < 240)) || die "s14: fio did not finish"
    sleep 3
  done
  out="$(gexec "$consumer" 60 "
    echo rc=\$(cat /tmp/s14-fio.rc)
    grep -E 'err= *[0-9]+|verify|WRITE:' /tmp/s14-fio.out >&2 || true
    echo fio_errors=\$(grep -Eo 'err= *[0-9]+' /tmp/s14-fio.out | grep -vc 'err= *0\$' || true)
    echo md_errors=\$(dmesg | tail -n +$((base + 1)) | grep -c -e 'Buffer I/O error on dev md' -e 'EXT4-fs error' -e 'Aborting journal' || true)
    dmesg | tail -n +$((base + 1)) | grep -E 'md/raid1|md127' | head -n 5 >&2
    echo leg_dropped=\$(dmesg | tail -n +$((base + 1)) | grep -c 'md/raid1:md[0-9]*: Disk failure' || true)
  ")" || die "s14: reading fio's result failed: $out"
  printf '%s\n' "$out"
  grep -qx 'rc=0' <<<"$out" || die "s14: fio failed while a leg was lost: $out"
  grep -qx 'fio_errors=0' <<<"$out" || die "s14: fio reported errors"
  grep -qx 'md_errors=0' <<<"$out" || die "s14: node-1's kernel logged I/O errors on the mirror or its filesystem"
  grep -Eq '^leg_dropped=[1-9]' <<<"$out" || die "s14: md did not drop the lost leg"
  timing "s14: fio through the loss: no error" $((SECONDS - t))

  log "s14: booting $target again with the same disks"
  guest_boot_again "$target"
  wait_key "/ferry/nodes/$target/registration" '"' "$TB_START_TIMEOUT" >/dev/null || die "s14: $target did not register again"
  timing "s14: $target back" $((SECONDS - t))
  out="$(mirror_condition s14-mir p14 '^condition: normal: mirror healthy .*2 of 2 legs in sync' 420)" \
    || die "s14: the mirror is not healthy again after $target returned"
  log "s14: $out"
  grep -q "re-added" "$RUN/guests/$consumer/csi.log" || die "s14: the node plugin did not re-add the leg"
  log "s14: $(grep -h 're-added\|mirror degraded\|mirror rebuilding\|mirror healthy' "$RUN/guests/$consumer/csi.log" | tail -n 5 | tr '\n' ' ')"
  timing "s14: leg re-added, mirror healthy" $((SECONDS - t))

  csi_unpublish "$consumer" "$vol" p14 || die "s14: node-unpublish failed"
  csi_unstage "$consumer" "$vol" || die "s14: node-unstage failed"
  local legsum=() p n lv
  for p in 0 1; do
    n="$(etcdctl_ns get --print-value-only "/ferry/placements/$vol--p$p" | json_get node)"
    lv="$(gexec "$n" 60 "lvs --noheadings -o lv_path ferry-s14-${n#node-} | grep -- '$vol--p$p' | tr -d ' '")" \
      || die "s14: no LV of leg $p on $n"
    legsum+=("$(gexec "$n" 120 "echo md5=\$(dd if=$lv bs=1M skip=4 count=64 iflag=direct status=none | md5sum | cut -d' ' -f1)" | sed -n 's/^md5=//p')")
  done
  log "s14: leg data md5 ${legsum[*]}"
  [ -n "${legsum[0]}" ] && [ "${legsum[0]}" = "${legsum[1]}" ] || die "s14: the legs differ after the leg was re-added"
  csi_stage "$consumer" "$vol" || die "s14: second node-stage failed"
  csi_publish "$consumer" "$vol" p14 || die "s14: second node-publish failed"
  out="$(gexec "$consumer" 120 "echo 3 >/proc/sys/vm/drop_caches; echo md5=\$(md5sum <$target_path/data | cut -d' ' -f1)")"
  [ -n "$sum" ] && [ "$(sed -n 's/^md5=//p' <<<"$out")" = "$sum" ] || die "s14: the data differs after the loss and the re-add"
  csi_unpublish "$consumer" "$vol" p14 && csi_unstage "$consumer" "$vol" || die "s14: final unstage failed"
  timing "s14: legs equal, data intact" $((SECONDS - t))

  etcdctl_ns del "/ferry/attachments/$vol/$consumer" >/dev/null
  local v
  v="$(etcdctl_ns get --print-value-only "/ferry/volumes/$vol")"
  etcdctl_ns put "/ferry/volumes/$vol" "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["deletionRequested"]=True; print(json.dumps(d))' "$v")" >/dev/null
  w=$SECONDS
  while [ -n "$(etcdctl_ns get --prefix --keys-only /ferry/volumes/ | grep -E "/$vol(--p[0-9]+)?\$" || true)" ]; do
    ((SECONDS - w < 240)) || die "s14: $vol was not deleted"
    sleep 2
  done
  etcdctl_ns del /ferry/config/pools/s14-a >/dev/null
  etcdctl_ns del /ferry/config/pools/s14-b >/dev/null
  timing "s14: total" $((SECONDS - t))
}
