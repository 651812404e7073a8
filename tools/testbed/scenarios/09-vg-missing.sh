# Scenario 9 (issue #13): a volume group missing at agent start leaves its volumes Lost, never
# re-created, and they come back with their data when the disk returns. On the last guest, a VG on
# a loop device over a sparse file in the guest's tmpfs: a 32 MiB volume gets random data (md5);
# the agent is stopped, the VG deactivated and its loop device given a blank file instead (the
# worst case of a disk that is gone: its path now names another, blank disk). The agent started
# again reports the volume Lost and the pool's group not found, and leaves the blank disk blank
# (no vgcreate over it, no LV anywhere for the volume). The original file back on the same loop
# device: the volume is Ready again with the same md5. Cleans up after itself.

s9_intent() {
  local deletion="$1"
  etcdctl_ns put "/ferry/volumes/s9-vol" \
    "{\"schemaVersion\":1,\"name\":\"s9-vol\",\"sizeBytes\":\"32Mi\",\"engine\":\"lvm\",\"positionAdvice\":\"MustLocal\",\"consumerNode\":\"$target\",\"poolSelector\":{\"scenario\":\"s9\"}$deletion}" >/dev/null
}

scenario() {
  local target="${GUESTS[-1]}" pool=s9-pool vg=ferry-s9 vol=s9-vol t=$SECONDS out dev
  local gdir="/testbed/guests/$target"
  out="$(gexec "$target" 60 "
    truncate -s 64M /tmp/s9.img /tmp/s9-blank.img
    echo dev=\$(losetup --find --show /tmp/s9.img)
  ")" || die "s9: no loop device: $out"
  dev="$(sed -n 's/^dev=//p' <<<"$out")"
  log "s9: pool $pool (lvm, prepare) on $dev in $target"
  etcdctl_ns put "/ferry/config/pools/$pool" \
    "{\"schemaVersion\":1,\"name\":\"$pool\",\"node\":\"$target\",\"engine\":\"lvm\",\"source\":{\"volumeGroup\":\"$vg\",\"devices\":[\"$dev\"]},\"prepare\":true,\"labels\":{\"scenario\":\"s9\"}}" >/dev/null
  wait_key "/ferry/nodes/$target/pools/$pool" '"healthy" *: *true' 240 >/dev/null || die "s9: pool not healthy"
  s9_intent ""
  wait_volume "$vol" 240 --for created >/dev/null || die "s9: $vol not Ready"
  out="$(gexec "$target" 120 "
    head -c 33554432 /dev/urandom | dd of=/dev/$vg/$vol bs=1M oflag=direct conv=fsync status=none
    echo md5=\$(dd if=/dev/$vg/$vol bs=1M iflag=direct status=none | md5sum | cut -d' ' -f1)
  ")" || die "s9: writing failed: $out"
  local sum
  sum="$(sed -n 's/^md5=//p' <<<"$out")"
  timing "s9: volume Ready and written" $((SECONDS - t))

  log "s9: agent stopped; $vg deactivated; $dev now backed by a blank file"
  out="$(gexec "$target" 120 "
    pid=\$(cat /run/ferry-agent.pid)
    kill -TERM \$pid
    for i in \$(seq 1 600); do kill -0 \$pid 2>/dev/null || break; sleep 0.1; done
    if kill -0 \$pid 2>/dev/null; then kill -KILL \$pid; sleep 1; fi
    vgchange -an $vg >/dev/null
    losetup -d $dev
    losetup $dev /tmp/s9-blank.img
    if vgs $vg >/dev/null 2>&1; then echo 'error: $vg still visible'; exit 1; fi
    echo stopped
  ")" || die "s9: taking the disk away failed: $out"
  timing "s9: disk gone" $((SECONDS - t))

  gexec "$target" 60 "
    bash $gdir/agent-start.sh >/dev/null 2>&1 </dev/null &
    echo \$! >/run/ferry-agent.pid
  " >/dev/null
  local lost
  lost="$(wait_key "/ferry/nodes/$target/volumes/$vol" '"phase" *: *"Lost"' 420)" \
    || die "s9: the volume was not reported Lost after the restart"
  log "s9: status $lost"
  if grep -q '"devicePath" *: *"' <<<"$lost"; then die "s9: a Lost volume still has a device path"; fi
  local pstatus
  pstatus="$(wait_key "/ferry/nodes/$target/pools/$pool" 'VolumeGroupNotFound' 120)" \
    || die "s9: the pool does not say its group is missing"
  grep -q 'not created again' <<<"$pstatus" || die "s9: the pool status does not say the group is not made anew: $pstatus"
  timing "s9: Lost after the restart" $((SECONDS - t))
  # A pool period (30 s) more: the agent had time to do what it must not.
  sleep 35
  out="$(gexec "$target" 60 "
    echo signatures=\$(wipefs --noheadings $dev | wc -l)
    echo lvs=\$(lvs --noheadings -o lv_name,lv_tags 2>/dev/null | grep -c 'ferry.volume=$vol' || true)
    echo vg=\$(vgs --noheadings -o vg_name $vg 2>/dev/null | tr -d ' ')
  ")" || die "s9: checking the blank disk failed: $out"
  printf '%s\n' "$out"
  grep -qx 'signatures=0' <<<"$out" || die "s9: the blank disk was written to (a new PV or VG on it)"
  grep -qx 'lvs=0' <<<"$out" || die "s9: an LV for $vol was made while its disk was missing"
  grep -qx 'vg=' <<<"$out" || die "s9: a group $vg was made while its disk was missing"
  etcdctl_ns get --print-value-only "/ferry/nodes/$target/volumes/$vol" | grep -q '"phase" *: *"Lost"' \
    || die "s9: the volume left Lost while its disk was missing"

  log "s9: the disk is back on $dev"
  # pvscan --cache is what udev's LVM rule runs when a disk appears; without udev in the guest,
  # LVM's scan hints (/run/lvm/hints) would go on saying the device, same name, holds no PV.
  gexec "$target" 60 "losetup -d $dev; losetup $dev /tmp/s9.img; pvscan --cache $dev >/dev/null" >/dev/null \
    || die "s9: reattaching failed"
  wait_key "/ferry/nodes/$target/volumes/$vol" '"phase" *: *"Ready"' 300 >/dev/null \
    || die "s9: the volume did not come back Ready with its disk"
  timing "s9: Ready again" $((SECONDS - t))
  out="$(gexec "$target" 120 "
    echo md5=\$(dd if=/dev/$vg/$vol bs=1M iflag=direct status=none | md5sum | cut -d' ' -f1)
    echo lvs=\$(lvs --noheadings -o lv_name $vg | tr -d ' ' | tr '\\n' ' ')
  ")" || die "s9: reading back failed: $out"
  printf '%s\n' "$out"
  grep -qx "md5=$sum" <<<"$out" || die "s9: the data came back different (expected md5 $sum)"
  grep -qx "lvs=$vol" <<<"$out" || die "s9: $vg holds other LVs than $vol"

  s9_intent ',"deletionRequested":true'
  local w=$SECONDS
  while [ -n "$(etcdctl_ns get --keys-only "/ferry/volumes/$vol")" ]; do
    ((SECONDS - w < 180)) || die "s9: $vol was not deleted within 180 s"
    sleep 1
  done
  etcdctl_ns del "/ferry/config/pools/$pool" >/dev/null
  w=$SECONDS
  while [ -n "$(etcdctl_ns get --keys-only "/ferry/nodes/$target/pools/$pool")" ]; do
    ((SECONDS - w < 60)) || die "s9: the pool status was not withdrawn"
    sleep 1
  done
  gexec "$target" 120 "vgremove -y $vg >/dev/null; pvremove -y $dev >/dev/null; losetup -d $dev; rm -f /tmp/s9.img /tmp/s9-blank.img" \
    >/dev/null || die "s9: cleanup in $target failed"
  timing "s9: total" $((SECONDS - t))
}
