# Scenario 10 (issue #13): LVM pool preparation refuses a disk that carries a file system. On the
# last guest, a loop device over a sparse file in the guest's tmpfs gets an ext4 with one file of
# random data (md5); a pool with prepare: true is configured on it. The pool status is unhealthy and
# names the device and the ext4 signature; after another pool period there is no PV or VG on the
# disk, blkid still sees the ext4, e2fsck finds it clean and the file reads back with its md5.
# Cleans up after itself.

scenario() {
  local target="${GUESTS[-1]}" pool=s10-pool vg=ferry-s10 t=$SECONDS out dev
  out="$(gexec "$target" 120 "
    truncate -s 64M /tmp/s10.img
    dev=\$(losetup --find --show /tmp/s10.img)
    mkfs.ext4 -q -F \$dev
    mkdir -p /mnt/s10 && mount \$dev /mnt/s10
    head -c 4194304 /dev/urandom >/mnt/s10/precious
    echo md5=\$(md5sum </mnt/s10/precious | cut -d' ' -f1)
    umount /mnt/s10
    echo dev=\$dev
  ")" || die "s10: making the file system failed: $out"
  dev="$(sed -n 's/^dev=//p' <<<"$out")"
  local sum
  sum="$(sed -n 's/^md5=//p' <<<"$out")"
  log "s10: ext4 on $dev in $target; pool $pool (lvm, prepare) on it"
  etcdctl_ns put "/ferry/config/pools/$pool" \
    "{\"schemaVersion\":1,\"name\":\"$pool\",\"node\":\"$target\",\"engine\":\"lvm\",\"source\":{\"volumeGroup\":\"$vg\",\"devices\":[\"$dev\"]},\"prepare\":true,\"labels\":{\"scenario\":\"s10\"}}" >/dev/null
  local status
  status="$(wait_key "/ferry/nodes/$target/pools/$pool" "refusing to create volume group $vg: $dev carries .*ext4" 240)" \
    || die "s10: the pool status does not name the file system on $dev"
  log "s10: pool status $status"
  grep -Eq '"healthy" *: *false' <<<"$status" || die "s10: the pool is reported healthy"
  timing "s10: refusal reported" $((SECONDS - t))
  # A pool period (30 s) more: the refusal holds on every attempt, not only the first.
  sleep 35
  out="$(gexec "$target" 120 "
    echo type=\$(blkid -p -o value -s TYPE $dev)
    if pvs $dev >/dev/null 2>&1; then echo pv=yes; else echo pv=no; fi
    if vgs $vg >/dev/null 2>&1; then echo vg=yes; else echo vg=no; fi
    if e2fsck -fn $dev >/dev/null 2>&1; then echo fsck=clean; else echo fsck=rc\$?; fi
    mount -o ro $dev /mnt/s10
    echo md5=\$(md5sum </mnt/s10/precious | cut -d' ' -f1)
    umount /mnt/s10
  ")" || die "s10: checking the file system failed: $out"
  printf '%s\n' "$out"
  grep -qx 'type=ext4' <<<"$out" || die "s10: blkid no longer sees ext4 on $dev"
  grep -qx 'pv=no' <<<"$out" || die "s10: $dev became a PV"
  grep -qx 'vg=no' <<<"$out" || die "s10: $vg was created"
  grep -qx 'fsck=clean' <<<"$out" || die "s10: e2fsck does not find the file system clean"
  grep -qx "md5=$sum" <<<"$out" || die "s10: the file on the file system changed"

  etcdctl_ns del "/ferry/config/pools/$pool" >/dev/null
  gexec "$target" 60 "losetup -d $dev; rm -f /tmp/s10.img; rmdir /mnt/s10" >/dev/null || die "s10: cleanup failed"
  timing "s10: total" $((SECONDS - t))
}
