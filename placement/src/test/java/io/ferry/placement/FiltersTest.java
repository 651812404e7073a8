package io.ferry.placement;

import io.ferry.model.Engine;
import io.ferry.model.ExportTarget;
import io.ferry.model.FailureDomainLevel;
import io.ferry.model.GlobalConfig;
import io.ferry.model.NodeRegistration;
import io.ferry.model.PositionAdvice;
import io.ferry.model.Sizes;
import io.ferry.model.VolumeIntent;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import static io.ferry.placement.Pools.pool;
import static io.ferry.placement.Pools.volume;
import static org.assertj.core.api.Assertions.assertThat;

/** Every filter against a pool it must admit and a pool it must refuse, with the reason users will read. */
class FiltersTest {

    static final GlobalConfig GLOBAL = GlobalConfig.builder().maxRemoteVolumesPerNode(2).thinDataHighWatermarkPercent(90).build();

    record Case(String name, Request request, Candidate candidate, String expectedFailure) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Request req(VolumeIntent.Builder b) {
        return Request.of(b.build());
    }

    /** The registration of a consumer node {@code n2}, on machine {@code machine} (null: it does not say). */
    static NodeRegistration consumer(String machine) {
        return NodeRegistration.of("n2", "10.0.0.2", null, Pools.HOST_NQN, Set.of(Engine.FILE), Map.of(),
                "test", Instant.EPOCH).withMachineId(machine);
    }

    static Stream<Arguments> cases() {
        VolumeIntent.Builder plain = volume("v", 10);
        return Stream.of(
                new Case("a healthy pool with room admits a plain volume", req(plain), pool("p", "n1").build(), null),
                new Case("a dead node refuses", req(plain), pool("p", "n1").down().build(), "node down"),
                new Case("an unschedulable pool refuses", req(plain), pool("p", "n1").unschedulable().build(), "unschedulable"),
                new Case("a pool its agent never reported refuses", req(plain), pool("p", "n1").unreported().build(), "pool not reported"),
                new Case("an unhealthy pool refuses", req(plain), pool("p", "n1").unhealthy().build(), "pool unhealthy"),
                new Case("a clone must stay on its source's pool",
                        new Request(plain.build(), "other", Set.of()), pool("p", "n1").build(), "not the source's pool"),
                new Case("an explicit engine must match",
                        req(volume("v", 10).engine(Engine.LVM)), pool("p", "n1").build(), "engine"),
                new Case("thin volumes need a thin-capable engine",
                        req(volume("v", 10).thin(true)), pool("p", "n1").engine(Engine.LVM).build(), "engine"),
                new Case("thick volumes cannot go to a thin pool",
                        req(volume("v", 10)), pool("p", "n1").engine(Engine.LVM_THIN).build(), "engine"),
                new Case("a pool selector must match pool labels",
                        req(volume("v", 10).poolSelector(Map.of("media", "nvme"))), pool("p", "n1").poolLabel("media", "hdd").build(),
                        "pool selector"),
                new Case("a matching pool selector admits",
                        req(volume("v", 10).poolSelector(Map.of("media", "nvme"))), pool("p", "n1").poolLabel("media", "nvme").build(),
                        null),
                new Case("a node selector must match node labels",
                        req(volume("v", 10).nodeSelector(Map.of("zone", "a"))), pool("p", "n1").nodeLabel("zone", "b").build(),
                        "node selector"),
                new Case("MustLocal refuses other nodes",
                        req(volume("v", 10).consumerNode("n2").positionAdvice(PositionAdvice.MUST_LOCAL)), pool("p", "n1").build(),
                        "not local"),
                new Case("MustLocal admits the consumer's node",
                        req(volume("v", 10).consumerNode("n1").positionAdvice(PositionAdvice.MUST_LOCAL)), pool("p", "n1").build(), null),
                new Case("MustRemote refuses the consumer's node",
                        req(volume("v", 10).consumerNode("n1").positionAdvice(PositionAdvice.MUST_REMOTE)), pool("p", "n1").build(),
                        "not remote"),
                new Case("a node that cannot export is refused for another node's consumer",
                        req(volume("v", 10).consumerNode("n2")), pool("p", "n1").exporters().build(), "cannot export"),
                new Case("a node that cannot export still serves its own consumer",
                        req(volume("v", 10).consumerNode("n1")), pool("p", "n1").exporters().build(), null),
                new Case("a node that cannot export serves a consumer on its machine: the device is handed over",
                        req(volume("v", 10).consumerNode("n2")).withConsumer(consumer("m1")),
                        pool("p", "n1").exporters().machine("m1").build(), null),
                new Case("a node that cannot export is refused for a consumer on another machine",
                        req(volume("v", 10).consumerNode("n2")).withConsumer(consumer("m2")),
                        pool("p", "n1").exporters().machine("m1").build(), "cannot export"),
                new Case("a consumer whose registration names no machine is not on the node's machine",
                        req(volume("v", 10).consumerNode("n2")).withConsumer(consumer(null)),
                        pool("p", "n1").exporters().machine("m1").build(), "cannot export"),
                new Case("a node whose registration names no machine is not on the consumer's",
                        req(volume("v", 10).consumerNode("n2")).withConsumer(consumer("m1")),
                        pool("p", "n1").exporters().build(), "cannot export"),
                new Case("an spdk volume on the consumer's machine still needs the SPDK target",
                        req(volume("v", 10).thin(true).consumerNode("n2")).withConsumer(consumer("m1")),
                        pool("p", "n1").engine(Engine.SPDK).exporters().machine("m1").build(), "cannot export"),
                new Case("a node with kernel nvmet exports file, lvm and lvm-thin volumes",
                        req(volume("v", 10).consumerNode("n2")), pool("p", "n1").engine(Engine.LVM)
                                .exporters(ExportTarget.NVMET).build(), null),
                new Case("an spdk pool needs the node's SPDK target, not kernel nvmet",
                        req(volume("v", 10).thin(true).consumerNode("n2")), pool("p", "n1").engine(Engine.SPDK)
                                .exporters(ExportTarget.NVMET).build(), "cannot export"),
                new Case("a registration that does not say what it can export is not held against the node",
                        req(volume("v", 10).consumerNode("n2")), pool("p", "n1").build(), null),
                new Case("a volume without a consumer is not filtered by exports",
                        req(volume("v", 10)), pool("p", "n1").exporters().build(), null),
                new Case("the remote cap refuses a node already serving its limit",
                        req(volume("v", 10).consumerNode("n2")), pool("p", "n1").remoteServed(2).build(), "remote cap"),
                new Case("the remote cap does not apply to local consumers",
                        req(volume("v", 10).consumerNode("n1")), pool("p", "n1").remoteServed(2).build(), null),
                new Case("spread refuses a rack already used by the group",
                        new Request(volume("v", 10).spreadGroup("db").failureDomainLevel(FailureDomainLevel.RACK).build(), null,
                                Set.of("r1")), pool("p", "n1").nodeLabel("rack", "r1").build(), "spread rack"),
                new Case("spread admits another rack",
                        new Request(volume("v", 10).spreadGroup("db").failureDomainLevel(FailureDomainLevel.RACK).build(), null,
                                Set.of("r1")), pool("p", "n1").nodeLabel("rack", "r2").build(), null),
                new Case("spread refuses a node without the level's label",
                        new Request(volume("v", 10).spreadGroup("db").failureDomainLevel(FailureDomainLevel.RACK).build(), null,
                                Set.of("r1")), pool("p", "n1").build(), "spread rack"),
                new Case("pool labels override node labels for failure domains",
                        new Request(volume("v", 10).spreadGroup("db").failureDomainLevel(FailureDomainLevel.RACK).build(), null,
                                Set.of("r1")), pool("p", "n1").nodeLabel("rack", "r1").poolLabel("rack", "r9").build(), null),
                new Case("thick free space is capacity minus reserved minus allocated",
                        req(volume("v", 11)), pool("p", "n1").capacityGi(100).reservedGi(10).allocatedGi(80).build(), "free space"),
                new Case("a thick volume that exactly fits is admitted",
                        req(volume("v", 10)), pool("p", "n1").capacityGi(100).reservedGi(10).allocatedGi(80).build(), null),
                new Case("thin free space is capacity times the ratio",
                        req(volume("v", 150).thin(true)), pool("p", "n1").capacityGi(100).ratio(2.0).allocatedGi(40).build(), null),
                new Case("thin overcommit stops at the ratio",
                        req(volume("v", 161).thin(true)), pool("p", "n1").capacityGi(100).ratio(2.0).allocatedGi(40).build(),
                        "free space"),
                new Case("a thick volume needs the disk itself to have room, whatever the ledger says",
                        req(volume("v", 10)), pool("p", "n1").capacityGi(100).diskFreeGi(5).build(), "disk full"),
                new Case("a thin volume is not held back by a nearly full disk",
                        req(volume("v", 10).thin(true)), pool("p", "n1").capacityGi(100).diskFreeGi(5).build(), null),
                new Case("a thin pool whose data is above the watermark refuses thin volumes",
                        req(volume("v", 1).thin(true)), pool("p", "n1").engine(Engine.LVM_THIN).thinData(95).build(),
                        "thin data above watermark"),
                new Case("a thin pool below the watermark admits",
                        req(volume("v", 1).thin(true)), pool("p", "n1").engine(Engine.LVM_THIN).thinData(50).build(), null))
                .map(Arguments::of);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void eachFilterAdmitsOrRefusesWithItsReason(Case c) {
        // The scheduler's own loop must agree with the reference evaluation.
        Decision d = new Scheduler().decide(c.request(), List.of(c.candidate()), GLOBAL, new BinPackPolicy(), true);
        assertThat(d.verdicts().get(0).failedReason()).isEqualTo(c.expectedFailure());
        if (c.expectedFailure() != null) {
            assertThat(d.reasonCounts()).isEqualTo(Map.of(c.expectedFailure(), 1));
        }
        assertThat(new Scheduler().firstFailure(c.request(), c.candidate(), GLOBAL)).isEqualTo(c.expectedFailure());
    }

    /**
     * Capacity reports count what {@link Scheduler#largestFit} says; it must be the exact boundary
     * of the filters: that size placed, one allocation unit more refused, and nothing at all for a
     * pool refused for anything but size.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void theLargestFitIsExactlyWhereTheFiltersStopAdmitting(Case c) {
        Scheduler scheduler = new Scheduler();
        long largest = scheduler.largestFit(c.request(), c.candidate(), GLOBAL);
        assertThat(largest % Sizes.ALIGNMENT).isZero();
        if (largest == 0) {
            assertThat(scheduler.firstFailure(sized(c.request(), Sizes.ALIGNMENT), c.candidate(), GLOBAL)).isNotNull();
            return;
        }
        assertThat(scheduler.firstFailure(sized(c.request(), largest), c.candidate(), GLOBAL)).isNull();
        assertThat(scheduler.firstFailure(sized(c.request(), largest + Sizes.ALIGNMENT), c.candidate(), GLOBAL))
                .isIn("free space", "disk full");
        if (c.expectedFailure() == null) {
            assertThat(largest).isGreaterThanOrEqualTo(c.request().sizeBytes());
        } else {
            assertThat(c.expectedFailure()).isIn("free space", "disk full");
            assertThat(largest).isLessThan(c.request().sizeBytes());
        }
    }

    private static Request sized(Request request, long bytes) {
        return new Request(request.intent().withSizeBytes(bytes), request.requiredPool(), request.takenDomains(),
                request.consumer());
    }
}
