# Scenario 16 (issue #15 item 5): rotating a host's DH-HMAC-CHAP keys under a mounted volume.
# nvmeAuth is turned to bidirectional for the scenario (the testbed runs with it off, lib.sh). A
# 64 MiB LVM volume on node-2 (a VG on a loop device in node-2's tmpfs) is staged and published
# through the CSI node plugin on node-1 with the agent's keys; 8 MiB are written (md5). Then
# `ferryctl security rotate-keys node-1`:
#  - it returns once node-1 uses generation 2: node-2's host entry carries the new keys, node-1's
#    live controller carries them in sysfs, node-1's kernel logged its re-authentications (one per
#    key: the rotation switches the controller key, then the host key), the key file holds only
#    generation 2;
#  - the live controller never leaves "live" during the rotation (its state sampled every 0.2 s),
#    node-2's nvmet logs no fatal error and node-1's kernel no failed authentication;
#  - the mounted filesystem keeps reading (the 8 MiB, md5 after dropping caches) and writing
#    (8 MiB more, md5), and still after a reset of the controller (a reconnect, with the new keys);
# Unstaged, then by hand from node-1 with nvme-cli: the old keys are refused by the target (node-2's
# kernel: "host response mismatch"), the new keys connect. Staged again: both files intact. No key
# in any Ferry log or in the command's output. Then nvmeAuth goes back to off: node-2's host entry
# for node-1 loses its keys within 60 s and the volume stages again without keys, data intact.
# Needs the 6.12 kernel and --guests 2. Cleans up.

scenario() {
  local target=node-2 consumer=node-1 pool=s16-pool vg=ferry-s16 vol=s16-vol t=$SECONDS out dev w
  [ "${#GUESTS[@]}" -ge 2 ] || die "s16 needs --guests 2"

  out="$(gexec "$target" 60 "
    d=/sys/kernel/config/nvmet/hosts/nqn.2014-08.org.nvmexpress:uuid:16161616-0000-4000-8000-000000000016
    mkdir \$d
    if [ -e \$d/dhchap_key ]; then echo auth=yes; else echo auth=no; fi
    rmdir \$d
  ")" || die "s16: probing nvmet failed: $out"
  grep -q '^auth=yes' <<<"$out" || die "s16: $target's kernel target has no DH-HMAC-CHAP (CONFIG_NVME_TARGET_AUTH): this scenario needs the 6.12 kernel"

  etcdctl_ns put /ferry/config/global '{"schemaVersion":1,"nvmeAuth":"bidirectional"}' >/dev/null
  # Off again however this scenario ends: the scenarios after it connect without keys.
  trap "etcdctl_ns put /ferry/config/global '{\"schemaVersion\":1,\"nvmeAuth\":\"off\"}' >/dev/null || true" EXIT
  out="$(gexec "$target" 60 "truncate -s 128M /tmp/s16.img; echo dev=\$(losetup --find --show /tmp/s16.img)")" \
    || die "s16: no loop device: $out"
  dev="$(sed -n 's/^dev=//p' <<<"$out")"
  etcdctl_ns put "/ferry/config/pools/$pool" \
    "{\"schemaVersion\":1,\"name\":\"$pool\",\"node\":\"$target\",\"engine\":\"lvm\",\"source\":{\"volumeGroup\":\"$vg\",\"devices\":[\"$dev\"]},\"prepare\":true,\"labels\":{\"scenario\":\"s16\"}}" >/dev/null
  wait_key "/ferry/nodes/$target/pools/$pool" '"healthy" *: *true' 240 >/dev/null || die "s16: pool not healthy"
  local intent="{\"schemaVersion\":1,\"name\":\"$vol\",\"sizeBytes\":\"64Mi\",\"engine\":\"lvm\",\"positionAdvice\":\"MustRemote\",\"consumerNode\":\"$consumer\",\"poolSelector\":{\"scenario\":\"s16\"}"
  etcdctl_ns put "/ferry/volumes/$vol" "$intent}" >/dev/null
  wait_volume "$vol" 240 --for created >/dev/null || die "s16: the volume was not created"
  local hostnqn status nqn addr port
  # On a loaded host an agent's lease can lapse and its registration be written again a moment later.
  wait_key "/ferry/nodes/$consumer/registration" '"hostNqn"' 120 >/dev/null || die "s16: $consumer is not registered"
  hostnqn="$(etcdctl_ns get --print-value-only "/ferry/nodes/$consumer/registration" | json_get hostNqn)"
  [ -n "$hostnqn" ] || die "s16: no host NQN in $consumer's registration"
  etcdctl_ns put "/ferry/attachments/$vol/$consumer" \
    "{\"schemaVersion\":1,\"volume\":\"$vol\",\"node\":\"$consumer\",\"hostNqn\":\"$hostnqn\",\"readOnly\":false}" >/dev/null
  status="$(wait_volume "$vol" 240 --for served --node "$consumer")" || die "s16: the volume was not exported to $consumer"
  nqn="$(json_get export.nqn <<<"$status")"
  addr="$(json_get export.address <<<"$status")"
  port="$(json_get export.port <<<"$status")"

  local staging="$TB_CSI_STAGING/$vol" pod="$TB_CSI_PODS/p16/$vol" sum_a sum_b
  csi_stage "$consumer" "$vol" || die "s16: node-stage failed"
  csi_publish "$consumer" "$vol" p16 || die "s16: node-publish failed"
  out="$(gexec "$consumer" 300 "
    head -c 8388608 /dev/urandom >$pod/a
    sync
    echo md5=\$(md5sum <$pod/a | cut -d' ' -f1)
  ")" || die "s16: writing through the CSI mount failed: $out"
  sum_a="$(sed -n 's/^md5=//p' <<<"$out")"
  timing "s16: staged with generation 1, written" $((SECONDS - t))

  # The keys are read from the agent's file into this shell only (never logged).
  local keys old_host old_ctrl new_host new_ctrl ctrl before_c
  keys="$(gexec "$consumer" 60 "cat /var/lib/ferry/nvme-auth.json")" || die "s16: $consumer has no key file"
  old_host="$(json_get hostKey <<<"$keys")"
  old_ctrl="$(json_get ctrlKey <<<"$keys")"
  [ "$(json_get generation <<<"$keys")" = 1 ] || die "s16: $consumer does not start at generation 1"
  ctrl="$(gexec "$consumer" 30 "$(nvme_ctrls_text "$nqn")" | awk '{print $1}')"
  [ "$(wc -w <<<"$ctrl")" = 1 ] || die "s16: expected one controller of $nqn on $consumer, got: $ctrl"
  before_c="$(gexec "$consumer" 30 "dmesg | wc -l")"
  local before_r
  before_r="$(gexec "$target" 30 "dmesg | wc -l")"
  # Sampled in the guest, detached, until the rotation is checked: a reset between two samples of a
  # controller that reconnects within 0.2 s could hide, but not nvmet's fatal error, checked below.
  gexec "$consumer" 30 "setsid sh -c 'while :; do cat /sys/class/nvme/$ctrl/state; sleep 0.2; done' >/tmp/s16-states 2>&1 </dev/null & echo \$! >/tmp/s16-sampler.pid" >/dev/null \
    || die "s16: cannot sample $ctrl's state"

  log "s16: ferryctl security rotate-keys $consumer under the mounted volume"
  out="$(ferryctl_ns security rotate-keys "$consumer" --timeout 240 2>&1)" || die "s16: rotate-keys failed: $out"
  log "s16: $(tr '\n' ' ' <<<"$out")"
  grep -Fq -e "$old_host" -e "$old_ctrl" <<<"$out" && die "s16: rotate-keys printed a key"
  timing "s16: rotated to generation 2" $((SECONDS - t))

  keys="$(gexec "$consumer" 60 "cat /var/lib/ferry/nvme-auth.json")"
  [ "$(json_get generation <<<"$keys")" = 2 ] || die "s16: the key file is not at generation 2"
  grep -Fq -e "$old_host" -e "$old_ctrl" <<<"$keys" && die "s16: the key file still holds generation 1"
  grep -q '"next"' <<<"$keys" && die "s16: the key file still holds a next generation"
  new_host="$(json_get hostKey <<<"$keys")"
  new_ctrl="$(json_get ctrlKey <<<"$keys")"
  out="$(gexec "$target" 30 "cat /sys/kernel/config/nvmet/hosts/$hostnqn/dhchap_key /sys/kernel/config/nvmet/hosts/$hostnqn/dhchap_ctrl_key")"
  grep -Fq "$new_host" <<<"$out" && grep -Fq "$new_ctrl" <<<"$out" || die "s16: $target's host entry does not carry generation 2"
  out="$(gexec "$consumer" 30 "cat /sys/class/nvme/$ctrl/dhchap_secret /sys/class/nvme/$ctrl/dhchap_ctrl_secret")"
  grep -Fq "$new_host" <<<"$out" && grep -Fq "$new_ctrl" <<<"$out" || die "s16: the live controller $ctrl does not carry generation 2"
  out="$(gexec "$consumer" 30 "kill \$(cat /tmp/s16-sampler.pid); sort /tmp/s16-states | uniq -c")"
  log "s16: $ctrl's states during the rotation: $(tr '\n' ' ' <<<"$out")"
  grep -v ' live$' <<<"$out" | grep -q . && die "s16: $ctrl left the live state during the rotation: $out"
  out="$(gexec "$target" 30 "dmesg | tail -n +$((before_r + 1))")"
  grep -qi 'fatal error' <<<"$out" && die "s16: $target's nvmet failed a controller during the rotation: $(tr '\n' ' ' <<<"$out" | cut -c1-400)"
  out="$(gexec "$consumer" 30 "dmesg | tail -n +$((before_c + 1))")"
  log "s16: $consumer's kernel during the rotation: $(grep -i "$ctrl" <<<"$out" | tr '\n' ' ' | cut -c1-400)"
  [ "$(grep -c "$ctrl: re-authenticating controller" <<<"$out")" -ge 2 ] \
    || die "s16: $consumer's kernel did not re-authenticate $ctrl once per key"
  [ "$(grep -c "$ctrl: qid 0: controller authenticated" <<<"$out")" -ge 2 ] \
    || die "s16: $consumer's kernel did not complete both re-authentications of $ctrl"
  grep -Ei "$ctrl.*(authentication failed|error)" <<<"$out" && die "s16: $consumer's kernel reported an authentication error"

  log "s16: the mounted filesystem keeps reading and writing"
  out="$(gexec "$consumer" 300 "
    echo 3 >/proc/sys/vm/drop_caches
    echo a=\$(md5sum <$pod/a | cut -d' ' -f1)
    head -c 8388608 /dev/urandom >$pod/b
    sync
    echo b=\$(md5sum <$pod/b | cut -d' ' -f1)
  ")" || die "s16: reading or writing the mounted volume after the rotation failed: $out"
  [ "$(sed -n 's/^a=//p' <<<"$out")" = "$sum_a" ] || die "s16: the first file differs after the rotation"
  sum_b="$(sed -n 's/^b=//p' <<<"$out")"
  log "s16: a reset of $ctrl reconnects it with the new keys"
  out="$(gexec "$consumer" 120 "
    echo 1 >/sys/class/nvme/$ctrl/reset_controller
    for i in \$(seq 1 100); do [ \"\$(cat /sys/class/nvme/$ctrl/state)\" = live ] && break; sleep 0.3; done
    echo state=\$(cat /sys/class/nvme/$ctrl/state)
    echo 3 >/proc/sys/vm/drop_caches
    echo b=\$(md5sum <$pod/b | cut -d' ' -f1)
  ")" || die "s16: reading after the reset failed: $out"
  grep -q '^state=live' <<<"$out" || die "s16: $ctrl did not reconnect with the new keys: $out"
  [ "$(sed -n 's/^b=//p' <<<"$out")" = "$sum_b" ] || die "s16: the second file differs after the reset"
  csi_unpublish "$consumer" "$vol" p16 || die "s16: node-unpublish failed"
  csi_unstage "$consumer" "$vol" || die "s16: node-unstage failed"
  timing "s16: mounted volume used through the rotation" $((SECONDS - t))

  local before_t
  log "s16: a fresh connect with the old keys must be refused"
  before_t="$(gexec "$target" 30 "dmesg | wc -l")"
  if gexec "$consumer" 120 "nvme connect -t tcp -a $addr -s $port -n $nqn --ctrl-loss-tmo 1 --dhchap-secret=$old_host --dhchap-ctrl-secret=$old_ctrl >/dev/null 2>&1"; then
    gexec "$consumer" 60 "nvme disconnect -n $nqn >/dev/null 2>&1 || true" >/dev/null
    die "s16: a connect with the old keys succeeded"
  fi
  sleep 2
  out="$(gexec "$target" 30 "dmesg | tail -n +$((before_t + 1))")"
  gexec "$consumer" 60 "nvme disconnect -n $nqn >/dev/null 2>&1 || true" >/dev/null
  log "s16: target: $(tr '\n' ' ' <<<"$out" | cut -c1-300)"
  grep -Eq 'host response mismatch' <<<"$out" || die "s16: $target's kernel did not log the old key's host response mismatch"
  log "s16: a fresh connect with the new keys succeeds"
  out="$(gexec "$consumer" 120 "
    $(nvme_connect_text "$nqn" "$addr" "$port" | sed "s|^nvme connect .*|nvme connect -t tcp -a $addr -s $port -n $nqn --dhchap-secret=$new_host --dhchap-ctrl-secret=$new_ctrl >\&2|")
    echo connected=\$dev
    nvme disconnect -n $nqn >/dev/null
  ")" || die "s16: connecting with the new keys failed: $(grep -v DHHC <<<"$out")"
  grep -q '^connected=/dev/nvme' <<<"$out" || die "s16: no device with the new keys"

  csi_stage "$consumer" "$vol" || die "s16: node-stage after the rotation failed"
  csi_publish "$consumer" "$vol" p16 || die "s16: node-publish after the rotation failed"
  out="$(gexec "$consumer" 120 "echo 3 >/proc/sys/vm/drop_caches; echo a=\$(md5sum <$pod/a | cut -d' ' -f1); echo b=\$(md5sum <$pod/b | cut -d' ' -f1)")"
  [ "$(sed -n 's/^a=//p' <<<"$out")" = "$sum_a" ] && [ "$(sed -n 's/^b=//p' <<<"$out")" = "$sum_b" ] \
    || die "s16: data differs after staging again: $out"
  csi_unpublish "$consumer" "$vol" p16 || die "s16: node-unpublish failed"
  csi_unstage "$consumer" "$vol" || die "s16: node-unstage failed"
  if grep -qF -e "$old_host" -e "$new_host" -e "$old_ctrl" -e "$new_ctrl" "$RUN/guests/$consumer/csi.log" \
      "$RUN/guests/$consumer/agent.log" "$RUN/guests/$target/agent.log" "$RUN/controller.log"; then
    die "s16: a key appears in a Ferry log"
  fi
  timing "s16: old keys refused, new keys connect, data intact" $((SECONDS - t))

  # nvmeAuth back to off: nvmet asks every host whose entry carries a key to authenticate, on every
  # subsystem, so the agent must take the keys off, or the next stage (which comes without keys)
  # is refused with "Required key not available".
  log "s16: nvmeAuth off again: the keys leave $target's host entry, a stage without keys works"
  etcdctl_ns put /ferry/config/global '{"schemaVersion":1,"nvmeAuth":"off"}' >/dev/null
  w=$SECONDS
  while :; do
    out="$(gexec "$target" 30 "echo key=\$(cat /sys/kernel/config/nvmet/hosts/$hostnqn/dhchap_key)+\$(cat /sys/kernel/config/nvmet/hosts/$hostnqn/dhchap_ctrl_key)")"
    grep -qx 'key=+' <<<"$out" && break
    ((SECONDS - w < 60)) || die "s16: $target's host entry for $consumer still carries keys 60 s after nvmeAuth went off"
    sleep 2
  done
  csi_stage "$consumer" "$vol" || die "s16: node-stage with nvmeAuth off failed"
  csi_publish "$consumer" "$vol" p16 || die "s16: node-publish with nvmeAuth off failed"
  out="$(gexec "$consumer" 120 "echo 3 >/proc/sys/vm/drop_caches; echo a=\$(md5sum <$pod/a | cut -d' ' -f1)")"
  [ "$(sed -n 's/^a=//p' <<<"$out")" = "$sum_a" ] || die "s16: data differs when staged without keys: $out"
  csi_unpublish "$consumer" "$vol" p16 || die "s16: node-unpublish failed"
  csi_unstage "$consumer" "$vol" || die "s16: node-unstage failed"
  timing "s16: auth off again, staged without keys" $((SECONDS - t))

  etcdctl_ns del "/ferry/attachments/$vol/$consumer" >/dev/null
  etcdctl_ns put "/ferry/volumes/$vol" "$intent,\"deletionRequested\":true}" >/dev/null
  w=$SECONDS
  while [ -n "$(etcdctl_ns get --keys-only "/ferry/volumes/$vol")" ]; do
    ((SECONDS - w < 180)) || die "s16: the volume was not deleted"
    sleep 1
  done
  etcdctl_ns del "/ferry/config/pools/$pool" >/dev/null
  w=$SECONDS
  while [ -n "$(etcdctl_ns get --keys-only "/ferry/nodes/$target/pools/$pool")" ]; do
    ((SECONDS - w < 60)) || die "s16: the pool status was not withdrawn"
    sleep 1
  done
  gexec "$target" 120 "vgremove -y $vg >/dev/null; pvremove -y $dev >/dev/null; losetup -d $dev; rm -f /tmp/s16.img" >/dev/null \
    || die "s16: cleanup in $target failed"
  etcdctl_ns put /ferry/config/global '{"schemaVersion":1,"nvmeAuth":"off"}' >/dev/null
  timing "s16: total" $((SECONDS - t))
}
