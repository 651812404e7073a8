# Scenario 17 (issue #17, a lost leg replaced): an operator declares a mirror's leg lost while the
# volume is mounted and written, and the leg is replaced on a third pool and rebuilt. LVM pools on
# loop devices in the guests' tmpfs, label scenario=s17: s17-a on node-1, s17-b on node-2; a 64 MiB
# mirror for node-1 has a leg on each. node-1 stages it through CSI, writes 8 MiB (md5) and waits
# for the first resync. A third pool, s17-c, then joins on node-2, and fio writes with verification
# (crc32c) for 280 s while `ferryctl volume replace-leg` declares node-2's leg (s17-mir--p1, on s17-b)
# lost:
#  - the controller places the replacement s17-mir--p2 on s17-c in one transaction (a leg may not
#    share node-1 with the other leg, and s17-b is the lost leg's own pool) and retires p1;
#  - node-1's plugin, without any CSI call, fails and removes p1 from the array, disconnects it,
#    connects p2 and adds it; md rebuilds it and node-stats says "mirror healthy" again;
#  - fio ends with no error and no failed verification; node-1's kernel logs no I/O error on md or
#    the filesystem;
#  - p1 is deleted: its keys go, its LV is gone from node-2, s17-b's ledger is back to 0 bytes.
# Then, fio still writing, `ferryctl volume migrate` moves the replacement p2 back to s17-b (live
# migration):
#  - the controller places the joining leg s17-mir--p3 on s17-b, p2 stays a member;
#  - node-1's plugin adds p3 as a third leg (mdadm --add, --grow --raid-devices=3), md copies the
#    volume onto it, and the plugin reports the array in etcd (mirror-health/s17-mir/node-1);
#  - the controller (after placing p3) and node-1's plugin (while it joins p3) are killed with
#    SIGKILL and started again: the move goes on from etcd, md and sysfs;
#  - once that report shows p3 in sync, the controller retires p2; the plugin fails and removes it
#    and shrinks the array back to two legs; p2 is deleted and s17-c's ledger goes back to 0.
# fio ends with no error and no failed verification; node-1's kernel logs no I/O error.
# Unstaged, the two legs' data areas (p0 on node-1, p3 on node-2, past md's 4 MiB reserve) are byte
# for byte equal, and the report is gone; restaged, the 8 MiB read back the same. Deleted with its
# pools. Needs --guests 2.

# s17_leg_md5 <part> <vg prefix>: md5 of the leg's 64 MiB data area, read on its own node from its LV.
s17_leg_md5() {
  local part="$1" n lv
  n="$(etcdctl_ns get --print-value-only "/ferry/placements/$part" | json_get node)"
  lv="$(gexec "$n" 60 "lvs --noheadings -o lv_path 2>/dev/null | grep -- '$part\$' | tr -d ' '")" || die "s17: no LV of $part on $n"
  [ -n "$lv" ] || die "s17: no LV of $part on $n"
  gexec "$n" 120 "echo md5=\$(dd if=$lv bs=1M skip=4 count=64 iflag=direct status=none | md5sum | cut -d' ' -f1)" \
    | sed -n 's/^md5=//p'
}

scenario() {
  local consumer=node-1 vol=s17-mir t=$SECONDS out sum base w
  local staging="$TB_CSI_STAGING/s17-mir" target_path="$TB_CSI_PODS/p17/s17-mir"
  [ "${#GUESTS[@]}" -ge 2 ] || die "s17 needs --guests 2"
  lvm_loop_pool node-1 s17-a ferry-s17-1 160M s17
  lvm_loop_pool node-2 s17-b ferry-s17-2 160M s17
  multipart_create "$vol" mirror 64Mi s17
  [ "$(etcdctl_ns get --print-value-only "/ferry/placements/$vol--p1" | json_get pool)" = s17-b ] \
    || die "s17: leg 1 is not on s17-b"
  timing "s17: mirror placed and served" $((SECONDS - t))

  csi_stage "$consumer" "$vol" || die "s17: node-stage failed"
  csi_publish "$consumer" "$vol" p17 || die "s17: node-publish failed"
  out="$(gexec "$consumer" 300 "
    src=\$(findmnt -n -o SOURCE $staging)
    echo staging=\$src
    head -c 8388608 /dev/urandom >$target_path/data
    sync
    echo md5=\$(md5sum <$target_path/data | cut -d' ' -f1)
    mdadm --wait \$src >/dev/null 2>&1 || true
  ")" || die "s17: writing through the mirror failed: $out"
  printf '%s\n' "$out"
  sum="$(sed -n 's/^md5=//p' <<<"$out")"
  grep -q '^staging=/dev/md' <<<"$out" || die "s17: the staging mount is not an md device"
  mirror_condition s17-mir p17 '^condition: normal: mirror healthy .*2 of 2 legs in sync' 60 >/dev/null \
    || die "s17: node-stats does not report a healthy mirror"
  timing "s17: staged, written, in sync" $((SECONDS - t))

  # The third pool only now, so that the first placement had no choice but s17-b on node-2.
  lvm_loop_pool node-2 s17-c ferry-s17-3 160M s17
  base="$(gexec "$consumer" 60 "dmesg | wc -l")" || die "s17: dmesg on $consumer failed"
  log "s17: fio writes with verification for 280 s; $vol--p1 is declared lost 10 s in, then the replacement moves"
  gexec "$consumer" 60 "
    rm -f /tmp/s17-fio.rc /tmp/s17-fio.out
    cat >/tmp/s17-fio.sh <<'FIO'
fio --name=s17 --filename=$target_path/fio.dat --size=16M --bs=64k --rw=randwrite --ioengine=psync --direct=1 \
  --verify=crc32c --verify_backlog=16 --verify_fatal=1 --time_based --runtime=280 --output=/tmp/s17-fio.out
echo \$? >/tmp/s17-fio.rc
FIO
    setsid nohup bash /tmp/s17-fio.sh >/dev/null 2>&1 </dev/null &
  " >/dev/null || die "s17: starting fio failed"
  sleep 10
  out="$(ferryctl_ns volume replace-leg "$vol" "$vol--p1" 2>&1)" || die "s17: ferryctl volume replace-leg failed: $out"
  log "s17: $out"
  w=$SECONDS
  until etcdctl_ns get --print-value-only "/ferry/parts/$vol" | python3 -c '
import json,sys
d=json.load(sys.stdin)
names=[p["name"] for p in d["parts"]]
retired=[p["name"] for p in d.get("retired",[])]
sys.exit(0 if "s17-mir--p2" in names and "s17-mir--p1" in retired else 1)'; do
    ((SECONDS - w < 60)) || die "s17: the parts record does not list the replacement: $(etcdctl_ns get --print-value-only "/ferry/parts/$vol")"
    sleep 2
  done
  [ "$(etcdctl_ns get --print-value-only "/ferry/placements/$vol--p2" | json_get pool)" = s17-c ] \
    || die "s17: the replacement is not on s17-c: $(etcdctl_ns get --print-value-only "/ferry/placements/$vol--p2")"
  timing "s17: replacement placed" $((SECONDS - t))

  out="$(mirror_condition s17-mir p17 '^condition: normal: mirror healthy .*2 of 2 legs in sync' 300)" \
    || die "s17: the mirror is not healthy again with its replacement leg"
  log "s17: $out"
  grep -q "replacement leg $vol--p2 .* added" "$RUN/guests/$consumer/csi.log" || die "s17: the plugin did not add the replacement leg"
  log "s17: $(grep -h "retired leg\|replacement leg\|mirror rebuilding\|mirror healthy" "$RUN/guests/$consumer/csi.log" | tail -n 6 | tr '\n' ' ')"
  timing "s17: replacement rebuilt, mirror healthy" $((SECONDS - t))

  # Live migration: the replacement p2 (on s17-c) moves back to s17-b, fio still writing.
  out="$(ferryctl_ns volume migrate "$vol" "$vol--p2" --to-pool s17-b 2>&1)" || die "s17: ferryctl volume migrate failed: $out"
  log "s17: $out"
  w=$SECONDS
  until etcdctl_ns get --print-value-only "/ferry/parts/$vol" | python3 -c '
import json,sys
d=json.load(sys.stdin)
sys.exit(0 if any(p["name"] == "s17-mir--p3" and p.get("movesFrom") == "s17-mir--p2" for p in d["parts"]) else 1)' 2>/dev/null; do
    # The move may be done already when looked at late: that is checked below.
    etcdctl_ns get --print-value-only "/ferry/parts/$vol" | grep -q '"s17-mir--p3"' && break
    ((SECONDS - w < 60)) || die "s17: the parts record does not list the joining leg: $(etcdctl_ns get --print-value-only "/ferry/parts/$vol")"
    sleep 2
  done
  [ "$(etcdctl_ns get --print-value-only "/ferry/placements/$vol--p3" | json_get pool)" = s17-b ] \
    || die "s17: the joining leg is not on s17-b: $(etcdctl_ns get --print-value-only "/ferry/placements/$vol--p3")"
  timing "s17: joining leg placed" $((SECONDS - t))
  # SIGKILL at the worst moment: the controller after it placed the joining leg and before the
  # switch, then node-1's plugin while it adds the leg or md copies onto it. Each starts again and
  # goes on from etcd, md and sysfs.
  etcdctl_ns get --print-value-only "/ferry/parts/$vol" | grep -q '"movesFrom"' \
    || die "s17: the move finished before the kills; the crash check would prove nothing"
  controller_kill_restart s17
  log "s17: controller killed and started again; report: $(etcdctl_ns get --print-value-only "/ferry/mirror-health/$vol/$consumer")"
  csi_kill_restart "$consumer"
  log "s17: node-1's CSI plugin killed and started again"
  # A restarted plugin looks after a mirror again from the first CSI call about it (kubelet's stats).
  mirror_condition s17-mir p17 '^condition' 120 >/dev/null || die "s17: no node-stats from the restarted plugin"
  timing "s17: controller and plugin killed mid-move" $((SECONDS - t))
  w=$SECONDS
  until etcdctl_ns get --print-value-only "/ferry/parts/$vol" | python3 -c '
import json,sys
d=json.load(sys.stdin)
names=[p["name"] for p in d["parts"]]
retired=[p["name"] for p in d.get("retired",[])]
sys.exit(0 if names == ["s17-mir--p0", "s17-mir--p3"] and "s17-mir--p2" in retired else 1)'; do
    ((SECONDS - w < 300)) || die "s17: the move did not finish: $(etcdctl_ns get --print-value-only "/ferry/parts/$vol"); report: $(etcdctl_ns get --print-value-only "/ferry/mirror-health/$vol/$consumer")"
    sleep 2
  done
  log "s17: report: $(etcdctl_ns get --print-value-only "/ferry/mirror-health/$vol/$consumer")"
  out="$(mirror_condition s17-mir p17 '^condition: normal: mirror healthy .*2 of 2 legs in sync' 180)" \
    || die "s17: the mirror is not healthy on two legs after the move"
  log "s17: $out"
  # The keeper fails the retired leg out and then gives its slot back, each in a round of its own.
  w=$SECONDS
  while :; do
    out="$(gexec "$consumer" 60 "cat /sys/block/\$(basename \$(readlink -f \$(findmnt -n -o SOURCE $staging)))/md/raid_disks")" \
      || die "s17: reading the array's raid_disks failed: $out"
    [ "$out" = 2 ] && break
    ((SECONDS - w < 120)) || die "s17: the array still has $out slots 120 s after the move, not 2"
    sleep 3
  done
  log "s17: $(grep -h "joining leg\|raid-devices\|retired leg" "$RUN/guests/$consumer/csi.log" | tail -n 6 | tr '\n' ' ')"
  timing "s17: moved, mirror healthy on two legs" $((SECONDS - t))

  w=$SECONDS
  until gexec "$consumer" 30 "test -s /tmp/s17-fio.rc" >/dev/null 2>&1; do
    ((SECONDS - w < 300)) || die "s17: fio did not finish"
    sleep 3
  done
  out="$(gexec "$consumer" 60 "
    echo rc=\$(cat /tmp/s17-fio.rc)
    grep -E 'err= *[0-9]+|verify|WRITE:' /tmp/s17-fio.out >&2 || true
    echo fio_errors=\$(grep -Eo 'err= *[0-9]+' /tmp/s17-fio.out | grep -vc 'err= *0\$' || true)
    echo md_errors=\$(dmesg | tail -n +$((base + 1)) | grep -c -e 'Buffer I/O error on dev md' -e 'EXT4-fs error' -e 'Aborting journal' || true)
    dmesg | tail -n +$((base + 1)) | grep -E 'md/raid1|md12[0-9]' | head -n 8 >&2
  ")" || die "s17: reading fio's result failed: $out"
  printf '%s\n' "$out"
  grep -qx 'rc=0' <<<"$out" || die "s17: fio failed while the leg was replaced and moved: $out"
  grep -qx 'fio_errors=0' <<<"$out" || die "s17: fio reported errors"
  grep -qx 'md_errors=0' <<<"$out" || die "s17: node-1's kernel logged I/O errors on the mirror or its filesystem"
  timing "s17: fio through the replacement and the move: no error" $((SECONDS - t))

  # The retired legs are deleted: keys, LVs, ledgers; node-1 holds no connection to them. s17-b now
  # holds the moved leg p3 alone, s17-c nothing.
  local gone
  for gone in "$vol--p1" "$vol--p2"; do
    w=$SECONDS
    while [ -n "$(etcdctl_ns get --keys-only "/ferry/volumes/$gone")$(etcdctl_ns get --keys-only "/ferry/placements/$gone")" ]; do
      ((SECONDS - w < 180)) || die "s17: the retired leg's keys are still there: $(etcdctl_ns get --prefix /ferry | grep -a -- "$gone" | head -n 5)"
      sleep 2
    done
    out="$(gexec node-2 60 "lvs --noheadings -o lv_name ferry-s17-2 ferry-s17-3 2>&1 || true")"
    if grep -q -- "$gone" <<<"$out"; then die "s17: the retired leg $gone's LV is still on node-2: $out"; fi
    # Inside echo: grep finding nothing fails, and the guest's shell runs with pipefail.
    out="$(gexec "$consumer" 60 "echo \$(grep -l -- '$gone' /sys/class/nvme/nvme*/subsysnqn 2>/dev/null | wc -l)")" \
      || die "s17: looking for a connection to the retired leg on $consumer failed: $out"
    [ "$out" = 0 ] || die "s17: node-1 is still connected to the retired leg $gone: $out"
  done
  [ "$(etcdctl_ns get --print-value-only /ferry/ledger/s17-c | json_get allocatedBytes)" = 0 ] \
    || die "s17: s17-c's ledger was not released: $(etcdctl_ns get --print-value-only /ferry/ledger/s17-c)"
  [ "$(etcdctl_ns get --print-value-only /ferry/ledger/s17-b | json_get allocatedBytes)" = \
    "$(etcdctl_ns get --print-value-only "/ferry/parts/$vol" | python3 -c 'import json,sys; print(json.load(sys.stdin)["parts"][1]["sizeBytes"])')" ] \
    || die "s17: s17-b's ledger does not hold exactly the moved leg: $(etcdctl_ns get --print-value-only /ferry/ledger/s17-b)"
  timing "s17: retired legs deleted, ledgers right" $((SECONDS - t))

  csi_unpublish "$consumer" "$vol" p17 || die "s17: node-unpublish failed"
  csi_unstage "$consumer" "$vol" || die "s17: node-unstage failed"
  local a b
  a="$(s17_leg_md5 "$vol--p0")"
  b="$(s17_leg_md5 "$vol--p3")"
  log "s17: leg data md5 $a $b"
  [ -n "$a" ] && [ "$a" = "$b" ] || die "s17: the legs differ after the rebuild and the move"
  [ -z "$(etcdctl_ns get --keys-only "/ferry/mirror-health/$vol/$consumer")" ] \
    || die "s17: the mirror's report is still in etcd after the unstage"
  csi_stage "$consumer" "$vol" || die "s17: second node-stage failed"
  csi_publish "$consumer" "$vol" p17 || die "s17: second node-publish failed"
  out="$(gexec "$consumer" 120 "echo 3 >/proc/sys/vm/drop_caches; echo md5=\$(md5sum <$target_path/data | cut -d' ' -f1)")"
  [ -n "$sum" ] && [ "$(sed -n 's/^md5=//p' <<<"$out")" = "$sum" ] || die "s17: the data differs after the replacement"
  csi_unpublish "$consumer" "$vol" p17 && csi_unstage "$consumer" "$vol" || die "s17: final unstage failed"
  timing "s17: legs equal, data intact" $((SECONDS - t))

  etcdctl_ns del "/ferry/attachments/$vol/$consumer" >/dev/null
  local v
  v="$(etcdctl_ns get --print-value-only "/ferry/volumes/$vol")"
  etcdctl_ns put "/ferry/volumes/$vol" "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["deletionRequested"]=True; print(json.dumps(d))' "$v")" >/dev/null
  w=$SECONDS
  while [ -n "$(etcdctl_ns get --prefix --keys-only /ferry/volumes/ | grep -E "/$vol(--p[0-9]+)?\$" || true)" ] \
      || [ -n "$(etcdctl_ns get --keys-only "/ferry/parts/$vol")" ]; do
    ((SECONDS - w < 240)) || die "s17: $vol was not deleted"
    sleep 2
  done
  for p in s17-a s17-b s17-c; do etcdctl_ns del "/ferry/config/pools/$p" >/dev/null || true; done
  timing "s17: total" $((SECONDS - t))
}
