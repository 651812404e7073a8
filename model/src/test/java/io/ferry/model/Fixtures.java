package io.ferry.model;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** One valid instance of every stored type, built through the Java factories and builders. */
final class Fixtures {
    static final Instant T = Instant.parse("2026-11-02T10:15:30.123456Z");
    static final String HOST_NQN = "nqn.2014-08.org.nvmexpress:uuid:6c1f2a64-8b8e-4d62-9d0e-0f1b5e0c1a77";

    private Fixtures() {
    }

    static List<Object> all() {
        return List.of(
                GlobalConfig.defaults(),
                GlobalConfig.builder().schedulerPolicy(SchedulerPolicyName.SPREAD).localAffinityBonus(0.5)
                        .exportPorts(4420, 4430).nqnPrefix("nqn.2027-01.com.example").build(),
                PoolConfig.builder("pool-a", "worker-1", Engine.FILE, PoolSource.directory("/var/lib/ferry/a"))
                        .prepare(true).labels(Map.of("rack", "r1")).build(),
                PoolConfig.builder("pool-b", "worker-2", Engine.LVM,
                        PoolSource.volumeGroup("vg0").withDevices(List.of("/dev/sdb", "/dev/sdc"))).prepare(true)
                        .reservedBytes(1L << 30).schedulable(false).build(),
                PoolConfig.builder("pool-c", "worker-3", Engine.SPDK, PoolSource.lvstore("lvs0").withBdev("Nvme0n1"))
                        .overprovisionRatio(3.0).build(),
                PoolStatus.of("worker-1", "pool-a", Engine.LVM_THIN, 100L << 30, 40L << 30, 60.0, 2.5,
                        List.of(Condition.of(Condition.CONFIG_VALID, true, "Valid", null)), true, T),
                PoolStatus.of("worker-1", "pool-x", null, 0, 0, null, null,
                        List.of(Condition.of(Condition.CONFIG_VALID, false, "DecodeFailed", "field \"x\" is not known")),
                        false, T),
                NodeRegistration.of("worker-1.dc1", "fd00::11", "[fd00::11]:9091", HOST_NQN,
                        Set.of(Engine.LVM, Engine.FILE), Map.of("zone", "z1"), "0.1.0-SNAPSHOT", T),
                NodeRegistration.of("worker-2", "10.0.0.12", null, HOST_NQN, Set.of(Engine.FILE), Map.of(), "0.1.0", T)
                        .withExporters(Set.of()).withMachineId("1c7b2d4e-9f0a-4b3c-8d2e-5f6a7b8c9d0e"),
                VolumeIntent.builder("data-1", 10L << 30).thin(true).engine(Engine.LVM_THIN)
                        .positionAdvice(PositionAdvice.MUST_REMOTE).consumerNode("worker-2").spreadGroup("g1")
                        .failureDomainLevel(FailureDomainLevel.ZONE).poolSelector(Map.of("media", "nvme"))
                        .nodeSelector(Map.of("zone", "z1")).sourceSnapshot("snap-1").fsType("ext4")
                        .mkfsOptions(List.of("-E", "lazy_itable_init=0")).createdBy("ferryctl").createdAt(T).build(),
                VolumeIntent.builder("data-2", 1).sourceVolume("data-1").build().withDeletionRequested(),
                Placement.of("data-1", "pool-a", "worker-1", Engine.LVM_THIN, 10L << 30, true, 3, "worker-2", null,
                        null, T),
                Ledger.empty("pool-a").add(10L << 30).add(4L << 20),
                WorkItem.of("data-1", "worker-1", "pool-a", Engine.LVM_THIN, 10L << 30, true, 3,
                        VolumeSource.snapshot("snap-1", "pool-a"), ExportSpec.tcp("worker-2", Set.of(HOST_NQN))),
                WorkItem.of("data-3", "worker-1", "pool-a", Engine.FILE, 4L << 20, false, 1,
                        VolumeSource.volume("data-1", "pool-a"), null),
                VolumeStatus.of("data-1", "worker-1", VolumePhase.READY, "/dev/ferry-vg/data-1", 10L << 30,
                        ExportInfo.tcp(Nqn.forVolume("nqn.2026-11.io.ferry", "3f0b8c2e-5d7a-4e19-9c41-8a6f2d0b7e53", "data-1"), "10.0.1.11", 4420,
                                Nqn.serialForVolume("data-1"), Set.of(HOST_NQN)), 3, null, T),
                VolumeStatus.of("data-2", "worker-1", VolumePhase.FAILED, null, 0, null, 1, "lvcreate: no space", T),
                SnapshotIntent.of("snap-1", "data-1", "csi", T),
                SnapshotIntent.of("snap-2", "data-1", null, null).withDeletionRequested(),
                SnapshotWorkItem.of("snap-1", "worker-1", "data-1", "pool-a", Engine.LVM_THIN, 10L << 30, 1),
                SnapshotStatus.of("snap-1", "data-1", "worker-1", "pool-a", 10L << 30, true, VolumePhase.READY, null,
                        1, T),
                Attachment.of("data-1", "worker-2", HOST_NQN, true, T),
                VolumeScheduling.of("data-1", SchedulingPhase.NO_FIT, Map.of("spread rack", 2, "free space", 3),
                        "no pool fits", null, null, true, 17, T),
                VolumeScheduling.of("data-1", SchedulingPhase.PLACED, null, null, "worker-1", "pool-a", false, 18, T),
                SnapshotScheduling.of("snap-1", SchedulingPhase.INVALID, "bad", null, null, 0, 3, T),
                OrphanReport.of("worker-1", List.of(Orphan.of(OrphanKind.LV, "vg0/old", "old", "no work item"),
                        Orphan.of(OrphanKind.SPDK_SUBSYSTEM, "nqn.2026-11.io.ferry:vol:x", null, "no work item")), T),
                OrphanReport.of("worker-1", null, T),
                ControllerLeader.of("ferry-controller-0@host-a", "host-a:9090", T),
                ClusterIdentity.of("3f0b8c2e-5d7a-4e19-9c41-8a6f2d0b7e53", T),
                OrphanReport.of("worker-1", List.of(Orphan.of(OrphanKind.FILE, "/p/x.img", "x", "unmarked", "pool-a",
                        4096, T, OrphanOwner.UNMARKED)), T),
                OrphanRemoval.of("rm-1", "worker-1", "/p/x.img", "ferryctl@alice", T),
                OrphanRemovalResult.of("rm-1", "worker-1", "/p/x.img", OrphanRemovalOutcome.REFUSED, "unmarked", T),
                OrphanAdoption.of("adopt-1", "worker-1", "/p/x.img", "ferryctl@alice", T),
                OrphanAdoptionResult.refused("adopt-1", "worker-1", "/p/x.img", OrphanRefusal.UNMARKED, "unmarked", T),
                OrphanAdoptionResult.done("adopt-2", "worker-1", "/p/y.img", "adopted", "y", "pool-a", Engine.FILE,
                        8L << 20, T),
                VolumeIntent.builder("y", 8L << 20).adoptFromNode("worker-1").createdBy("ferryctl orphan adopt").build(),
                LifecycleEvent.of(LifecycleEvent.VOLUME, "data-1", LifecycleEvent.idFor(T, 7), EventReason.PLACED, null,
                        "worker-1", "placed on pool pool-a of node worker-1", T, "ferry-controller-0@host-a"),
                LifecycleEvent.of(LifecycleEvent.SNAPSHOT, "snap-1", LifecycleEvent.idFor(T, 8), EventReason.FAILED,
                        "NoSpace", "worker-1", "no room", T, "ferry-controller-0@host-a"));
    }
}
