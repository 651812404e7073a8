package io.ferry.csi;

import io.ferry.model.Engine;
import io.ferry.model.GlobalConfig;
import io.ferry.model.Ledger;
import io.ferry.model.NodeRegistration;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolSource;
import io.ferry.model.PoolStatus;
import io.ferry.model.Sizes;
import io.ferry.placement.BinPackPolicy;
import io.ferry.placement.Candidate;
import io.ferry.placement.Request;
import io.ferry.placement.Scheduler;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * GetCapacity and the scheduler agree: what a pool adds to the capacity is the largest volume the
 * scheduler places there, and a pool the scheduler refuses adds nothing.
 */
class CapacityCallsTest {

    static final long GI = Sizes.GIB;
    static final Instant T = Instant.parse("2026-11-21T10:00:00Z");
    static final GlobalConfig GLOBAL = GlobalConfig.defaults();
    final Scheduler scheduler = new Scheduler();

    @Test
    void eachPoolCountsTheLargestVolumeTheSchedulerPlacesThereAndAPoolItRefusesCountsNothing() {
        List<Candidate> pools = List.of(
                pool("roomy", "n1", Engine.FILE, 100 * GI, 100 * GI, 0, 20 * GI, true, null),
                pool("reserved", "n2", Engine.FILE, 100 * GI, 100 * GI, 10 * GI, 0, true, null),
                // The ledger says 100 GiB are free; the disk itself has 3 (something else filled it).
                pool("disk-full", "n3", Engine.FILE, 100 * GI, 3 * GI, 0, 0, true, null),
                pool("unhealthy", "n4", Engine.FILE, 100 * GI, 100 * GI, 0, 0, false, null),
                down("down", "n5"),
                // The node's agent runs no file engine.
                candidate(config("no-engine", "n6", Engine.FILE, 0, null), status("no-engine", "n6", Engine.FILE, 100 * GI,
                        100 * GI, true), registration("n6", EnumSet.of(Engine.LVM)), null));
        Request thick = CapacityCalls.probe(params(Map.of()), null);

        CapacityCalls.Capacity capacity = CapacityCalls.capacity(scheduler, thick, pools, GLOBAL);

        assertThat(capacity.totalBytes()).isEqualTo((80 + 90 + 3) * GI);
        assertThat(capacity.largestBytes()).isEqualTo(90 * GI);
        for (Candidate pool : pools) {
            assertAgrees(thick, pool);
        }
        assertThat(placed(thick, capacity.largestBytes(), pools)).isTrue();
        assertThat(placed(thick, capacity.largestBytes() + Sizes.ALIGNMENT, pools)).isFalse();
    }

    @Test
    void thinRoomIsCountedWithTheOverprovisionRatioAndIsNotHeldBackByTheDisk() {
        Candidate thinPool = pool("thin", "n1", Engine.LVM_THIN, 100 * GI, 5 * GI, 10 * GI, 40 * GI, true, 2.0);
        Request thin = CapacityCalls.probe(params(Map.of("thin", "true")), null);
        Request thick = CapacityCalls.probe(params(Map.of()), null);

        assertThat(CapacityCalls.capacity(scheduler, thin, List.of(thinPool), GLOBAL).totalBytes())
                .isEqualTo((200 - 10 - 40) * GI);
        assertThat(CapacityCalls.capacity(scheduler, thick, List.of(thinPool), GLOBAL).totalBytes()).isZero();
        assertAgrees(thin, thinPool);
        assertAgrees(thick, thinPool);
    }

    @Test
    void aNodeSegmentLimitsMustLocalToThatNodeExcludesItForMustRemoteAndWithoutANodeNeitherRefuses() {
        List<Candidate> pools = List.of(
                pool("a", "n1", Engine.FILE, 10 * GI, 10 * GI, 0, 0, true, null),
                pool("b", "n2", Engine.FILE, 20 * GI, 20 * GI, 0, 0, true, null));

        assertThat(total(params(Map.of("positionAdvice", "MustLocal")), "n1", pools)).isEqualTo(10 * GI);
        assertThat(total(params(Map.of("positionAdvice", "MustRemote")), "n1", pools)).isEqualTo(20 * GI);
        assertThat(total(params(Map.of("positionAdvice", "PreferLocal")), "n1", pools)).isEqualTo(30 * GI);
        assertThat(total(params(Map.of("positionAdvice", "MustLocal")), null, pools)).isEqualTo(30 * GI);
    }

    @Test
    void aNodeThatCannotExportOffersNothingToAnotherNodesConsumerButServesItsOwn() {
        Candidate mute = candidate(config("mute", "n2", Engine.FILE, 0, null),
                status("mute", "n2", Engine.FILE, 20 * GI, 20 * GI, true),
                registration("n2", EnumSet.allOf(Engine.class)).withExporters(Set.of()), null);

        assertThat(total(params(Map.of()), "n1", List.of(mute))).isZero();
        assertThat(total(params(Map.of()), "n2", List.of(mute))).isEqualTo(20 * GI);
        assertAgrees(CapacityCalls.probe(params(Map.of()), "n1"), mute);
    }

    @Test
    void selectorsAndEngineOfTheClassAreTheSchedulersFilters() {
        Candidate hdd = candidate(PoolConfig.builder("hdd", "n1", Engine.FILE, PoolSource.directory("/srv/hdd"))
                        .labels(Map.of("media", "hdd")).build(), status("hdd", "n1", Engine.FILE, 10 * GI, 10 * GI, true),
                registration("n1", EnumSet.allOf(Engine.class)), null);

        assertThat(total(params(Map.of("poolSelector", "media=hdd")), "n1", List.of(hdd))).isEqualTo(10 * GI);
        assertThat(total(params(Map.of("poolSelector", "media=ssd")), "n1", List.of(hdd))).isZero();
        assertThat(total(params(Map.of("engine", "lvm")), "n1", List.of(hdd))).isZero();
    }

    /** The pool takes a volume of exactly what it adds to the capacity, and refuses one 4 MiB larger. */
    private void assertAgrees(Request probe, Candidate pool) {
        long fit = CapacityCalls.capacity(scheduler, probe, List.of(pool), GLOBAL).totalBytes();
        if (fit > 0) {
            assertThat(placed(probe, fit, List.of(pool))).as("%s takes %d bytes", pool.pool(), fit).isTrue();
        }
        assertThat(placed(probe, Math.max(fit, 0) + Sizes.ALIGNMENT, List.of(pool)))
                .as("%s refuses more than %d bytes", pool.pool(), fit).isFalse();
    }

    private boolean placed(Request probe, long bytes, List<Candidate> pools) {
        Request request = new Request(probe.intent().withSizeBytes(bytes), null, Set.of());
        return scheduler.decide(request, pools, GLOBAL, new BinPackPolicy(), false).pool().isPresent();
    }

    private long total(StorageClassParameters params, String node, List<Candidate> pools) {
        return CapacityCalls.capacity(scheduler, CapacityCalls.probe(params, node), pools, GLOBAL).totalBytes();
    }

    private static StorageClassParameters params(Map<String, String> parameters) {
        return StorageClassParameters.parse(parameters);
    }

    private static Candidate pool(String name, String node, Engine engine, long capacity, long diskFree, long reserved,
                                  long allocated, boolean healthy, Double ratio) {
        return candidate(config(name, node, engine, reserved, ratio), status(name, node, engine, capacity, diskFree, healthy),
                registration(node, EnumSet.allOf(Engine.class)), allocated == 0 ? null : Ledger.empty(name).add(allocated));
    }

    private static Candidate down(String name, String node) {
        return candidate(config(name, node, Engine.FILE, 0, null), status(name, node, Engine.FILE, 100 * GI, 100 * GI, true),
                null, null);
    }

    private static Candidate candidate(PoolConfig config, PoolStatus status, NodeRegistration registration, Ledger ledger) {
        return Candidate.of(config, status, registration, ledger, 1, 0, GLOBAL);
    }

    private static PoolConfig config(String name, String node, Engine engine, long reserved, Double ratio) {
        PoolSource source = engine == Engine.LVM_THIN ? PoolSource.thinPool("vg0", "tp0") : PoolSource.directory("/srv/" + name);
        PoolConfig.Builder config = PoolConfig.builder(name, node, engine, source).reservedBytes(reserved);
        if (ratio != null) {
            config.overprovisionRatio(ratio);
        }
        return config.build();
    }

    private static PoolStatus status(String name, String node, Engine engine, long capacity, long free, boolean healthy) {
        return PoolStatus.of(node, name, engine, capacity, free, null, null, List.of(), healthy, T);
    }

    private static NodeRegistration registration(String node, Set<Engine> engines) {
        return NodeRegistration.of(node, "10.0.0.1", null,
                "nqn.2014-08.org.nvmexpress:uuid:6c1f2a64-8b8e-4d62-9d0e-0f1b5e0c1a77", engines, Map.of(), "test", T);
    }
}
