# Scenario 5: the agent is killed with SIGKILL in the middle of creating and exporting a volume,
# then started again. Storage on node-1's third disk (/dev/vdc; its other disks belong to
# scenarios 1 and 3), consumer node-2. The volume intent and an attachment are written together,
# so the agent has to create the LV and then export it; a watcher inside node-1 kills the agent's
# JVM the moment the agent's lvcreate for the volume runs (a thick volume is made as <vol>.new and
# zeroed before it gets its name; or, should the lvcreate be missed, the moment the
# LV's device appears), before anything was exported. The orphaned lvcreate runs on, as it would
# after a real crash. After the restart: the volume is Ready and exported, exactly one LV carries
# its tag and nothing else is in the VG, exactly one nvmet subsystem with namespace 1 on the LV
# and the port link, and node-2 writes over NVMe/TCP what node-1 reads back from the LV.
# Needs --guests 2 or more.

scenario() {
  local target=node-1 consumer=node-2 pool=s5-pool vg=ferry-s5 vol=s5-vol t=$SECONDS
  local gdir="/testbed/guests/$target"
  [ "${#GUESTS[@]}" -ge 2 ] || die "s5 needs --guests 2"

  # The pool selector keeps the volume on this scenario's disk (MustRemote alone lets the scheduler
  # pick any pool of node-1, e.g. scenario 1's).
  log "s5: pool $pool (lvm, prepare, /dev/vdc) on $target"
  etcdctl_ns put "/ferry/config/pools/$pool" \
    "{\"schemaVersion\":1,\"name\":\"$pool\",\"node\":\"$target\",\"engine\":\"lvm\",\"source\":{\"volumeGroup\":\"$vg\",\"devices\":[\"/dev/vdc\"]},\"prepare\":true,\"labels\":{\"scenario\":\"s5\"}}" >/dev/null
  wait_key "/ferry/nodes/$target/pools/$pool" '"healthy" *: *true' 240 >/dev/null
  timing "s5: pool healthy" $((SECONDS - t))

  log "s5: watcher in $target: SIGKILL to the agent when its lvcreate for $vol runs"
  rm -f "$RUN/guests/$target/s5-watch.log"
  gexec "$target" 60 "
    cat >/run/s5-watch.sh <<'WATCH'
pid=\$(cat /run/ferry-agent.pid)
[ \"\$(cat /proc/\$pid/comm)\" = java ] || { echo \"error: /run/ferry-agent.pid (\$pid) is not the agent's JVM\"; exit 1; }
what=''
for i in \$(seq 1 3000); do
  if pgrep -f 'lvcreate -y -n $vol(\\.new)? ' >/dev/null; then what='lvcreate running'; break; fi
  if [ -e /dev/$vg/$vol ]; then what='LV device present'; break; fi
  sleep 0.1
done
[ -n \"\$what\" ] || { echo 'error: no lvcreate for $vol seen in 300 s'; exit 1; }
kill -KILL \$pid
echo \"killed=\$pid at: \$what\"
ps -eo pid,ppid,args | grep -E '[l]vcreate|[l]vs|[A]gentMain' || true
echo subsystems: \$(ls /sys/kernel/config/nvmet/subsystems)
WATCH
    setsid bash /run/s5-watch.sh >$gdir/s5-watch.log 2>&1 </dev/null &
  " >/dev/null

  log "s5: volume $vol (256Mi, MustRemote for $consumer) and its attachment"
  etcdctl_ns put "/ferry/volumes/$vol" \
    "{\"schemaVersion\":1,\"name\":\"$vol\",\"sizeBytes\":\"256Mi\",\"engine\":\"lvm\",\"positionAdvice\":\"MustRemote\",\"consumerNode\":\"$consumer\",\"poolSelector\":{\"scenario\":\"s5\"}}" >/dev/null
  local hostnqn
  hostnqn="$(etcdctl_ns get --print-value-only "/ferry/nodes/$consumer/registration" | json_get hostNqn)"
  etcdctl_ns put "/ferry/attachments/$vol/$consumer" \
    "{\"schemaVersion\":1,\"volume\":\"$vol\",\"node\":\"$consumer\",\"hostNqn\":\"$hostnqn\",\"readOnly\":false}" >/dev/null

  local w=$SECONDS
  until grep -q -e '^killed=' -e '^error' "$RUN/guests/$target/s5-watch.log" 2>/dev/null; do
    ((SECONDS - w < 300)) || die "s5: the watcher in $target reported nothing"
    sleep 0.5
  done
  sleep 1
  cat "$RUN/guests/$target/s5-watch.log"
  grep -q '^killed=' "$RUN/guests/$target/s5-watch.log" || die "s5: the watcher failed"
  timing "s5: agent killed during create" $((SECONDS - t))
  local at_kill
  at_kill="$(etcdctl_ns get --print-value-only "/ferry/nodes/$target/volumes/$vol")"
  log "s5: status at the kill: ${at_kill:-<none>}"
  if grep -q '"allowedHostNqns"' <<<"$at_kill"; then die "s5: the kill came after the export; not in the middle"; fi
  gexec "$target" 60 "pid=\$(cat /run/ferry-agent.pid); ! kill -0 \$pid 2>/dev/null" >/dev/null \
    || die "s5: the agent survived SIGKILL"

  log "s5: agent restarted"
  gexec "$target" 60 "
    bash $gdir/agent-start.sh >/dev/null 2>&1 </dev/null &
    echo \$! >/run/ferry-agent.pid
  " >/dev/null
  local status
  status="$(wait_key "/ferry/nodes/$target/volumes/$vol" "\"phase\" *: *\"Ready\".*\"allowedHostNqns\" *: *\\[\"$hostnqn\"\\]" 300)" \
    || die "s5: the volume did not become Ready and exported after the restart"
  timing "s5: Ready and exported after the restart" $((SECONDS - t))
  log "s5: status $status"
  local work gen nqn addr port dev
  work="$(etcdctl_ns get --print-value-only "/ferry/work/$target/volumes/$vol")"
  [ -n "$work" ] || die "s5: no work item at /ferry/work/$target/volumes/$vol"
  gen="$(json_get generation <<<"$work")"
  [ "$(json_get observedGeneration <<<"$status")" = "$gen" ] || die "s5: observedGeneration is not the work item's $gen"
  nqn="$(json_get export.nqn <<<"$status")"
  addr="$(json_get export.address <<<"$status")"
  port="$(json_get export.port <<<"$status")"
  dev="$(json_get devicePath <<<"$status")"
  [ "$dev" = "/dev/$vg/$vol" ] || die "s5: devicePath is '$dev', expected /dev/$vg/$vol"

  log "s5: exactly one LV for $vol, nothing else in $vg"
  local out
  out="$(gexec "$target" 120 "lvs --reportformat json -o lv_name,vg_name,lv_tags,lv_size --units b --nosuffix")"
  python3 -c '
import json, sys
vol, vg = sys.argv[1], sys.argv[2]
lvs = json.load(sys.stdin)["report"][0]["lv"]
tagged = [lv for lv in lvs if "ferry.volume=" + vol in lv["lv_tags"].split(",")]
in_vg = [lv["lv_name"] for lv in lvs if lv["vg_name"] == vg]
print("tagged ferry.volume=%s: %s; in %s: %s" % (vol, [(lv["vg_name"], lv["lv_name"], lv["lv_size"]) for lv in tagged], vg, in_vg))
ok = len(tagged) == 1 and tagged[0]["vg_name"] == vg and tagged[0]["lv_name"] == vol \
    and int(tagged[0]["lv_size"]) == 268435456 and in_vg == [vol]
sys.exit(0 if ok else 1)' "$vol" "$vg" <<<"$out" || die "s5: not exactly one LV for $vol: $out"

  log "s5: exactly one nvmet subsystem for $vol, namespace and port link"
  out="$(gexec "$target" 60 "
    cd /sys/kernel/config/nvmet
    echo subsystems=\$(ls subsystems | grep -c ':vol:$vol\$' || true)
    echo enable=\$(cat subsystems/$nqn/namespaces/1/enable)
    echo device=\$(cat subsystems/$nqn/namespaces/1/device_path)
    echo namespaces=\$(ls subsystems/$nqn/namespaces | tr '\n' ' ')
    echo allow_any=\$(cat subsystems/$nqn/attr_allow_any_host)
    echo hosts=\$(ls subsystems/$nqn/allowed_hosts | tr '\n' ' ')
    for p in ports/*; do
      if [ -L \$p/subsystems/$nqn ]; then echo port=\$(cat \$p/addr_traddr):\$(cat \$p/addr_trsvcid); fi
    done
  ")" || die "s5: reading configfs failed: $out"
  printf '%s\n' "$out"
  grep -qx 'subsystems=1' <<<"$out" || die "s5: not exactly one subsystem for $vol"
  grep -qx 'enable=1' <<<"$out" || die "s5: namespace 1 is not enabled"
  grep -qx "device=$dev" <<<"$out" || die "s5: namespace 1 is not backed by $dev"
  grep -qx 'namespaces=1 *' <<<"$out" || die "s5: the subsystem has other namespaces than 1"
  grep -qx 'allow_any=0' <<<"$out" || die "s5: the subsystem allows any host"
  grep -qx "hosts=$hostnqn *" <<<"$out" || die "s5: allowed hosts are not exactly $consumer's"
  [ "$(grep -c '^port=' <<<"$out")" = 1 ] && grep -qx "port=$addr:$port" <<<"$out" \
    || die "s5: no single port link on $addr:$port"

  log "s5: $consumer writes 16 MiB over NVMe/TCP, $target reads them from the LV"
  local sum_remote sum_local
  out="$(gexec "$consumer" 300 "
    $(nvme_connect_text "$nqn" "$addr" "$port")
    head -c 16777216 /dev/urandom >/tmp/s5.data
    dd if=/tmp/s5.data of=\$dev bs=1M oflag=direct status=none
    rm /tmp/s5.data
    sum=\$(dd if=\$dev bs=1M count=16 iflag=direct status=none | md5sum | cut -d' ' -f1)
    nvme disconnect -n $nqn >&2
    echo md5=\$sum
  ")" || die "s5: remote write failed: $out"
  sum_remote="$(sed -n 's/^md5=//p' <<<"$out")"
  sum_local="$(gexec "$target" 120 "echo md5=\$(dd if=$dev bs=1M count=16 iflag=direct status=none | md5sum | cut -d' ' -f1)" | sed -n 's/^md5=//p')"
  log "s5: md5 written on $consumer=$sum_remote, read on $target=$sum_local"
  if [ -z "$sum_remote" ] || [ "$sum_remote" != "$sum_local" ]; then die "s5: data differs"; fi
  timing "s5: total" $((SECONDS - t))
}
