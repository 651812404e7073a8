# Scenario 7: delete everything the earlier scenarios created, the way a user does: attachments
# removed (what `ferryctl detach` does), then every snapshot and every volume intent put back with
# "deletionRequested": true (never a direct delete of an intent), in the order Ferry requires (as
# `ferryctl volume rm` / `snapshot rm` enforce it): volumes made from a snapshot first (a snapshot
# is kept while a volume names it as its source), then the snapshots, then the other volumes (a
# volume is kept while it has snapshots). The controller must remove the
# intents once the agents have removed the data; then no guest has an LV tagged as a Ferry volume or
# snapshot, an nvmet subsystem or a port link, and every ledger is back to 0 bytes and 0 volumes.
# Before that, whatever a scenario left staged or published through a guest's CSI node plugin is
# unpublished and unstaged (what the kubelet does before the detach), and at the end no guest has
# an NVMe controller or a mount under the CSI directories left. Pools stay (deleting them is not part of this scenario). Runs last; needs nothing of its own.

# request_deletion <prefix> [restored|others]: sets deletionRequested on every intent under the
# prefix; with a second argument only on the volumes made from a snapshot, or only on the others.
request_deletion() {
  local key value restored
  for key in $(etcdctl_ns get --prefix "$1" --keys-only); do
    value="$(etcdctl_ns get --print-value-only "$key")"
    if [ -n "${2:-}" ]; then
      restored="$(python3 -c 'import json,sys; print("restored" if json.load(sys.stdin).get("sourceSnapshot") else "others")' <<<"$value")"
      [ "$restored" = "$2" ] || continue
    fi
    value="$(python3 -c 'import json,sys; d=json.load(sys.stdin); d["deletionRequested"]=True; print(json.dumps(d))' <<<"$value")"
    log "s7: deletionRequested on $key"
    etcdctl_ns put "$key" "$value" >/dev/null
  done
}

# wait_prefix_empty <prefix> <timeout>: waits until no key is left under the prefix.
wait_prefix_empty() {
  local prefix="$1" timeout="$2" t=$SECONDS left key
  while :; do
    left="$(etcdctl_ns get --prefix "$prefix" --keys-only)"
    [ -z "$left" ] && return 0
    if ((SECONDS - t > timeout)); then
      log "s7: still under $prefix after ${timeout}s: $(tr '\n' ' ' <<<"$left")"
      for key in $left; do log "s7: $key = $(etcdctl_ns get --print-value-only "$key")"; done
      return 1
    fi
    sleep 1
  done
}

# csi_release_all <guest>: node-unpublish and node-unstage of everything mounted under the
# guest's CSI directories (a scenario that failed half-way may have left it).
csi_release_all() {
  local n="$1" path rel
  for path in $(gexec "$n" 60 "findmnt -rn -o TARGET | grep -E '^($TB_CSI_PODS|$TB_CSI_STAGING)/' | sort -u || true"); do
    case "$path" in
      "$TB_CSI_PODS"/*)
        rel="${path#"$TB_CSI_PODS"/}"
        log "s7: node-unpublish ${rel#*/} from $path on $n"
        csi_unpublish "$n" "${rel#*/}" "${rel%%/*}" || die "s7: node-unpublish of $path on $n failed"
        ;;
    esac
  done
  for path in $(gexec "$n" 60 "findmnt -rn -o TARGET | grep -E '^$TB_CSI_STAGING/' | sort -u || true"); do
    log "s7: node-unstage ${path##*/} from $path on $n"
    csi_unstage "$n" "${path##*/}" || die "s7: node-unstage of $path on $n failed"
  done
}

scenario() {
  local t=$SECONDS key n
  for n in "${GUESTS[@]}"; do
    case " $TB_CSI_NODES " in *" $n "*) csi_release_all "$n" ;; esac
  done
  local before
  before="$(etcdctl_ns get --prefix /ferry/volumes/ --keys-only | tr '\n' ' ') $(etcdctl_ns get --prefix /ferry/snapshots/ --keys-only | tr '\n' ' ')"
  log "s7: intents before: $before"

  for key in $(etcdctl_ns get --prefix /ferry/attachments/ --keys-only); do
    log "s7: removing attachment $key"
    etcdctl_ns del "$key" >/dev/null
  done
  request_deletion /ferry/volumes/ restored
  request_deletion /ferry/snapshots/
  wait_prefix_empty /ferry/snapshots/ 150 || die "s7: snapshots not deleted"
  timing "s7: restored volumes and snapshots deleted" $((SECONDS - t))
  request_deletion /ferry/volumes/ others
  wait_prefix_empty /ferry/volumes/ 150 || die "s7: volumes not deleted"
  timing "s7: volumes deleted" $((SECONDS - t))

  local out
  for n in "${GUESTS[@]}"; do
    log "s7: nothing of Ferry's left on $n"
    out="$(gexec "$n" 120 "
      lvs --reportformat json -o lv_name,vg_name,lv_tags 2>/dev/null
      echo subsystems: \$(ls /sys/kernel/config/nvmet/subsystems)
      echo port-links: \$(ls /sys/kernel/config/nvmet/ports/*/subsystems 2>/dev/null | grep -v -e '^/' -e '^\$' || true)
      echo nvme-controllers: \$(ls /sys/class/nvme 2>/dev/null || true)
      echo csi-mounts: \$(findmnt -rn -o TARGET | grep -E '^($TB_CSI_PODS|$TB_CSI_STAGING)/' || true)
    ")" || die "s7: inspecting $n failed: $out"
    printf '%s\n' "$out"
    if grep -Eq 'ferry\.(volume|snapshot)=' <<<"$out"; then die "s7: $n still has an LV tagged as a Ferry volume or snapshot"; fi
    # What is left tagged ferry.cluster must be a pool's own LV (the thin pool), nothing else.
    python3 -c '
import json, sys
text = sys.stdin.read()
report = json.loads(text[:text.index("subsystems:")])
bad = [lv["vg_name"] + "/" + lv["lv_name"] for lv in report["report"][0]["lv"]
       if "ferry." in lv["lv_tags"] and not lv["lv_name"].startswith("[") and lv["lv_name"] != "s3-thin"]
print("Ferry-tagged LVs left: " + (", ".join(bad) or "none (besides thin pools)"))
sys.exit(1 if bad else 0)' <<<"$out" || die "s7: $n has Ferry-tagged LVs left"
    grep -qx 'subsystems: *' <<<"$(grep '^subsystems:' <<<"$out")" || die "s7: $n still has nvmet subsystems"
    grep -qx 'port-links: *' <<<"$(grep '^port-links:' <<<"$out")" || die "s7: $n still has port links"
    grep -qx 'nvme-controllers: *' <<<"$(grep '^nvme-controllers:' <<<"$out")" || die "s7: $n still has NVMe controllers"
    grep -qx 'csi-mounts: *' <<<"$(grep '^csi-mounts:' <<<"$out")" || die "s7: $n still has CSI mounts"
  done

  log "s7: ledgers"
  local ledgers
  ledgers="$(etcdctl_ns get --prefix /ferry/ledger/)"
  printf '%s\n' "$ledgers"
  [ -n "$ledgers" ] || die "s7: no ledger at all (the earlier scenarios placed volumes)"
  python3 -c '
import json, sys
lines = sys.stdin.read().splitlines()
bad = []
for key, value in zip(lines[0::2], lines[1::2]):
    d = json.loads(value)
    if int(d.get("allocatedBytes", 0)) != 0 or int(d.get("volumeCount", 0)) != 0:
        bad.append(key + " " + value)
print("\n".join(bad) or "every ledger at 0")
sys.exit(1 if bad else 0)' <<<"$ledgers" || die "s7: ledgers not back to 0"
  timing "s7: total" $((SECONDS - t))
}
