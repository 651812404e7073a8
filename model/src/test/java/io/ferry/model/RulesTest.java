package io.ferry.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class RulesTest {
    /** The message a value is refused with; fails the test when the value is accepted. */
    static String msg(String json, Class<?> type) {
        try {
            Json.decode(json, type);
        } catch (ValidationException e) {
            return e.getMessage();
        }
        throw new AssertionError("accepted " + json);
    }

    @Test
    void mustLocalAndMustRemoteRequireAConsumerNode() {
        assertThat(msg("{\"name\":\"v\",\"sizeBytes\":\"1Gi\",\"positionAdvice\":\"MustLocal\"}", VolumeIntent.class))
                .startsWith("consumerNode: is required when positionAdvice is MustLocal");
        assertThatThrownBy(() -> VolumeIntent.builder("v", 1).positionAdvice(PositionAdvice.MUST_REMOTE).build())
                .hasMessageContaining("MustRemote");
        assertThat(VolumeIntent.builder("v", 1).positionAdvice(PositionAdvice.PREFER_REMOTE).build().consumerNode())
                .isNull();
    }

    @Test
    void sourceSnapshotAndSourceVolumeAreExclusive() {
        assertThatThrownBy(() -> VolumeIntent.builder("v", 1).sourceSnapshot("s").sourceVolume("w").build())
                .hasMessageStartingWith("sourceVolume: cannot be combined with sourceSnapshot");
        assertThatThrownBy(() -> VolumeIntent.builder("v", 1).sourceVolume("v").build())
                .hasMessageContaining("clone of itself");
    }

    @Test
    void storesTheVolumeSizeRoundedUp() {
        assertThat(VolumeIntent.builder("v", 1).build().sizeBytes()).isEqualTo(Sizes.ALIGNMENT);
        assertThat(Json.decode("{\"name\":\"v\",\"sizeBytes\":\"4097Ki\"}", VolumeIntent.class).sizeBytes())
                .isEqualTo(8 * Sizes.MIB);
        assertThat(msg("{\"name\":\"v\",\"sizeBytes\":\"2Pi\"}", VolumeIntent.class)).contains("1Pi");
        assertThat(msg("{\"name\":\"v\",\"sizeBytes\":0}", VolumeIntent.class))
                .isEqualTo("sizeBytes: 0 is not positive");
    }

    @Test
    void thinAndThickMustSuitTheRequestedEngine() {
        assertThatThrownBy(() -> VolumeIntent.builder("v", 1).engine(Engine.LVM).thin(true).build())
                .hasMessageContaining("cannot hold thin volumes");
        assertThatThrownBy(() -> VolumeIntent.builder("v", 1).engine(Engine.LVM_THIN).build())
                .hasMessageContaining("only thin volumes");
        assertThat(VolumeIntent.builder("v", 1).engine(Engine.FILE).thin(true).build().thin()).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"ext3", "btrfs", "EXT4", "", "ext4;reboot"})
    void acceptsOnlyExt4AndXfs(String fs) {
        assertThatThrownBy(() -> VolumeIntent.builder("v", 1).fsType(fs).build()).hasMessageStartingWith("fsType:");
    }

    @ParameterizedTest
    @ValueSource(strings = {"-O; rm -rf /", "$(reboot)", "`id`", "a b", "", "-L\"x\"", "a|b", "a>b", "x\ny"})
    void rejectsMkfsOptionsWithShellMetacharacters(String option) {
        assertThatThrownBy(() -> VolumeIntent.builder("v", 1).fsType("xfs").mkfsOptions(List.of(option)).build())
                .isInstanceOf(ValidationException.class).hasMessageStartingWith("mkfsOptions[0]:");
    }

    @Test
    void boundsAndRequiresContextForMkfsOptions() {
        assertThatThrownBy(() -> VolumeIntent.builder("v", 1).fsType("xfs").mkfsOptions(
                Collections.nCopies(17, "-f")).build()).hasMessageContaining("limit is 16");
        assertThatThrownBy(() -> VolumeIntent.builder("v", 1).mkfsOptions(List.of("-f")).build())
                .hasMessageContaining("without fsType");
    }

    @Test
    void copiesCollectionsDefensivelyAndMakesThemUnmodifiable() {
        HashMap<String, String> sel = new HashMap<>(Map.of("a", "1"));
        VolumeIntent v = VolumeIntent.builder("v", 1).poolSelector(sel).build();
        sel.put("b", "2");
        assertThat(v.poolSelector()).containsOnlyKeys("a");
        assertThatThrownBy(() -> v.poolSelector().put("c", "3")).isInstanceOf(UnsupportedOperationException.class);
        assertThat(v.mkfsOptions()).isEmpty();
        assertThat(v.nodeSelector()).isEmpty();
    }

    @Test
    void rejectsNullElementsInCollections() {
        assertThatThrownBy(() -> VolumeIntent.builder("v", 1).fsType("xfs")
                .mkfsOptions(Arrays.asList("-f", null)).build())
                .hasMessageContaining("mkfsOptions[1]");
        assertThat(msg("{\"name\":\"v\",\"sizeBytes\":1,\"poolSelector\":{\"a\":null}}", VolumeIntent.class))
                .contains("poolSelector");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "lvm | {\"directory\":\"/x\"} | source.volumeGroup: is required for engine lvm",
            "lvm | {\"volumeGroup\":\"vg\",\"directory\":\"/x\"} | source.directory: is not used by engine lvm",
            "lvm-thin | {\"volumeGroup\":\"vg\"} | source.thinPool: is required for engine lvm-thin",
            "spdk | {\"volumeGroup\":\"vg\"} | source.volumeGroup: is not used by engine spdk",
            "spdk | {} | source.lvstore: is required for engine spdk",
            "file | {\"directory\":\"relative/dir\"} | directory: \"relative/dir\" is not an absolute path",
            "file | {\"directory\":\"/a/../etc\"} | contains a '..' segment",
            "file | {\"directory\":\"/a b\"} | contains a space",
            "file | {\"directory\":\"/x\",\"devices\":[\"/dev/sdb\"]} | only engines lvm and lvm-thin use devices",
            "lvm | {\"volumeGroup\":\"-vg\"} | volumeGroup: \"-vg\" is invalid",
            "lvm | {\"volumeGroup\":\"vg\",\"devices\":[\"/dev/../sda\"]} | devices[0]",
            "lvm | {\"volumeGroup\":\"vg\",\"devices\":[\"sda\"]} | is not an absolute path",
    })
    void validatesThePoolSourceForItsEngine(String engine, String source, String expected) {
        String json = "{\"name\":\"p\",\"node\":\"n\",\"engine\":\"" + engine + "\",\"source\":" + source + "}";
        assertThat(msg(json, PoolConfig.class)).contains(expected);
    }

    @ParameterizedTest
    @ValueSource(strings = {"/", "/etc", "/etc/", "/usr", "/var/lib", "/tmp", "/home",
            "/etc/ferry", "/usr/local/ferry", "/proc/self", "/sys/fs/x", "/dev/shm/pool", "/boot/efi", "/run/ferry",
            "/var/log/ferry"})
    void systemDirectoriesAreNeverPoolDirectories(String directory) {
        String json = "{\"name\":\"p\",\"node\":\"n\",\"engine\":\"file\",\"source\":{\"directory\":\""
                + directory + "\"}}";
        assertThat(msg(json, PoolConfig.class)).contains("directory").containsAnyOf("system directory", "belongs to the system");
    }

    @ParameterizedTest
    @ValueSource(strings = {"/var/lib/ferry/pool-a", "/srv/ferry", "/var/tmp/ferry-extra",
            "/tmp/ferry-test/pool", "/mnt/nvme0/ferry", "/home/ops/ferry", "/data"})
    void poolsOfTheirOwnAreAccepted(String directory) {
        assertThat(PoolConfig.builder("p", "n", Engine.FILE, PoolSource.directory(directory)).build().source().directory())
                .isEqualTo(directory);
    }

    @Test
    void onlyFilePoolsTakeACapacityAndItMustBePositive() {
        assertThat(msg("{\"name\":\"p\",\"node\":\"n\",\"engine\":\"lvm\",\"source\":{\"volumeGroup\":\"vg\"},"
                + "\"capacityBytes\":\"10Gi\"}", PoolConfig.class)).contains("capacityBytes: only file pools");
        assertThat(msg("{\"name\":\"p\",\"node\":\"n\",\"engine\":\"file\",\"source\":{\"directory\":\"/srv/p\"},"
                + "\"capacityBytes\":0}", PoolConfig.class)).contains("capacityBytes");
        PoolConfig ok = Json.decode("{\"name\":\"p\",\"node\":\"n\",\"engine\":\"file\",\"source\":{\"directory\":"
                + "\"/srv/p\"},\"capacityBytes\":\"10Gi\"}", PoolConfig.class);
        assertThat(ok.capacityBytes()).isEqualTo(10L << 30);
    }

    @Test
    void prepareNeedsSomethingToPrepareFrom() {
        assertThatThrownBy(() -> PoolConfig.builder("p", "n", Engine.LVM, PoolSource.volumeGroup("vg")).prepare(true)
                .build()).hasMessageContaining("no devices");
        assertThatThrownBy(() -> PoolConfig.builder("p", "n", Engine.SPDK, PoolSource.lvstore("l")).prepare(true)
                .build()).hasMessageContaining("no base bdev");
        assertThat(PoolConfig.builder("p", "n", Engine.FILE, PoolSource.directory("/d")).prepare(true).build()
                .prepare()).isTrue();
    }

    @Test
    void forceDefaultsToFalseAndOnlyQualifiesAnLvmPrepare() {
        assertThat(Json.decode("{\"name\":\"p\",\"node\":\"n\",\"engine\":\"lvm\",\"source\":{\"volumeGroup\":\"vg\","
                + "\"devices\":[\"/dev/vdb\"]},\"prepare\":true}", PoolConfig.class).force()).isFalse();
        PoolConfig forced = Json.decode("{\"name\":\"p\",\"node\":\"n\",\"engine\":\"lvm-thin\",\"source\":{\"volumeGroup\":"
                + "\"vg\",\"thinPool\":\"tp\",\"devices\":[\"/dev/vdb\"]},\"prepare\":true,\"force\":true}", PoolConfig.class);
        assertThat(forced.force()).isTrue();
        assertThat(forced.toBuilder().build().force()).isTrue();
        assertThatThrownBy(() -> PoolConfig.builder("p", "n", Engine.LVM,
                PoolSource.volumeGroup("vg").withDevices(List.of("/dev/vdb"))).force(true).build())
                .hasMessageStartingWith("force:").hasMessageContaining("\"prepare\": true");
        assertThatThrownBy(() -> PoolConfig.builder("p", "n", Engine.FILE, PoolSource.directory("/d")).prepare(true)
                .force(true).build()).hasMessageStartingWith("force:");
        assertThat(msg("{\"name\":\"p\",\"node\":\"n\",\"engine\":\"lvm\",\"source\":{\"volumeGroup\":\"vg\"},"
                + "\"force\":\"yes\"}", PoolConfig.class)).contains("force");
    }

    @Test
    void thickPoolsCannotBeOverprovisioned() {
        assertThatThrownBy(() -> PoolConfig.builder("p", "n", Engine.LVM, PoolSource.volumeGroup("vg"))
                .overprovisionRatio(2.0).build()).hasMessageContaining("overprovisionRatio: 2.0 is not allowed");
        PoolConfig thick = PoolConfig.builder("p", "n", Engine.LVM, PoolSource.volumeGroup("vg"))
                .overprovisionRatio(1.0).build();
        assertThat(thick.effectiveOverprovisionRatio(GlobalConfig.defaults())).isEqualTo(1.0);
        PoolConfig thin = PoolConfig.builder("p", "n", Engine.LVM_THIN, PoolSource.thinPool("vg", "tp")).build();
        assertThat(thin.effectiveOverprovisionRatio(GlobalConfig.defaults())).isEqualTo(4.0);
        assertThatThrownBy(() -> thin.toBuilder().overprovisionRatio(0.5).build())
                .hasMessageContaining("out of range");
    }

    @Test
    void poolDefaultsToSchedulableAndNotPrepared() {
        PoolConfig p = Json.decode("{\"name\":\"p\",\"node\":\"n\",\"engine\":\"file\",\"source\":{\"directory\":"
                + "\"/d\"}}", PoolConfig.class);
        assertThat(p.schedulable()).isTrue();
        assertThat(p.prepare()).isFalse();
        assertThat(p.reservedBytes()).isZero();
        assertThat(p.overprovisionRatio()).isNull();
    }

    @Test
    void globalConfigDefaultsApplyToOmittedFields() {
        assertThat(Json.decode("{}", GlobalConfig.class)).isEqualTo(GlobalConfig.defaults());
        GlobalConfig g = Json.decode("{\"schedulerPolicy\":\"SPREAD\"}", GlobalConfig.class);
        assertThat(g.schedulerPolicy()).isEqualTo(SchedulerPolicyName.SPREAD);
        assertThat(g.localAffinityBonus()).isEqualTo(0.2);
        assertThat(g.nqnPrefix()).isEqualTo("nqn.2026-11.io.ferry");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "{\"localAffinityBonus\":1.5} | localAffinityBonus: 1.5 is out of range",
            "{\"thinDataHighWatermarkPercent\":0} | thinDataHighWatermarkPercent: 0 is out of range",
            "{\"maxRemoteVolumesPerNode\":-1} | maxRemoteVolumesPerNode: -1",
            "{\"defaultOverprovisionRatio\":0.9} | defaultOverprovisionRatio: 0.9",
            "{\"exportPortMin\":5000,\"exportPortMax\":4420} | exportPortMin: 5000 is greater than exportPortMax",
            "{\"exportPortMax\":70000} | exportPortMax: 70000 is out of range",
            "{\"nqnPrefix\":\"iqn.2026-11.io.ferry\"} | must start with \"nqn.\"",
            "{\"nqnPrefix\":\"nqn.2026-11.io.ferry:\"} | must not end with ':'",
            "{\"nqnPrefix\":\"nqn.2026-11.io ferry\"} | contains a space",
    })
    void rejectsOutOfRangeGlobalSettings(String json, String expected) {
        assertThat(msg(json, GlobalConfig.class)).contains(expected);
    }

    @Test
    void ledgerNeverGoesBelowZero() {
        Ledger l = Ledger.empty("p").add(8L << 20);
        assertThat(l.allocatedBytes()).isEqualTo(8L << 20);
        assertThat(l.volumeCount()).isEqualTo(1);
        assertThat(l.release(8L << 20)).isEqualTo(Ledger.empty("p"));
        assertThatThrownBy(() -> l.release(16L << 20)).isInstanceOf(ValidationException.class)
                .hasMessageContaining("below zero");
        assertThatThrownBy(() -> Ledger.empty("p").release(1)).hasMessageContaining("below zero");
        assertThatThrownBy(() -> Ledger.empty("p").add(Long.MAX_VALUE).add(1)).hasMessageContaining("overflows");
        assertThatThrownBy(() -> l.add(0)).hasMessageContaining("not positive");
    }

    @Test
    void growingAVolumeAddsBytesButNoVolume() {
        Ledger grown = Ledger.empty("p").add(256L << 20).grow(256L << 20);
        assertThat(grown.allocatedBytes()).isEqualTo(512L << 20);
        assertThat(grown.volumeCount()).isEqualTo(1);
        // The volume's one release (of its grown size) brings the ledger back to empty.
        assertThat(grown.release(512L << 20)).isEqualTo(Ledger.empty("p"));
        assertThatThrownBy(() -> Ledger.empty("p").grow(1)).hasMessageContaining("counts none");
        assertThatThrownBy(() -> grown.grow(0)).hasMessageContaining("not positive");
        assertThatThrownBy(() -> grown.grow(Long.MAX_VALUE)).hasMessageContaining("overflows");
    }

    @Test
    void exportsMustAllowAtLeastOneHostOverTcp() {
        assertThatThrownBy(() -> ExportSpec.tcp("n", Set.of())).hasMessageContaining("at least");
        assertThatThrownBy(() -> new ExportSpec("n", Set.of(Fixtures.HOST_NQN), "rdma"))
                .hasMessageContaining("allowed: tcp");
        assertThatThrownBy(() -> WorkItem.of("v", "n", "p", Engine.FILE, 1, false, 1, null,
                ExportSpec.tcp("n", Set.of(Fixtures.HOST_NQN)))).hasMessageContaining("serving node itself");
    }

    @Test
    void volumeSourceNamesExactlyOneOrigin() {
        assertThatThrownBy(() -> new VolumeSource(null, null, "p")).hasMessageContaining("exactly one");
        assertThatThrownBy(() -> new VolumeSource("s", "v", "p")).hasMessageContaining("exactly one");
    }

    @Test
    void placedSchedulingNamesNodeAndPool() {
        assertThatThrownBy(() -> VolumeScheduling.of("v", SchedulingPhase.PLACED, null, null, null, "p", true, 0,
                Fixtures.T)).hasMessageContaining("requires node and pool");
        assertThatThrownBy(() -> VolumeScheduling.of("v", SchedulingPhase.NO_FIT, Map.of("x", -1), null, null, null,
                true, 0, Fixtures.T)).hasMessageContaining("reasonCounts.x: -1 is negative");
    }

    @Test
    void onlyAReadySnapshotMayBeReadyToUse() {
        assertThatThrownBy(() -> SnapshotStatus.of("s", "v", "n", "p", 1, true, VolumePhase.CREATING, null, 0,
                null)).hasMessageContaining("only a Ready snapshot");
    }

    @Test
    void poolStatusFreeCannotExceedCapacity() {
        assertThatThrownBy(() -> PoolStatus.of("n", "p", Engine.FILE, 10, 11, null, null, null, true, Fixtures.T))
                .hasMessageContaining("exceeds capacityBytes");
        assertThatThrownBy(() -> PoolStatus.of("n", "p", Engine.FILE, 10, 1, 101.0, null, null, true, Fixtures.T))
                .hasMessageContaining("thinDataPercent");
        assertThatThrownBy(() -> Condition.of("config valid", true, "X", null)).hasMessageContaining("CamelCase");
    }

    @ParameterizedTest
    @ValueSource(strings = {"10.0.0.1", "worker-1.example.com", "fd00::1", "::1", "Host1", "2001:db8:0:0:0:0:0:1", "::ffff:10.0.0.1"})
    void acceptsDataAddresses(String address) {
        assertThat(NodeRegistration.of("n", address, null, Fixtures.HOST_NQN, null, null, "1", Fixtures.T)
                .dataAddress()).isEqualTo(address);
    }

    @ParameterizedTest
    @ValueSource(strings = {"10.0.0.1:4420", "a b", "256.1.1.1", "10.0.0.1:4420:1", "1:2:3", "-host", "host;x", "[fd00::1]", ""})
    void rejectsMalformedDataAddresses(String address) {
        assertThatThrownBy(() -> NodeRegistration.of("n", address, null, Fixtures.HOST_NQN, null, null, "1",
                Fixtures.T)).hasMessageStartingWith("dataAddress:");
    }

    @ParameterizedTest
    @ValueSource(strings = {"host", "host:0", "host:65536", "fd00::1:80", "[fd00::1]", "host:8o", ":80"})
    void rejectsMalformedAdminAddresses(String address) {
        assertThatThrownBy(() -> NodeRegistration.of("n", "10.0.0.1", address, Fixtures.HOST_NQN, null, null, "1",
                Fixtures.T)).hasMessageStartingWith("adminAddress:");
    }

    @Test
    void anOrphanReportWrittenBeforeOwnersPoolsSizesAndSightingsStillParses() {
        OrphanReport old = Json.decode("{\"node\":\"worker-1\",\"orphans\":[{\"kind\":\"lv\",\"name\":\"vg/x\","
                + "\"volumeTag\":\"x\",\"reason\":\"no work item\"}],\"observedAt\":\"2026-11-02T10:20:00Z\"}",
                OrphanReport.class);
        Orphan o = old.orphans().get(0);
        assertThat(o.owner()).isEqualTo(OrphanOwner.UNMARKED);
        assertThat(o.pool()).isNull();
        assertThat(o.sizeBytes()).isZero();
        assertThat(o.firstSeen()).isNull();
        Orphan full = Json.decode("{\"kind\":\"file\",\"name\":\"/p/x.img\",\"reason\":\"r\",\"pool\":\"p\","
                + "\"sizeBytes\":\"1Mi\",\"firstSeen\":\"2026-11-02T10:20:00Z\",\"owner\":\"this-cluster\"}", Orphan.class);
        assertThat(full.sizeBytes()).isEqualTo(1 << 20);
        assertThat(full.owner()).isEqualTo(OrphanOwner.THIS_CLUSTER);
        assertThatThrownBy(() -> Json.decode("{\"kind\":\"file\",\"name\":\"x\",\"reason\":\"r\",\"owner\":\"mine\"}",
                Orphan.class)).hasMessageContaining("this-cluster");
    }

    @Test
    void aClusterIdIsNarrowEnoughForTagsAndAttributes() {
        ClusterIdentity generated = ClusterIdentity.generate(Fixtures.T);
        assertThat(ClusterIdentity.isValidId(generated.id())).isTrue();
        assertThat(generated.shortId()).hasSize(8);
        for (String bad : new String[] {"short", "UPPER-CASE-ID", "with space x", "-leading-dash", "a,b=c:d/e"}) {
            assertThatThrownBy(() -> ClusterIdentity.of(bad, Fixtures.T)).as(bad).hasMessageStartingWith("id:");
        }
        assertThatThrownBy(() -> OrphanRemoval.of("Bad Id", "n", "x", null, Fixtures.T)).hasMessageStartingWith("id:");
        assertThatThrownBy(() -> OrphanRemoval.of("rm-1", "n", " ", null, Fixtures.T)).hasMessageStartingWith("object:");
    }

    @Test
    void anAdoptionAnswerSaysWhyItRefusedOrWhatItAdoptedAndAnAdoptedIntentHasNoSource() {
        assertThatThrownBy(() -> Json.decode("{\"id\":\"a-1\",\"node\":\"n\",\"object\":\"/p/x.img\","
                + "\"outcome\":\"Refused\",\"message\":\"m\",\"finishedAt\":\"2026-11-02T10:20:00Z\"}",
                OrphanAdoptionResult.class)).hasMessageContaining("reason");
        assertThatThrownBy(() -> Json.decode("{\"id\":\"a-1\",\"node\":\"n\",\"object\":\"/p/x.img\","
                + "\"outcome\":\"Done\",\"message\":\"m\",\"volume\":\"x\",\"finishedAt\":\"2026-11-02T10:20:00Z\"}",
                OrphanAdoptionResult.class)).hasMessageContaining("sizeBytes");
        assertThatThrownBy(() -> OrphanRefusal.parse("Whatever")).hasMessageContaining("NotFound");
        assertThatThrownBy(() -> VolumeIntent.builder("x", 1 << 22).adoptFromNode("n").sourceVolume("y").build())
                .hasMessageStartingWith("adoptFromNode:");
        assertThatThrownBy(() -> VolumeIntent.builder("x", 1 << 22).adoptFromNode("Bad Node").build())
                .hasMessageContaining("Bad Node");
    }
}
