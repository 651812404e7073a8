package io.ferry.controller;

import io.ferry.model.Layout;
import io.ferry.model.VolumePhase;
import io.ferry.placement.Candidate;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;

/** The controller's Prometheus metrics; reconcile latency comes from the reconcile runtime itself. */
final class ControllerMetrics {

    private final MeterRegistry registry;
    private final Counter placements;
    private final Counter deletions;
    private final Counter conflicts;
    private final Counter rebuilt;
    private final Counter recreated;
    private final DistributionSummary placementBatches;
    private final DistributionSummary releaseBatches;
    private final DistributionSummary orderBatches;
    private final MultiGauge capacity;
    private final MultiGauge allocated;
    private final MultiGauge free;
    private final MultiGauge nodeAlive;
    private final MultiGauge volumes;
    private final MultiGauge multiPart;

    ControllerMetrics(MeterRegistry registry) {
        this.registry = registry;
        this.placements = Counter.builder("ferry.controller.placements").description("volumes placed").register(registry);
        this.deletions = Counter.builder("ferry.controller.deletions").description("volumes fully deleted").register(registry);
        this.conflicts = Counter.builder("ferry.controller.txn.conflicts")
                .description("transactions whose guards failed (lost compare-and-swap, lost leadership)").register(registry);
        this.rebuilt = Counter.builder("ferry.controller.placements.rebuilt")
                .description("placements rebuilt from what an agent reports after they had been removed").register(registry);
        this.recreated = Counter.builder("ferry.controller.volumes.recreated.empty")
                .description("lost volumes replaced by new, empty ones at an operator's request").register(registry);
        this.placementBatches = DistributionSummary.builder("ferry.controller.placement.batch.size")
                .description("volumes committed together in one placement transaction").register(registry);
        this.releaseBatches = DistributionSummary.builder("ferry.controller.release.batch.size")
                .description("deleted volumes released together in one transaction").register(registry);
        this.orderBatches = DistributionSummary.builder("ferry.controller.deletion.order.batch.size")
                .description("deletion orders written together in one transaction").register(registry);
        this.capacity = MultiGauge.builder("ferry.pool.capacity.bytes").description("pool capacity reported by its agent").register(registry);
        this.allocated = MultiGauge.builder("ferry.pool.allocated.bytes").description("bytes allocated in the ledger").register(registry);
        this.free = MultiGauge.builder("ferry.pool.free.bytes").description("bytes still placeable (thick)").register(registry);
        this.nodeAlive = MultiGauge.builder("ferry.node.alive")
                .description("1 while the node's agent is registered on its etcd lease, 0 when not; nodes with pools")
                .register(registry);
        this.volumes = MultiGauge.builder("ferry.volumes").description("volume statuses the agents report, by phase")
                .register(registry);
        this.multiPart = MultiGauge.builder("ferry.volumes.multipart")
                .description("multi-part volumes by layout and state: healthy, degraded (a mirror with a leg's node"
                        + " down), unreachable").register(registry);
    }

    void placed() {
        placements.increment();
    }

    void deleted() {
        deletions.increment();
    }

    void placementBatch(int volumes) {
        placementBatches.record(volumes);
    }

    void releaseBatch(int volumes) {
        releaseBatches.record(volumes);
    }

    void orderBatch(int volumes) {
        orderBatches.record(volumes);
    }

    void placementRebuilt() {
        rebuilt.increment();
    }

    void recreatedEmpty() {
        recreated.increment();
    }

    /** A pool's ledger was found to differ from its placements and snapshots, and was recomputed. */
    void ledgerCorrected(String pool, long differenceBytes) {
        Counter.builder("ferry.controller.ledger.corrections").description("ledgers recomputed from placements")
                .tag("pool", pool).register(registry).increment();
        DistributionSummary.builder("ferry.controller.ledger.correction.bytes")
                .description("absolute difference in bytes between a corrected ledger and its placements")
                .tag("pool", pool).register(registry).record(Math.abs((double) differenceBytes));
    }

    void conflict() {
        conflicts.increment();
    }

    void refused(Map<String, Integer> reasons) {
        reasons.forEach((reason, count) -> Counter.builder("ferry.controller.refusals")
                .description("pools refused while placing, by reason").tag("reason", reason)
                .register(registry).increment(count));
    }

    void leader(Supplier<Boolean> isLeader) {
        Gauge.builder("ferry.controller.leader", () -> isLeader.get() ? 1 : 0)
                .description("1 while this controller is the leader").register(registry);
    }

    /**
     * Replaces the per-pool gauges (a pool no longer configured loses its rows); called from start
     * on, every {@link Controller#GAUGE_INTERVAL}, and when the admin API lists pools.
     */
    void pools(Iterable<Candidate> candidates) {
        List<MultiGauge.Row<?>> cap = new ArrayList<>();
        List<MultiGauge.Row<?>> alloc = new ArrayList<>();
        List<MultiGauge.Row<?>> fr = new ArrayList<>();
        Map<String, Boolean> alive = new TreeMap<>();
        for (var c : candidates) {
            alive.merge(c.node(), c.registration() != null, Boolean::logicalOr);
            Tags tags = Tags.of("pool", c.pool(), "node", c.node(), "engine", c.config().engine().value());
            cap.add(MultiGauge.Row.of(tags, c.status() == null ? 0 : c.status().capacityBytes()));
            alloc.add(MultiGauge.Row.of(tags, c.ledger().allocatedBytes()));
            fr.add(MultiGauge.Row.of(tags, Math.max(0, c.free(false))));
        }
        capacity.register(cap, true);
        allocated.register(alloc, true);
        free.register(fr, true);
        List<MultiGauge.Row<?>> nodes = new ArrayList<>();
        alive.forEach((node, up) -> nodes.add(MultiGauge.Row.of(Tags.of("node", node), up ? 1 : 0)));
        nodeAlive.register(nodes, true);
    }

    /** Replaces the multi-part volumes' rows ({@link PartsCensus}); called with the other gauges. */
    void multiPart(Map<Layout, Map<String, Integer>> byLayout) {
        List<MultiGauge.Row<?>> rows = new ArrayList<>();
        byLayout.forEach((layout, states) -> states.forEach((state, count) ->
                rows.add(MultiGauge.Row.of(Tags.of("layout", layout.value(), "state", state), count))));
        multiPart.register(rows, true);
    }

    void volumes(Map<VolumePhase, Integer> byPhase) {
        List<MultiGauge.Row<?>> rows = new ArrayList<>();
        byPhase.forEach((phase, count) -> rows.add(MultiGauge.Row.of(Tags.of("phase", phase.value()), count)));
        volumes.register(rows, true);
    }
}
