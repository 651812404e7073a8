# Scenario 15 (issue #15): NVMe in-band authentication (DH-HMAC-CHAP) on the real kernel target.
# The cluster's nvmeAuth is turned to bidirectional for this scenario (the testbed runs with it off,
# lib.sh). A 64 MiB LVM volume on node-2 (a VG on a loop device in node-2's tmpfs) is attached to
# node-1: node-1's agent published its pair, the controller copies it for node-2, and node-2's agent
# sets it on nvmet's host entry before allowing node-1. Then, by hand from node-1 with nvme-cli:
#  - the right keys connect; 16 MiB written there are read back from the LV on node-2 (md5 equal);
#  - the right NQN without a key is refused (node-1's kernel: no key / authentication setup failed;
#    node-2's kernel created the controller "with DH-HMAC-CHAP" and it went no further);
#  - a wrong host key is refused by the target (node-2's kernel: "host response mismatch");
#  - a wrong controller key makes node-1 refuse the target (node-1's kernel: controller
#    authentication failed).
# Finally through the CSI node plugin on node-1 (Ferry's own connector with the agent's key file):
# node-stage, write, unstage, stage again, the same data. Needs a kernel with CONFIG_NVME_TARGET_AUTH
# and CONFIG_NVME_AUTH (bookworm-backports 6.12) and --guests 2 or more. Cleans up after itself.

# A random 32-byte DH-HMAC-CHAP secret in the DHHC-1 format (for the wrong keys).
random_dhchap_key() {
  python3 -c 'import os,zlib,base64,struct
k=os.urandom(32)
print("DHHC-1:00:"+base64.b64encode(k+struct.pack("<I",zlib.crc32(k))).decode()+":")'
}

scenario() {
  local target=node-2 consumer=node-1 pool=s15-pool vg=ferry-s15 vol=s15-vol t=$SECONDS out dev
  [ "${#GUESTS[@]}" -ge 2 ] || die "s15 needs --guests 2"

  out="$(gexec "$target" 60 "
    d=/sys/kernel/config/nvmet/hosts/nqn.2014-08.org.nvmexpress:uuid:15151515-0000-4000-8000-000000000015
    mkdir \$d
    if [ -e \$d/dhchap_key ]; then echo auth=yes; else echo auth=no; fi
    rmdir \$d
  ")" || die "s15: probing nvmet failed: $out"
  grep -q '^auth=yes' <<<"$out" || die "s15: $target's kernel target has no DH-HMAC-CHAP (CONFIG_NVME_TARGET_AUTH): this scenario needs the 6.12 kernel"

  etcdctl_ns put /ferry/config/global '{"schemaVersion":1,"nvmeAuth":"bidirectional"}' >/dev/null
  # Off again however this scenario ends: the scenarios after it connect without keys.
  trap "etcdctl_ns put /ferry/config/global '{\"schemaVersion\":1,\"nvmeAuth\":\"off\"}' >/dev/null || true" EXIT
  out="$(gexec "$target" 60 "truncate -s 128M /tmp/s15.img; echo dev=\$(losetup --find --show /tmp/s15.img)")" \
    || die "s15: no loop device: $out"
  dev="$(sed -n 's/^dev=//p' <<<"$out")"
  etcdctl_ns put "/ferry/config/pools/$pool" \
    "{\"schemaVersion\":1,\"name\":\"$pool\",\"node\":\"$target\",\"engine\":\"lvm\",\"source\":{\"volumeGroup\":\"$vg\",\"devices\":[\"$dev\"]},\"prepare\":true,\"labels\":{\"scenario\":\"s15\"}}" >/dev/null
  wait_key "/ferry/nodes/$target/pools/$pool" '"healthy" *: *true' 240 >/dev/null || die "s15: pool not healthy"
  local intent="{\"schemaVersion\":1,\"name\":\"$vol\",\"sizeBytes\":\"64Mi\",\"engine\":\"lvm\",\"positionAdvice\":\"MustRemote\",\"consumerNode\":\"$consumer\",\"poolSelector\":{\"scenario\":\"s15\"}"
  etcdctl_ns put "/ferry/volumes/$vol" "$intent}" >/dev/null
  wait_volume "$vol" 240 --for created >/dev/null || die "s15: the volume was not created"

  local hostnqn status nqn addr port lv
  hostnqn="$(etcdctl_ns get --print-value-only "/ferry/nodes/$consumer/registration" | json_get hostNqn)"
  [ -n "$(etcdctl_ns get --keys-only "/ferry/secrets/hosts/$consumer")" ] || die "s15: $consumer's agent did not publish its keys"
  etcdctl_ns put "/ferry/attachments/$vol/$consumer" \
    "{\"schemaVersion\":1,\"volume\":\"$vol\",\"node\":\"$consumer\",\"hostNqn\":\"$hostnqn\",\"readOnly\":false}" >/dev/null
  status="$(wait_volume "$vol" 240 --for served --node "$consumer")" || die "s15: the volume was not exported to $consumer"
  [ -n "$(etcdctl_ns get --keys-only "/ferry/secrets/exports/$target/$consumer")" ] \
    || die "s15: exported, but the controller's copy of $consumer's keys for $target is missing"
  nqn="$(json_get export.nqn <<<"$status")"
  addr="$(json_get export.address <<<"$status")"
  port="$(json_get export.port <<<"$status")"
  lv="$(json_get devicePath <<<"$status")"
  out="$(gexec "$target" 60 "cd /sys/kernel/config/nvmet/hosts/$hostnqn; echo hash=\$(cat dhchap_hash); echo group=\$(cat dhchap_dhgroup); [ -n \"\$(cat dhchap_key)\" ] && [ -n \"\$(cat dhchap_ctrl_key)\" ] && echo keys=set")" \
    || die "s15: reading the host entry failed: $out"
  grep -q '^keys=set' <<<"$out" && grep -q '^hash=hmac(sha256)' <<<"$out" || die "s15: the host entry does not carry the keys: $out"
  timing "s15: exported to $consumer with DH-HMAC-CHAP" $((SECONDS - t))

  # The consumer's own pair, from the file its agent keeps (never logged here).
  local keys hostkey ctrlkey wrong
  keys="$(gexec "$consumer" 60 "cat /var/lib/ferry/nvme-auth.json")" || die "s15: $consumer has no key file"
  hostkey="$(json_get hostKey <<<"$keys")"
  ctrlkey="$(json_get ctrlKey <<<"$keys")"
  wrong="$(random_dhchap_key)"

  log "s15: the right keys connect; 16 MiB written on $consumer are read back on $target"
  out="$(gexec "$consumer" 300 "
    $(nvme_connect_text "$nqn" "$addr" "$port" | sed "s|^nvme connect .*|nvme connect -t tcp -a $addr -s $port -n $nqn --dhchap-secret=$hostkey --dhchap-ctrl-secret=$ctrlkey >\&2|")
    head -c 16777216 /dev/urandom >/tmp/s15.data
    dd if=/tmp/s15.data of=\$dev bs=1M oflag=direct conv=fsync status=none
    echo md5=\$(md5sum </tmp/s15.data | cut -d' ' -f1)
    nvme disconnect -n $nqn >/dev/null
  ")" || die "s15: connecting with the right keys failed: $(grep -v DHHC <<<"$out")"
  local sum_remote sum_lv
  sum_remote="$(sed -n 's/^md5=//p' <<<"$out")"
  sum_lv="$(gexec "$target" 60 "dd if=$lv bs=1M count=16 iflag=direct status=none | md5sum | cut -d' ' -f1")"
  log "s15: md5 written on $consumer=$sum_remote, read on $target=$sum_lv"
  [ -n "$sum_remote" ] && [ "$sum_remote" = "$sum_lv" ] || die "s15: data differs"

  # refused <what> <nvme connect options>: the connect must fail; prints the new dmesg lines of both sides.
  refused() {
    local what="$1" opts="$2" before_t before_c
    before_t="$(gexec "$target" 30 "dmesg | wc -l")"
    before_c="$(gexec "$consumer" 30 "dmesg | wc -l")"
    if out="$(gexec "$consumer" 120 "nvme connect -t tcp -a $addr -s $port -n $nqn --ctrl-loss-tmo 1 $opts 2>&1")"; then
      gexec "$consumer" 60 "nvme disconnect -n $nqn >/dev/null 2>&1 || true" >/dev/null
      die "s15: a connect $what succeeded"
    fi
    sleep 2
    TARGET_LOG="$(gexec "$target" 30 "dmesg | tail -n +$((before_t + 1))")"
    CONSUMER_LOG="$(gexec "$consumer" 30 "dmesg | tail -n +$((before_c + 1))")"
    gexec "$consumer" 60 "nvme disconnect -n $nqn >/dev/null 2>&1 || true" >/dev/null
    [ -z "$(gexec "$consumer" 30 "$(nvme_ctrls_text "$nqn")")" ] || die "s15: a controller of $nqn is left after the connect $what"
    log "s15: refused $what; target: $(tr '\n' ' ' <<<"$TARGET_LOG" | cut -c1-300); host: $(tr '\n' ' ' <<<"$CONSUMER_LOG" | cut -c1-300)"
  }

  log "s15: the right NQN without a key must be refused"
  refused "without a key" ""
  grep -Eiq "controller [0-9]+ for subsystem $nqn for NQN $hostnqn.*with DH-HMAC-CHAP" <<<"$TARGET_LOG" \
    || die "s15: $target's kernel did not ask $hostnqn for DH-HMAC-CHAP"
  grep -Eq 'no key|authentication setup failed' <<<"$CONSUMER_LOG" || die "s15: $consumer's kernel did not say it had no key"

  log "s15: a wrong host key must be refused by the target"
  refused "with a wrong host key" "--dhchap-secret=$wrong"
  grep -Eq 'qid 0 host response mismatch' <<<"$TARGET_LOG" || die "s15: $target's kernel did not log the host response mismatch"

  log "s15: a wrong controller key makes $consumer refuse the target"
  refused "with a wrong controller key" "--dhchap-secret=$hostkey --dhchap-ctrl-secret=$wrong"
  grep -Eiq 'controller authentication failed|controller response mismatch' <<<"$CONSUMER_LOG" \
    || die "s15: $consumer's kernel did not refuse the target's controller response"
  timing "s15: refusals checked" $((SECONDS - t))

  # Ferry's own connector: the CSI node plugin reads the agent's key file and connects with it.
  local staging="$TB_CSI_STAGING/$vol" pod="$TB_CSI_PODS/p15/$vol" sum_csi sum_again
  log "s15: CSI node-stage of $vol on $consumer with the agent's keys"
  csi_stage "$consumer" "$vol" || die "s15: node-stage failed"
  csi_publish "$consumer" "$vol" p15 || die "s15: node-publish failed"
  out="$(gexec "$consumer" 300 "
    head -c 8388608 /dev/urandom >$pod/data
    sync
    echo md5=\$(md5sum <$pod/data | cut -d' ' -f1)
  ")" || die "s15: writing through the CSI mount failed: $out"
  sum_csi="$(sed -n 's/^md5=//p' <<<"$out")"
  csi_unpublish "$consumer" "$vol" p15 || die "s15: node-unpublish failed"
  csi_unstage "$consumer" "$vol" || die "s15: node-unstage failed"
  csi_stage "$consumer" "$vol" || die "s15: second node-stage failed"
  csi_publish "$consumer" "$vol" p15 || die "s15: second node-publish failed"
  sum_again="$(gexec "$consumer" 120 "echo 3 >/proc/sys/vm/drop_caches; md5sum <$pod/data | cut -d' ' -f1")"
  [ -n "$sum_csi" ] && [ "$sum_csi" = "$sum_again" ] || die "s15: data differs after re-stage ($sum_csi, $sum_again)"
  csi_unpublish "$consumer" "$vol" p15 || die "s15: node-unpublish failed"
  csi_unstage "$consumer" "$vol" || die "s15: node-unstage failed"
  if grep -qF "$hostkey" "$RUN/guests/$consumer/csi.log" "$RUN/guests/$consumer/agent.log" "$RUN/guests/$target/agent.log" "$RUN/controller.log"; then
    die "s15: a key appears in a Ferry log"
  fi
  timing "s15: staged through CSI with DH-HMAC-CHAP" $((SECONDS - t))

  etcdctl_ns del "/ferry/attachments/$vol/$consumer" >/dev/null
  etcdctl_ns put "/ferry/volumes/$vol" "$intent,\"deletionRequested\":true}" >/dev/null
  local w=$SECONDS
  while [ -n "$(etcdctl_ns get --keys-only "/ferry/volumes/$vol")" ]; do
    ((SECONDS - w < 180)) || die "s15: the volume was not deleted"
    sleep 1
  done
  w=$SECONDS
  while [ -n "$(etcdctl_ns get --keys-only "/ferry/secrets/exports/$target/$consumer")" ]; do
    ((SECONDS - w < 60)) || die "s15: the copy of $consumer's keys stayed on $target after the export went"
    sleep 1
  done
  etcdctl_ns del "/ferry/config/pools/$pool" >/dev/null
  w=$SECONDS
  while [ -n "$(etcdctl_ns get --keys-only "/ferry/nodes/$target/pools/$pool")" ]; do
    ((SECONDS - w < 60)) || die "s15: the pool status was not withdrawn"
    sleep 1
  done
  gexec "$target" 120 "vgremove -y $vg >/dev/null; pvremove -y $dev >/dev/null; losetup -d $dev; rm -f /tmp/s15.img" >/dev/null \
    || die "s15: cleanup in $target failed"
  etcdctl_ns put /ferry/config/global '{"schemaVersion":1,"nvmeAuth":"off"}' >/dev/null
  timing "s15: total" $((SECONDS - t))
}
