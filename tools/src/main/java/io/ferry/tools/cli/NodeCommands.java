package io.ferry.tools.cli;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Engine;
import io.ferry.model.NodeRegistration;
import io.ferry.model.PoolConfig;
import picocli.CommandLine.Command;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;

@Command(name = "node", description = "Nodes and their agents.", subcommands = {NodeCommands.Ls.class, NodeDrainCommands.Drain.class,
        NodeDrainCommands.Undrain.class})
final class NodeCommands {

    @Command(name = "ls", description = "List nodes: alive (agent registered) or not, addresses, engines, labels, pools.")
    static final class Ls extends Base {
        @Override
        public Integer call() {
            Map<String, NodeRegistration> registrations = new TreeMap<>();
            for (Versioned<NodeRegistration> v : listOf(keys().nodes(), FerryKeys.Kind.NODE_REGISTRATION, NodeRegistration.class)) {
                registrations.put(v.value().node(), v.value());
            }
            Map<String, List<String>> poolsByNode = new TreeMap<>();
            for (PoolConfig c : byName(keys().poolConfigs(), PoolConfig.class).values()) {
                poolsByNode.computeIfAbsent(c.node(), n -> new ArrayList<>()).add(c.name());
            }
            TreeSet<String> names = new TreeSet<>(registrations.keySet());
            names.addAll(poolsByNode.keySet());
            List<List<String>> cells = new ArrayList<>();
            List<Map<String, Object>> rows = new ArrayList<>();
            for (String node : names) {
                NodeRegistration r = registrations.get(node);
                List<String> pools = poolsByNode.getOrDefault(node, List.of());
                cells.add(List.of(node, r != null ? "yes" : "no", orDash(r == null ? null : r.dataAddress()),
                        r == null ? "-" : r.engines().stream().map(Engine::value).sorted().collect(Collectors.joining(",")),
                        r == null || r.labels().isEmpty() ? "-" : new TreeMap<>(r.labels()).toString(),
                        pools.isEmpty() ? "-" : String.join(",", pools)));
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("node", node);
                row.put("alive", r != null);
                row.put("registration", r);
                row.put("pools", pools);
                rows.add(row);
            }
            out().rows(List.of("NODE", "ALIVE", "ADDRESS", "ENGINES", "LABELS", "POOLS"), cells, rows);
            return ExitCodes.OK;
        }
    }
}
