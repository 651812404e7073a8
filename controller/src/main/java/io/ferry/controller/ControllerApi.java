package io.ferry.controller;

import io.ferry.etcd.store.Store;
import io.ferry.placement.Candidate;
import io.ferry.placement.Decision;
import io.ferry.placement.PartsDecision;
import io.ferry.placement.PoolVerdict;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Condition;
import io.ferry.model.LifecycleEvent;
import io.ferry.model.Names;
import io.ferry.model.PartNames;
import io.ferry.model.NodeRegistration;
import io.ferry.model.Placement;
import io.ferry.model.PoolConfig;
import io.ferry.model.ValidationException;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeParts;
import io.ferry.runtime.admin.AdminServer;
import io.vertx.core.Future;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

import io.vertx.ext.web.handler.StaticHandler;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Supplier;

/**
 * Read-only JSON views of the controller's state under {@code /api/v1}, including
 * {@code /api/v1/volumes/<name>/explain}: every pool with the filter it failed or its score.
 * Handlers run on the controller's context, so they read the live caches directly.
 */
final class ControllerApi {

    private final ClusterState state;
    private final VolumeReconciler volumes;
    private final LedgerAudit ledgers;
    private final ControllerMetrics metrics;
    private final Supplier<Boolean> leader;

    ControllerApi(ClusterState state, VolumeReconciler volumes, LedgerAudit ledgers, ControllerMetrics metrics,
                  Supplier<Boolean> leader) {
        this.state = state;
        this.volumes = volumes;
        this.ledgers = ledgers;
        this.metrics = metrics;
        this.leader = leader;
    }

    void mount(Router router, ConsoleStream stream, Store store) {
        router.get("/api/v1/stream").handler(stream::handle);
        router.get("/api/v1/volumes/:name/events").handler(AdminServer.json(ctx -> store
                .list(store.keys().eventsOf(LifecycleEvent.VOLUME, name(ctx)), LifecycleEvent.class)
                .map(l -> l.items().stream().map(Versioned::value).toList())));
        // The web console: static files from the jar, read-only (it only calls the GETs above).
        router.get("/").handler(ctx -> ctx.redirect("/console/"));
        router.route("/console/*").handler(StaticHandler.create("io/ferry/console")
                .setCachingEnabled(false).setDirectoryListing(false));
        router.get("/api/v1/nodes").handler(AdminServer.json(ctx -> Future.succeededFuture(nodes())));
        router.get("/api/v1/pools").handler(AdminServer.json(ctx -> {
            metrics.pools(state.candidates());
            return Future.succeededFuture(pools());
        }));
        router.get("/api/v1/volumes").handler(AdminServer.json(ctx -> Future.succeededFuture(volumeList())));
        router.get("/api/v1/volumes/:name").handler(AdminServer.json(ctx -> Future.succeededFuture(volume(name(ctx)))));
        router.get("/api/v1/volumes/:name/explain").handler(AdminServer.json(ctx -> Future.succeededFuture(explain(name(ctx)))));
        router.get("/api/v1/snapshots").handler(AdminServer.json(ctx -> Future.succeededFuture(snapshots())));
        router.get("/api/v1/controller").handler(AdminServer.json(ctx -> Future.succeededFuture(
                Map.of("leader", leader.get(), "synced", state.synced()))));
    }

    private static String name(RoutingContext ctx) {
        return Names.volumeName(ctx.pathParam("name"));
    }

    private List<Map<String, Object>> nodes() {
        TreeSet<String> names = new TreeSet<>();
        state.watchedNodeKeys().forEach(v -> {
            if (v.value() instanceof NodeRegistration r) {
                names.add(r.node());
            }
        });
        state.candidates().forEach(c -> names.add(c.node()));
        List<Map<String, Object>> result = new ArrayList<>();
        for (String node : names) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("node", node);
            row.put("alive", state.nodeAlive(node));
            state.registration(node).ifPresent(r -> row.put("registration", r));
            List<String> pools = new ArrayList<>();
            state.candidates().forEach(c -> {
                if (c.node().equals(node)) {
                    pools.add(c.pool());
                }
            });
            pools.sort(null);
            row.put("pools", pools);
            row.put("volumes", state.volumesOn(node).size());
            result.add(row);
        }
        return result;
    }

    private List<Map<String, Object>> pools() {
        Map<String, Map<String, Object>> rows = new TreeMap<>();
        for (Candidate c : state.candidates()) {
            Map<String, Object> row = new LinkedHashMap<>();
            PoolConfig config = c.config();
            row.put("pool", c.pool());
            row.put("node", c.node());
            row.put("engine", config.engine());
            row.put("schedulable", config.schedulable() && c.registration() != null && c.status() != null);
            row.put("nodeAlive", c.registration() != null);
            row.put("capacityBytes", c.status() == null ? 0 : c.status().capacityBytes());
            row.put("allocatedBytes", c.ledger().allocatedBytes());
            row.put("volumeCount", c.ledger().volumeCount());
            ledgers.lastCorrection(c.pool()).ifPresent(fix -> row.put("ledgerCorrection", fix));
            row.put("freeBytes", Math.max(0, c.free(false)));
            row.put("freeThinBytes", Math.max(0, c.free(true)));
            row.put("config", config);
            if (c.status() != null) {
                row.put("status", c.status());
            }
            rows.put(c.pool(), row);
        }
        return new ArrayList<>(rows.values());
    }

    private List<Map<String, Object>> volumeList() {
        TreeSet<String> names = new TreeSet<>();
        state.watchedIntents().forEach(v -> names.add(v.value().name()));
        state.watchedPlacements().forEach(v -> names.add(v.value().volume()));
        List<Map<String, Object>> result = new ArrayList<>();
        for (String name : names) {
            result.add(volume(name));
        }
        return result;
    }

    private Map<String, Object> volume(String name) {
        Versioned<VolumeIntent> intent = state.intent(name).orElse(null);
        Versioned<Placement> placement = state.placement(name).orElse(null);
        if (intent == null && placement == null && state.badIntent(name).isEmpty()) {
            return null;
        }
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("name", name);
        if (intent != null) {
            row.put("intent", intent.value());
        }
        state.badIntent(name).ifPresent(error -> row.put("intentError", error));
        if (placement != null) {
            row.put("placement", placement.value());
            state.volumeStatus(placement.value().node(), name).ifPresent(s -> row.put("status", s));
        }
        state.volumeScheduling(name).ifPresent(s -> {
            row.put("scheduling", s.value());
            // The typed answer to "what is wrong": the record's first false condition, never its words.
            s.value().problem().ifPresent(c -> row.put("reason", c.reason()));
        });
        row.put("attachments", state.attachmentsOf(name));
        return row;
    }

    private Map<String, Object> explain(String name) {
        Versioned<VolumeIntent> intent = state.intent(name).orElse(null);
        if (intent == null) {
            if (state.badIntent(name).isPresent()) {
                throw new ValidationException("volume " + name + " has an invalid intent: " + state.badIntent(name).get());
            }
            return null;
        }
        if (intent.value().layout().multiPart()) {
            return explainParts(intent.value());
        }
        Decision decision = volumes.explain(intent.value());
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("volume", name);
        result.put("policy", state.globalConfig().schedulerPolicy());
        state.placement(name).ifPresent(p -> result.put("placedOn", Map.of("node", p.value().node(), "pool", p.value().pool())));
        PlaceStep.Sourced sourced = volumes.sourceFor(intent.value());
        if (sourced.waitingFor() != null) {
            result.put("waitingFor", sourced.waitingFor());
        }
        result.put("wouldChoose", decision.pool().map(c -> Map.of("node", c.node(), "pool", c.pool())).orElse(null));
        result.put("summary", decision.pool().isPresent() ? "fits " + decision.chosen().pool() : decision.refusal());
        result.put("reasonCounts", decision.reasonCounts());
        // What the controller last recorded, typed, next to what it would decide now: they differ when
        // the record is a refusal for a reason the scheduler does not see (a ledger that does not decode).
        state.volumeScheduling(name).flatMap(s -> s.value().problem().or(() -> s.value().condition(Condition.SCHEDULED)))
                .ifPresent(c -> result.put("recorded", c));
        result.put("pools", verdicts(decision));
        return result;
    }

    /**
     * A volume of several parts: where its parts are, and what the scheduler would decide now for
     * every part (a mirror's legs each with every pool's verdict; a linear volume's segments with the
     * bytes each takes).
     */
    private Map<String, Object> explainParts(VolumeIntent spec) {
        String name = spec.name();
        PartsDecision decision = volumes.explainParts(spec);
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("volume", name);
        result.put("layout", spec.layout().value());
        result.put("policy", state.globalConfig().schedulerPolicy());
        state.volumeParts(name).ifPresent(parts -> {
            List<Map<String, Object>> placed = new ArrayList<>();
            for (VolumeParts.Part part : parts.value().parts()) {
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("part", part.name());
                row.put("sizeBytes", part.sizeBytes());
                if (part.movesFrom() != null) {
                    row.put("movesFrom", part.movesFrom());
                }
                state.placement(part.name()).ifPresent(p -> {
                    row.put("node", p.value().node());
                    row.put("pool", p.value().pool());
                });
                placed.add(row);
            }
            result.put("placedOn", placed);
        });
        result.put("summary", decision.placed() ? "fits " + decision.parts().size() + " parts" : decision.refusal());
        result.put("reasonCounts", decision.reasonCounts());
        state.volumeScheduling(name).flatMap(s -> s.value().problem().or(() -> s.value().condition(Condition.SCHEDULED)))
                .ifPresent(c -> result.put("recorded", c));
        List<Map<String, Object>> parts = new ArrayList<>();
        for (int i = 0; i < Math.max(decision.parts().size(), decision.legs().size()); i++) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("part", PartNames.of(name, i));
            if (i < decision.parts().size()) {
                PartsDecision.Part part = decision.parts().get(i);
                row.put("wouldChoose", Map.of("node", part.pool().node(), "pool", part.pool().pool()));
                row.put("sizeBytes", part.sizeBytes());
            }
            if (i < decision.legs().size()) {
                Decision leg = decision.legs().get(i);
                row.put("summary", leg.pool().isPresent() ? "fits " + leg.chosen().pool() : leg.refusal());
                row.put("pools", verdicts(leg));
            }
            parts.add(row);
        }
        result.put("parts", parts);
        return result;
    }

    private static List<Map<String, Object>> verdicts(Decision decision) {
        List<Map<String, Object>> pools = new ArrayList<>();
        for (PoolVerdict v : decision.verdicts()) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("pool", v.pool());
            row.put("node", v.node());
            row.put("passed", v.passed());
            if (v.passed()) {
                row.put("tier", v.tier());
                row.put("score", Math.round(v.score() * 10000) / 10000.0);
            } else {
                row.put("failed", v.failedReason());
            }
            row.put("freeBytes", Math.max(0, v.freeBytes()));
            pools.add(row);
        }
        return pools;
    }

    private List<Map<String, Object>> snapshots() {
        TreeSet<String> names = new TreeSet<>();
        state.watchedSnapshotIntents().forEach(v -> names.add(v.value().name()));
        List<Map<String, Object>> result = new ArrayList<>();
        for (String name : names) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("name", name);
            state.snapshotIntent(name).map(Versioned::value).ifPresent(i -> row.put("intent", i));
            state.snapshotScheduling(name).ifPresent(s -> {
                row.put("scheduling", s.value());
                s.value().problem().ifPresent(c -> row.put("reason", c.reason()));
                if (s.value().node() != null) {
                    state.snapshotStatus(s.value().node(), name).ifPresent(st -> row.put("status", st));
                }
            });
            result.add(row);
        }
        return result;
    }
}
