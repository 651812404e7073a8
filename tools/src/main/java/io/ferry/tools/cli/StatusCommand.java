package io.ferry.tools.cli;

import io.etcd.jetcd.ByteSequence;
import io.ferry.etcd.FerryKeys;
import io.ferry.model.Condition;
import io.ferry.model.ControllerLeader;
import io.ferry.model.Json;
import io.ferry.model.Ledger;
import io.ferry.model.NodeRegistration;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolStatus;
import io.ferry.model.VolumeIntent;
import io.ferry.model.SchedulingPhase;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.VolumeStatus;
import java.util.Set;
import java.util.TreeSet;
import picocli.CommandLine.Command;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

@Command(name = "status", description = "One-screen summary: leader, nodes, pools, capacity, volumes by state.")
final class StatusCommand extends Base {

    @Override
    public Integer call() {
        Map<String, NodeRegistration> nodes = new TreeMap<>();
        listOf(keys().nodes(), FerryKeys.Kind.NODE_REGISTRATION, NodeRegistration.class)
                .forEach(v -> nodes.put(v.value().node(), v.value()));
        Map<String, PoolStatus> poolStatuses = new TreeMap<>();
        listOf(keys().nodes(), FerryKeys.Kind.NODE_POOL_STATUS, PoolStatus.class)
                .forEach(v -> poolStatuses.put(v.value().pool(), v.value()));
        Map<String, PoolConfig> pools = byName(keys().poolConfigs(), PoolConfig.class);
        Map<String, Ledger> ledgers = byName(keys().ledgers(), Ledger.class);
        Named<VolumeIntent> intents = byNameWithInvalid(keys().volumes(), VolumeIntent.class);
        Map<String, VolumeIntent> volumes = intents.values();
        Map<String, VolumeScheduling> scheduling = byName(keys().volumeSchedulings(), VolumeScheduling.class);
        Map<String, VolumeStatus> statuses = new HashMap<>();
        listOf(keys().nodes(), FerryKeys.Kind.NODE_VOLUME_STATUS, VolumeStatus.class)
                .forEach(v -> statuses.put(v.value().volume(), v.value()));

        long capacity = poolStatuses.values().stream().mapToLong(PoolStatus::capacityBytes).sum();
        long allocated = ledgers.values().stream().mapToLong(Ledger::allocatedBytes).sum();
        Map<String, Integer> byPhase = new TreeMap<>();
        for (String name : volumes.keySet()) {
            VolumeScheduling s = scheduling.get(name);
            VolumeStatus st = statuses.get(name);
            // A failed or lost volume is counted as such, not as merely placed: that is what needs a person.
            String phase = volumes.get(name).deletionRequested() ? "Deleting"
                    : st != null && st.failing() ? st.phase().value()
                    : s == null ? "Pending" : s.phase().value();
            byPhase.merge(phase, 1, Integer::sum);
        }
        // Intents that do not decode are requests too, and nothing acts on them until they are fixed.
        if (!intents.invalid().isEmpty()) {
            byPhase.merge(SchedulingPhase.INVALID.value(), intents.invalid().size(), Integer::sum);
        }
        // Read from the records' typed conditions: what holds each volume, counted by reason.
        long unreachable = scheduling.values().stream().filter(s -> s.condition(Condition.REACHABLE)
                .map(c -> !c.status()).orElse(false)).count();
        Map<String, Integer> byReason = new TreeMap<>();
        Set<String> requested = new TreeSet<>(volumes.keySet());
        requested.addAll(intents.invalid().keySet());
        for (String name : requested) {
            VolumeScheduling s = scheduling.get(name);
            if (s != null) {
                s.problem().ifPresent(c -> byReason.merge(c.reason(), 1, Integer::sum));
            }
        }
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("leader", leader());
        summary.put("nodesAlive", nodes.size());
        summary.put("pools", pools.size());
        summary.put("capacityBytes", capacity);
        summary.put("allocatedBytes", allocated);
        summary.put("volumes", volumes.size() + intents.invalid().size());
        summary.put("volumesByState", byPhase);
        summary.put("unreachableVolumes", unreachable);
        summary.put("volumesByReason", byReason);
        if (out().format() != Output.Format.table) {
            out().structured(summary);
            return ExitCodes.OK;
        }
        out().line("leader:      " + summary.get("leader"));
        out().line("nodes:       " + nodes.size() + " alive" + (nodes.isEmpty() ? "" : " (" + String.join(", ", nodes.keySet()) + ")"));
        out().line("pools:       " + pools.size() + ", capacity " + size(capacity) + ", allocated " + size(allocated)
                + (capacity > 0 ? String.format(" (%.1f%%)", 100.0 * allocated / capacity) : ""));
        out().line("volumes:     " + (volumes.size() + intents.invalid().size()) + (byPhase.isEmpty() ? "" : " " + byPhase));
        if (!byReason.isEmpty()) {
            out().line("held:        " + byReason);
        }
        if (unreachable > 0) {
            out().line("unreachable: " + unreachable + " volume(s) on nodes that are down");
        }
        return ExitCodes.OK;
    }

    private String leader() {
        try {
            var response = store().client().getElectionClient()
                    .leader(ByteSequence.from(keys().controllerLeader(), StandardCharsets.UTF_8)).get(5, TimeUnit.SECONDS);
            String value = response.getKv().getValue().toString(StandardCharsets.UTF_8);
            try {
                return Json.decode(value, ControllerLeader.class).identity();
            } catch (RuntimeException e) {
                return value;
            }
        } catch (Exception e) {
            return "none (no controller is running)";
        }
    }
}
