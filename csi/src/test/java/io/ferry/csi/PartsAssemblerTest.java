package io.ferry.csi;

import io.ferry.model.Layout;
import io.ferry.model.PartNames;
import io.ferry.model.VolumeParts;
import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.CommandResult;
import io.ferry.runtime.exec.FakeCommandRunner;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The commands that assemble and take apart a multi-part volume, on a scripted runner with a fake
 * sysfs and /dev: md and device-mapper are not in every kernel the unit tests run on. The real
 * kernel runs them in the VM testbed.
 */
class PartsAssemblerTest {

    static final String VOLUME = "db-1";
    static final String UUID = "4c3b2a19-8e7d-4f6a-9b5c-0d1e2f3a4b5c";
    static final String UUID_AS_MDADM_PRINTS_IT = "4c3b2a19:8e7d4f6a:9b5c0d1e:2f3a4b5c";
    static final String OTHER_UUID = "11111111:22222222:33333333:44444444";
    static final String NO_SUPERBLOCK = "mdadm: No md superblock detected on the device.\n";
    static final long GIB = 1L << 30;

    @TempDir
    Path tmp;
    Path dev;
    Path sys;
    FakeCommandRunner runner;
    Path leg0;
    Path leg1;

    @BeforeEach
    void setUp() throws Exception {
        dev = Files.createDirectories(tmp.resolve("dev"));
        sys = Files.createDirectories(tmp.resolve("sys"));
        runner = new FakeCommandRunner();
        leg0 = blockDevice("nvme1n1", "259:1");
        leg1 = blockDevice("nvme2n1", "259:2");
    }

    PartsAssembler assembler() {
        return new PartsAssembler(runner, sys, dev);
    }

    Path blockDevice(String kernelName, String majorMinor) throws IOException {
        Path node = Files.createFile(dev.resolve(kernelName));
        Files.writeString(Files.createDirectories(sys.resolve("class/block").resolve(kernelName)).resolve("dev"),
                majorMinor + "\n");
        return node;
    }

    /** What the kernel shows for a device-mapper device: its node, and its name and UUID in sysfs. */
    void dm(String kernelName, String name, String uuid) {
        try {
            Files.createFile(dev.resolve(kernelName));
            Path dm = Files.createDirectories(sys.resolve("block").resolve(kernelName).resolve("dm"));
            Files.writeString(dm.resolve("name"), name + "\n");
            Files.writeString(dm.resolve("uuid"), uuid + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** An md array in sysfs and /dev, in {@code state}, whose {@code mdadm --detail} reports {@code uuid}. */
    void md(String kernelName, String state, String uuid) {
        try {
            if (!Files.exists(dev.resolve(kernelName))) {
                Files.createFile(dev.resolve(kernelName));
            }
            Files.writeString(Files.createDirectories(sys.resolve("block").resolve(kernelName).resolve("md"))
                    .resolve("array_state"), state + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        runner.on(List.of("mdadm", "--detail", "--export", dev.resolve(kernelName).toString()),
                "MD_LEVEL=raid1\nMD_DEVICES=2\nMD_METADATA=1.2\nMD_UUID=" + uuid + "\n");
    }

    /** The kernel deleting a stopped md device: its sysfs directory and its devtmpfs node go. */
    void mdGone(String kernelName) {
        try {
            Path dir = sys.resolve("block").resolve(kernelName);
            try (var files = Files.walk(dir)) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
            Files.deleteIfExists(dev.resolve(kernelName));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static VolumeParts linear() {
        return VolumeParts.of(VOLUME, Layout.LINEAR, List.of(new VolumeParts.Part(PartNames.of(VOLUME, 0), 0, GIB),
                new VolumeParts.Part(PartNames.of(VOLUME, 1), 1, GIB / 2)), null, Instant.EPOCH);
    }

    static VolumeParts mirror() {
        return VolumeParts.of(VOLUME, Layout.MIRROR, List.of(new VolumeParts.Part(PartNames.of(VOLUME, 0), 0, GIB),
                new VolumeParts.Part(PartNames.of(VOLUME, 1), 1, GIB)), UUID, Instant.EPOCH);
    }

    static final String TABLE = "0 2097152 linear 259:1 0\n2097152 1048576 linear 259:2 0\n";

    CommandResult ok(Command c) {
        return new CommandResult(c, 0, "", "", Duration.ZERO);
    }

    void examine(Path leg, String uuidOrNull) {
        if (uuidOrNull == null) {
            runner.fail(List.of("mdadm", "--examine", "--export", leg.toString()), 1, NO_SUPERBLOCK);
        } else {
            runner.on(List.of("mdadm", "--examine", "--export", leg.toString()),
                    "MD_LEVEL=raid1\nMD_DEVICES=2\nMD_UUID=" + uuidOrNull + "\nMD_DEV_UUID=aa:bb:cc:dd\n");
        }
    }

    void wipefs(Path leg, String output) {
        runner.on(List.of("wipefs", "--noheadings", "--output", "TYPE,OFFSET,USAGE", leg.toString()), output);
    }

    static void refused(Throwable e, Status.Code code) {
        assertThat(e).isInstanceOf(StatusRuntimeException.class);
        assertThat(Status.fromThrowable(e).getCode()).isEqualTo(code);
    }

    // ---- linear ----

    @Test
    void createsALinearTableOfTheSegmentsInTheirOrderInSectorsAndUsesItsDevtmpfsNode() {
        List<byte[]> stdin = new ArrayList<>();
        runner.on(List.of("dmsetup", "--noudevsync", "create", "ferry-" + VOLUME, "--uuid", "FERRY-" + VOLUME), c -> {
            stdin.add(c.stdin());
            dm("dm-7", "ferry-" + VOLUME, "FERRY-" + VOLUME);
            return ok(c);
        });

        Path device = assembler().assemble(linear(), List.of(leg0, leg1));

        assertThat(device).isEqualTo(dev.resolve("dm-7"));
        assertThat(runner.commandLines()).containsExactly("dmsetup --noudevsync create ferry-db-1 --uuid FERRY-db-1");
        assertThat(new String(stdin.get(0), StandardCharsets.US_ASCII)).isEqualTo(TABLE);
        assertThat(runner.executed().get(0).lockKey()).isEqualTo("dm:ferry-db-1");
    }

    @Test
    void reusesAnExistingDeviceOfThatNameWithTheSameTable() {
        dm("dm-7", "ferry-" + VOLUME, "FERRY-" + VOLUME);
        runner.on(List.of("dmsetup", "table", "ferry-" + VOLUME), "0 2097152 linear 259:1 0\n2097152 1048576 linear 259:2 0\n");

        Path device = assembler().assemble(linear(), List.of(leg0, leg1));

        assertThat(device).isEqualTo(dev.resolve("dm-7"));
        assertThat(runner.commandLines()).containsExactly("dmsetup table ferry-db-1");
    }

    @Test
    void refusesAnExistingDeviceOfThatNameWithAnotherTableNamingBothAndLeavesIt() {
        dm("dm-7", "ferry-" + VOLUME, "FERRY-" + VOLUME);
        runner.on(List.of("dmsetup", "table", "ferry-" + VOLUME), "0 2097152 linear 259:9 0\n");

        assertThatThrownBy(() -> assembler().assemble(linear(), List.of(leg0, leg1)))
                .satisfies(e -> refused(e, Status.Code.FAILED_PRECONDITION))
                .hasMessageContaining("device-mapper device ferry-db-1 exists with the table [0 2097152 linear 259:9 0]")
                .hasMessageContaining("[0 2097152 linear 259:1 0; 2097152 1048576 linear 259:2 0]");
        assertThat(runner.commandLines()).containsExactly("dmsetup table ferry-db-1");
    }

    @Test
    void neverTakesNorRemovesADeviceOfThatNameThatFerryDidNotMake() {
        // LVM maps volume group "ferry"'s LVs as ferry-<lv> too; only the UUID tells such a device from Ferry's.
        dm("dm-3", "ferry-" + VOLUME, "LVM-Zk3cXqPwz0fjDEDz0y5y3m9y8yHH3bAbWnWc3bN8fWcMyK1pV5u4rWJH0QvHmfcd");

        assertThatThrownBy(() -> assembler().assemble(linear(), List.of(leg0, leg1)))
                .satisfies(e -> refused(e, Status.Code.FAILED_PRECONDITION))
                .hasMessageContaining("a device-mapper device named ferry-db-1 exists and is not Ferry's (its UUID is LVM-Zk3c")
                .hasMessageContaining("not FERRY-db-1); it is left as it is");
        assembler().disassemble(VOLUME, Optional.of(linear()));
        assertThat(assembler().assembled(linear())).isEmpty();
        assertThat(runner.commandLines()).isEmpty();
    }

    @Test
    void replacesADeviceLeftWithoutATableByAnInterruptedCreate() {
        dm("dm-7", "ferry-" + VOLUME, "FERRY-" + VOLUME);
        runner.on(List.of("dmsetup", "table", "ferry-" + VOLUME), "");
        runner.on(List.of("dmsetup", "--noudevsync", "remove", "ferry-" + VOLUME), "");
        runner.on(List.of("dmsetup", "--noudevsync", "create", "ferry-" + VOLUME), "");

        assertThat(assembler().assemble(linear(), List.of(leg0, leg1))).isEqualTo(dev.resolve("dm-7"));
        assertThat(runner.commandLines()).containsExactly("dmsetup table ferry-db-1",
                "dmsetup --noudevsync remove ferry-db-1", "dmsetup --noudevsync create ferry-db-1 --uuid FERRY-db-1");
    }

    @Test
    void refusesASegmentThatIsNotAWholeNumberOfSectors() {
        VolumeParts odd = VolumeParts.of(VOLUME, Layout.LINEAR, List.of(new VolumeParts.Part(PartNames.of(VOLUME, 0), 0, GIB),
                new VolumeParts.Part(PartNames.of(VOLUME, 1), 1, 1000)), null, Instant.EPOCH);
        assertThatThrownBy(() -> assembler().assemble(odd, List.of(leg0, leg1)))
                .satisfies(e -> refused(e, Status.Code.FAILED_PRECONDITION))
                .hasMessageContaining("part db-1--p1 is 1000 bytes, not a whole number of 512-byte sectors");
        assertThat(runner.commandLines()).isEmpty();
    }

    // ---- striped ----

    static VolumeParts striped() {
        return VolumeParts.of(VOLUME, Layout.STRIPED, List.of(new VolumeParts.Part(PartNames.of(VOLUME, 0), 0, GIB),
                new VolumeParts.Part(PartNames.of(VOLUME, 1), 1, GIB)), null, Instant.EPOCH);
    }

    @Test
    void createsOneStripedLineOverTheStripesInTheirOrderAndReusesItAfterARestart() {
        List<byte[]> stdin = new ArrayList<>();
        runner.on(List.of("dmsetup", "--noudevsync", "create", "ferry-" + VOLUME, "--uuid", "FERRY-" + VOLUME), c -> {
            stdin.add(c.stdin());
            dm("dm-8", "ferry-" + VOLUME, "FERRY-" + VOLUME);
            return ok(c);
        });

        assertThat(assembler().assemble(striped(), List.of(leg0, leg1))).isEqualTo(dev.resolve("dm-8"));
        // 2 GiB in sectors, two stripes, 64 KiB chunks (128 sectors), each stripe from its device's start.
        assertThat(new String(stdin.get(0), StandardCharsets.US_ASCII))
                .isEqualTo("0 4194304 striped 2 128 259:1 0 259:2 0\n");

        // dmsetup prints the table back on one line, the same way: the device is taken as it is.
        runner.on(List.of("dmsetup", "table", "ferry-" + VOLUME), "0 4194304 striped 2 128 259:1 0 259:2 0\n");
        assertThat(assembler().assemble(striped(), List.of(leg0, leg1))).isEqualTo(dev.resolve("dm-8"));
        assertThat(assembler().assembled(striped())).contains(dev.resolve("dm-8"));
        assertThat(runner.commandLines()).containsExactly("dmsetup --noudevsync create ferry-db-1 --uuid FERRY-db-1",
                "dmsetup table ferry-db-1");
    }

    @Test
    void refusesAStripedDeviceWhoseStripesAreSwappedAndLeavesIt() {
        // The same devices in the other order would read every chunk from the wrong disk: not the volume.
        dm("dm-8", "ferry-" + VOLUME, "FERRY-" + VOLUME);
        runner.on(List.of("dmsetup", "table", "ferry-" + VOLUME), "0 4194304 striped 2 128 259:2 0 259:1 0\n");

        assertThatThrownBy(() -> assembler().assemble(striped(), List.of(leg0, leg1)))
                .satisfies(e -> refused(e, Status.Code.FAILED_PRECONDITION))
                .hasMessageContaining("exists with the table [0 4194304 striped 2 128 259:2 0 259:1 0]");
        assertThat(runner.commandLines()).containsExactly("dmsetup table ferry-db-1");
    }

    @Test
    void removesTheLinearDeviceByNameAndNothingWhenItIsGone() {
        dm("dm-7", "ferry-" + VOLUME, "FERRY-" + VOLUME);
        dm("dm-2", "vg0-other", "LVM-abc");
        runner.on(List.of("dmsetup", "--noudevsync", "remove", "ferry-" + VOLUME), c -> {
            try {
                Files.walk(sys.resolve("block/dm-7")).sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return ok(c);
        });

        assembler().disassemble(VOLUME, Optional.of(linear()));
        assembler().disassemble(VOLUME, Optional.of(linear()));
        // Without its parts record (already deleted) the device is still found by name.
        assembler().disassemble(VOLUME, Optional.empty());

        assertThat(runner.commandLines()).containsExactly("dmsetup --noudevsync remove ferry-db-1");
    }

    // ---- mirror ----

    @Test
    void createsAMirrorOnlyWhenEveryLegIsBlankAndFindsItByUuid() {
        examine(leg0, null);
        examine(leg1, null);
        wipefs(leg0, "");
        wipefs(leg1, "");
        runner.on(List.of("mdadm", "--create"), c -> {
            md("md127", "clean", UUID_AS_MDADM_PRINTS_IT);
            return ok(c);
        });

        Path device = assembler().assemble(mirror(), List.of(leg0, leg1));

        assertThat(device).isEqualTo(dev.resolve("md127"));
        assertThat(runner.commandLines()).containsExactly(
                "mdadm --examine --export " + leg0,
                "wipefs --noheadings --output TYPE,OFFSET,USAGE " + leg0,
                "mdadm --examine --export " + leg1,
                "wipefs --noheadings --output TYPE,OFFSET,USAGE " + leg1,
                "mdadm --create /dev/md/ferry-4c3b2a198e7d --run --level=1 --raid-devices=2 --metadata=1.2"
                        + " --bitmap=internal --data-offset=4096K --uuid=" + UUID + " --name=ferry-4c3b2a198e7d " + leg0 + " " + leg1,
                "mdadm --detail --export " + dev.resolve("md127"));
    }

    @Test
    void assemblesFromTheLegsThatCarryItsUuid() {
        examine(leg0, UUID_AS_MDADM_PRINTS_IT);
        examine(leg1, UUID_AS_MDADM_PRINTS_IT);
        runner.on(List.of("mdadm", "--assemble"), c -> {
            md("md126", "active", UUID_AS_MDADM_PRINTS_IT);
            return ok(c);
        });

        assertThat(assembler().assemble(mirror(), List.of(leg0, leg1))).isEqualTo(dev.resolve("md126"));
        assertThat(runner.commandLines()).containsExactly(
                "mdadm --examine --export " + leg0,
                "mdadm --examine --export " + leg1,
                "mdadm --assemble /dev/md/ferry-4c3b2a198e7d --uuid " + UUID + " --run " + leg0 + " " + leg1,
                "mdadm --detail --export " + dev.resolve("md126"));
    }

    @Test
    void refusesAMirrorWhoseMembersSitBesideABlankLegAndWritesNothing() {
        examine(leg0, UUID_AS_MDADM_PRINTS_IT);
        examine(leg1, null);
        wipefs(leg1, "");

        assertThatThrownBy(() -> assembler().assemble(mirror(), List.of(leg0, leg1)))
                .isInstanceOfSatisfying(StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION))
                .hasMessageContaining("beside blank legs [" + PartNames.of(VOLUME, 1) + "]")
                .hasMessageContaining("nothing was written to any leg");
        assertThat(runner.commandLines()).noneMatch(c -> c.startsWith("mdadm --assemble") || c.startsWith("mdadm --create"));
    }

    @Test
    void reusesTheRunningArrayWithItsUuid() {
        md("md125", "clean", OTHER_UUID);
        md("md126", "active", UUID_AS_MDADM_PRINTS_IT);

        assertThat(assembler().assemble(mirror(), List.of(leg0, leg1))).isEqualTo(dev.resolve("md126"));
        assertThat(runner.commandLines()).containsExactly("mdadm --detail --export " + dev.resolve("md125"),
                "mdadm --detail --export " + dev.resolve("md126"));
    }

    @Test
    void stopsItsOwnInactiveArrayBeforeAssemblingAgain() {
        md("md126", "inactive", UUID_AS_MDADM_PRINTS_IT);
        runner.on(List.of("mdadm", "--stop"), c -> {
            mdGone("md126");
            return ok(c);
        });
        examine(leg0, UUID_AS_MDADM_PRINTS_IT);
        examine(leg1, UUID_AS_MDADM_PRINTS_IT);
        runner.on(List.of("mdadm", "--assemble"), c -> {
            md("md126", "active", UUID_AS_MDADM_PRINTS_IT);
            return ok(c);
        });

        assembler().assemble(mirror(), List.of(leg0, leg1));

        assertThat(runner.commandLines()).containsSubsequence("mdadm --stop " + dev.resolve("md126"),
                "mdadm --assemble /dev/md/ferry-4c3b2a198e7d --uuid " + UUID + " --run " + leg0 + " " + leg1);
    }

    @Test
    void refusesALegWithAnyOtherSignatureNamingItAndWhatIsOnIt() {
        examine(leg0, null);
        examine(leg1, null);
        wipefs(leg0, "");
        wipefs(leg1, "ext4 0x438 filesystem\n");

        assertThatThrownBy(() -> assembler().assemble(mirror(), List.of(leg0, leg1)))
                .satisfies(e -> refused(e, Status.Code.FAILED_PRECONDITION))
                .hasMessageContaining("leg db-1--p1 (" + leg1 + ") holds ext4 (filesystem) at offset 0x438")
                .hasMessageContaining("nothing is written to any leg");
        assertThat(runner.commandLines()).noneMatch(c -> c.startsWith("mdadm --create") || c.startsWith("mdadm --assemble"));
    }

    @Test
    void refusesALegOfAnotherArrayEvenBesideItsOwnLegs() {
        examine(leg0, UUID_AS_MDADM_PRINTS_IT);
        examine(leg1, OTHER_UUID);

        assertThatThrownBy(() -> assembler().assemble(mirror(), List.of(leg0, leg1)))
                .satisfies(e -> refused(e, Status.Code.FAILED_PRECONDITION))
                .hasMessageContaining("leg db-1--p1 (" + leg1 + ") is a member of md array " + OTHER_UUID);
        assertThat(runner.commandLines()).noneMatch(c -> c.startsWith("mdadm --create") || c.startsWith("mdadm --assemble"));
    }

    @Test
    void neverTakesALegItCannotReadAsBlank() {
        runner.fail(List.of("mdadm", "--examine", "--export", leg0.toString()), 1,
                "mdadm: cannot open " + leg0 + ": No such device or address\n");

        assertThatThrownBy(() -> assembler().assemble(mirror(), List.of(leg0, leg1)))
                .satisfies(e -> refused(e, Status.Code.INTERNAL))
                .hasMessageContaining("cannot open");
        assertThat(runner.commandLines()).containsExactly("mdadm --examine --export " + leg0);
    }

    @Test
    void stopsTheArrayWithItsUuidOnlyAndNothingWhenItIsGone() {
        md("md125", "clean", OTHER_UUID);
        md("md126", "active", UUID_AS_MDADM_PRINTS_IT);
        runner.on(List.of("mdadm", "--stop"), c -> {
            mdGone("md126");
            return ok(c);
        });

        assembler().disassemble(VOLUME, Optional.of(mirror()));
        assembler().disassemble(VOLUME, Optional.of(mirror()));

        assertThat(runner.commandLines()).filteredOn(c -> c.startsWith("mdadm --stop"))
                .containsExactly("mdadm --stop " + dev.resolve("md126"));
    }

    @Test
    void returnsFromAStopOnlyOnceTheKernelHasDeletedTheMdDevice() {
        md("md126", "active", UUID_AS_MDADM_PRINTS_IT);
        runner.on(List.of("mdadm", "--stop"), c -> {
            // As the kernel does: the array stops at once, the device goes later, from a work queue.
            md("md126", "clear", "");
            CompletableFuture.runAsync(() -> mdGone("md126"),
                    CompletableFuture.delayedExecutor(300, TimeUnit.MILLISECONDS));
            return ok(c);
        });

        assembler().disassemble(VOLUME, Optional.of(mirror()));

        assertThat(sys.resolve("block/md126")).doesNotExist();
    }

    @Test
    void theNodeAndLinkMdadmMadeWithoutUdevGoWithTheArraySoNoScanCreatesItAgain() throws IOException {
        md("md126", "active", UUID_AS_MDADM_PRINTS_IT);
        Path link = Files.createSymbolicLink(Files.createDirectories(dev.resolve("md"))
                .resolve(MirrorArrays.mdName(mirror())), Path.of("../md126"));
        Path otherLink = Files.createSymbolicLink(dev.resolve("md/someone-else"), Path.of("../md125"));
        runner.on(List.of("mdadm", "--stop"), c -> {
            // The kernel deletes the device; the node mdadm made stays, as it does without udev.
            mdGone("md126");
            try {
                Files.createFile(dev.resolve("md126"));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return ok(c);
        });

        assembler().disassemble(VOLUME, Optional.of(mirror()));

        assertThat(dev.resolve("md126")).doesNotExist();
        assertThat(link).doesNotExist();
        assertThat(Files.isSymbolicLink(otherLink)).as("another array's link stays").isTrue();
    }

    @Test
    void neverOpensAnMdDeviceThatHoldsNoArray() {
        // Opening the node of an empty or half-deleted md device makes the kernel create it again.
        md("md125", "clear", OTHER_UUID);
        md("md126", "active", UUID_AS_MDADM_PRINTS_IT);
        assertThat(assembler().assembled(mirror())).contains(dev.resolve("md126"));

        assertThat(runner.commandLines()).containsExactly("mdadm --detail --export " + dev.resolve("md126"));
    }

    // ---- a leg given back ----

    /** md126 running with leg 1 ({@code nvme2n1}) as md lists it: {@code faulty}, or absent when null. */
    void memberState(String leg1State) {
        md("md126", "active", UUID_AS_MDADM_PRINTS_IT);
        try {
            Path md = sys.resolve("block/md126/md");
            Files.writeString(Files.createDirectories(md.resolve("dev-nvme1n1")).resolve("state"), "in_sync\n");
            if (leg1State != null) {
                Files.writeString(Files.createDirectories(md.resolve("dev-nvme2n1")).resolve("state"), leg1State + "\n");
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void aFailedLegIsRemovedThenReAddedWhenItCarriesTheArraysUuid() {
        memberState("faulty");
        runner.on(List.of("mdadm", "--manage"), "");
        examine(leg1, UUID_AS_MDADM_PRINTS_IT);

        List<MirrorArrays.Repair> done = assembler().mirrors().repair(mirror(), dev.resolve("md126"),
                Map.of(PartNames.of(VOLUME, 1), leg1));

        assertThat(runner.commandLines()).containsExactly("mdadm --manage " + dev.resolve("md126") + " --remove failed",
                "mdadm --examine --export " + leg1, "mdadm --manage " + dev.resolve("md126") + " --re-add " + leg1);
        assertThat(done).singleElement().satisfies(r -> {
            assertThat(r.attempted()).isTrue();
            assertThat(r.what()).contains("re-added");
        });
    }

    @Test
    void aLegMdWillNotReAddIsLeftForAnOperatorAndNeverAddedOrWiped() {
        memberState(null);
        // What mdadm answers for a leg that ran on its own (a split brain): its events are ahead of the array's.
        runner.fail(List.of("mdadm", "--manage", dev.resolve("md126").toString(), "--re-add"), 1,
                "mdadm: --re-add for " + leg1 + " to " + dev.resolve("md126") + " is not possible\n");
        examine(leg1, UUID_AS_MDADM_PRINTS_IT);

        List<MirrorArrays.Repair> done = assembler().mirrors().repair(mirror(), dev.resolve("md126"),
                Map.of(PartNames.of(VOLUME, 1), leg1));

        assertThat(runner.commandLines()).containsExactly("mdadm --examine --export " + leg1,
                "mdadm --manage " + dev.resolve("md126") + " --re-add " + leg1);
        assertThat(done).singleElement().satisfies(r -> {
            assertThat(r.attempted()).as("counted, so it is tried ever less often").isTrue();
            assertThat(r.what()).contains("is not possible").contains("until an operator decides");
        });
    }

    @Test
    void aLegWithAnotherArraysSuperblockOrNoneIsNeverAddedToTheMirror() {
        memberState(null);
        examine(leg1, OTHER_UUID);

        List<MirrorArrays.Repair> done = assembler().mirrors().repair(mirror(), dev.resolve("md126"),
                Map.of(PartNames.of(VOLUME, 1), leg1));
        examine(leg1, null);
        done = new ArrayList<>(done);
        done.addAll(assembler().mirrors().repair(mirror(), dev.resolve("md126"), Map.of(PartNames.of(VOLUME, 1), leg1)));

        assertThat(runner.commandLines()).noneMatch(c -> c.startsWith("mdadm --manage"));
        assertThat(done).extracting(MirrorArrays.Repair::attempted).containsExactly(false, false);
        assertThat(done.get(0).what()).contains("it is a member of " + OTHER_UUID).contains("left alone");
        assertThat(done.get(1).what()).contains("no md superblock").contains("left alone");
    }

    @Test
    void aLegThatCannotBeReadYetIsNotCountedAsATry() {
        memberState("faulty");
        runner.on(List.of("mdadm", "--manage"), "");
        runner.fail(List.of("mdadm", "--examine", "--export", leg1.toString()), 1,
                "mdadm: cannot open " + leg1 + ": Input/output error\n");

        List<MirrorArrays.Repair> done = assembler().mirrors().repair(mirror(), dev.resolve("md126"),
                Map.of(PartNames.of(VOLUME, 1), leg1));

        assertThat(done).singleElement().satisfies(r -> {
            assertThat(r.attempted()).isFalse();
            assertThat(r.what()).contains("cannot be read yet").contains("Input/output error");
        });
        assertThat(runner.commandLines()).noneMatch(c -> c.contains("--re-add") || c.contains("--add"));
    }

    @Test
    void failedLegsMdStillHoldsAreLeftForTheNextRound() {
        memberState("faulty");
        runner.fail(List.of("mdadm", "--manage", dev.resolve("md126").toString(), "--remove", "failed"), 1,
                "mdadm: hot remove failed for " + leg1 + ": Device or resource busy\n");

        List<MirrorArrays.Repair> done = assembler().mirrors().repair(mirror(), dev.resolve("md126"),
                Map.of(PartNames.of(VOLUME, 1), leg1));

        assertThat(done).singleElement().satisfies(r -> assertThat(r.attempted()).isFalse());
        assertThat(runner.commandLines()).containsExactly("mdadm --manage " + dev.resolve("md126") + " --remove failed");
    }

    // ---- growing ----

    /** What the kernel shows of a device's size: its number and its size in sectors. */
    void sized(String kernelName, String majorMinor, long bytes) {
        try {
            Files.writeString(Files.createDirectories(sys.resolve("class/block").resolve(kernelName)).resolve("dev"),
                    majorMinor + "\n");
            Files.writeString(Files.createDirectories(sys.resolve("block").resolve(kernelName)).resolve("size"),
                    bytes / 512 + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    void bitmap(String location) {
        try {
            Files.writeString(Files.createDirectories(sys.resolve("block/md126/md/bitmap")).resolve("location"),
                    location + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void growsAMirrorsArrayToExactlyTheVolumesSizeOnceAndKeepsItsBitmap() {
        VolumeParts grown = mirror().grownTo(2 * GIB);
        md("md126", "active", UUID_AS_MDADM_PRINTS_IT);
        sized("md126", "9:126", mirror().assembledBytes());
        bitmap("+8");
        runner.on(List.of("mdadm", "--grow"), c -> {
            sized("md126", "9:126", 2 * GIB);
            return ok(c);
        });

        assertThat(assembler().grow(grown, List.of(leg0, leg1))).isEqualTo(dev.resolve("md126"));
        assembler().grow(grown, List.of(leg0, leg1));

        // --size is per leg in KiB: the volume's 2 GiB, not "max" (a leg may be larger than asked).
        assertThat(runner.commandLines()).filteredOn(c -> c.startsWith("mdadm --grow"))
                .containsExactly("mdadm --grow " + dev.resolve("md126") + " --size=2097152");
        assertThat(runner.executed()).filteredOn(c -> c.argv().contains("--grow"))
                .allSatisfy(c -> assertThat(c.lockKey()).isEqualTo("md:" + UUID));
    }

    @Test
    void anArrayMdadmWillNotResizeUnderItsBitmapIsResizedWithoutItAndGetsItBack() {
        VolumeParts grown = mirror().grownTo(2 * GIB);
        md("md126", "active", UUID_AS_MDADM_PRINTS_IT);
        sized("md126", "9:126", mirror().assembledBytes());
        bitmap("+8");
        int[] tries = {0};
        runner.on(List.of("mdadm", "--grow", dev.resolve("md126").toString(), "--size=2097152"), c -> {
            if (tries[0]++ == 0) {
                return new CommandResult(c, 1, "", "mdadm: Cannot change size with a bitmap present\n", Duration.ZERO);
            }
            sized("md126", "9:126", 2 * GIB);
            return ok(c);
        });
        runner.on(List.of("mdadm", "--grow", dev.resolve("md126").toString(), "--bitmap=none"), c -> {
            bitmap("none");
            return ok(c);
        });
        runner.on(List.of("mdadm", "--grow", dev.resolve("md126").toString(), "--bitmap=internal"), c -> {
            bitmap("+8");
            return ok(c);
        });

        assembler().grow(grown, List.of(leg0, leg1));

        String md = dev.resolve("md126").toString();
        assertThat(runner.commandLines()).filteredOn(c -> c.startsWith("mdadm --grow")).containsExactly(
                "mdadm --grow " + md + " --size=2097152", "mdadm --grow " + md + " --bitmap=none",
                "mdadm --grow " + md + " --size=2097152", "mdadm --grow " + md + " --bitmap=internal");
    }

    @Test
    void anArrayLeftWithoutItsBitmapByAnInterruptedGrowGetsItBackOnTheNextCall() {
        md("md126", "active", UUID_AS_MDADM_PRINTS_IT);
        sized("md126", "9:126", 2 * GIB);
        bitmap("none");
        runner.on(List.of("mdadm", "--grow"), "");

        assembler().grow(mirror().grownTo(2 * GIB), List.of(leg0, leg1));

        assertThat(runner.commandLines()).filteredOn(c -> c.startsWith("mdadm --grow"))
                .containsExactly("mdadm --grow " + dev.resolve("md126") + " --bitmap=internal");
    }

    @Test
    void growsAStripedDeviceByLoadingItsTableWithTheLargerStripes() {
        dm("dm-8", "ferry-" + VOLUME, "FERRY-" + VOLUME);
        runner.on(List.of("dmsetup", "table", "ferry-" + VOLUME), "0 4194304 striped 2 128 259:1 0 259:2 0\n");
        List<byte[]> stdin = new ArrayList<>();
        runner.on(List.of("dmsetup", "load", "ferry-" + VOLUME), c -> {
            stdin.add(c.stdin());
            return ok(c);
        });
        runner.on(List.of("dmsetup", "--noudevsync", "resume", "ferry-" + VOLUME), "");

        assertThat(assembler().grow(striped().grownTo(4 * GIB), List.of(leg0, leg1))).isEqualTo(dev.resolve("dm-8"));

        assertThat(new String(stdin.get(0), StandardCharsets.US_ASCII)).isEqualTo("0 8388608 striped 2 128 259:1 0 259:2 0\n");
        assertThat(runner.commandLines()).containsExactly("dmsetup table ferry-db-1", "dmsetup load ferry-db-1",
                "dmsetup --noudevsync resume ferry-db-1");
    }

    @Test
    void neverLoadsALargerTableOverADeviceThatMapsOtherDevices() {
        dm("dm-8", "ferry-" + VOLUME, "FERRY-" + VOLUME);
        runner.on(List.of("dmsetup", "table", "ferry-" + VOLUME), "0 2097152 linear 259:9 0\n2097152 1048576 linear 259:2 0\n");

        assertThatThrownBy(() -> assembler().grow(linear().grownTo(2 * GIB), List.of(leg0, leg1)))
                .satisfies(e -> refused(e, Status.Code.FAILED_PRECONDITION))
                .hasMessageContaining("maps [259:9, 259:2], not the parts' devices [259:1, 259:2]");
        assertThat(runner.commandLines()).containsExactly("dmsetup table ferry-db-1");
    }

    @Test
    void growingAVolumeNotAssembledHereIsRefused() {
        assertThatThrownBy(() -> assembler().grow(striped().grownTo(4 * GIB), List.of(leg0, leg1)))
                .satisfies(e -> refused(e, Status.Code.FAILED_PRECONDITION))
                .hasMessageContaining("is not assembled on this node");
        assertThat(runner.commandLines()).isEmpty();
    }

    // ---- a lost leg replaced ----

    /** The mirror after leg 1 was declared lost: leg 0, and leg 2 (blank, placed for it), whose device is {@code leg1}. */
    static VolumeParts replaced() {
        return mirror().withReplacement(PartNames.of(VOLUME, 1),
                new VolumeParts.Part(PartNames.of(VOLUME, 2), 2, GIB, PartNames.of(VOLUME, 1)));
    }

    @Test
    void aBlankReplacementLegIsAddedToTheArrayAssembledFromTheLegsThatCarryItsUuid() {
        examine(leg0, UUID_AS_MDADM_PRINTS_IT);
        examine(leg1, null);
        wipefs(leg1, "");
        runner.on(List.of("mdadm", "--assemble"), c -> {
            md("md126", "active", UUID_AS_MDADM_PRINTS_IT);
            return ok(c);
        });
        runner.on(List.of("mdadm", "--manage"), "");

        assertThat(assembler().assemble(replaced(), List.of(leg0, leg1))).isEqualTo(dev.resolve("md126"));
        assertThat(runner.commandLines()).containsExactly(
                "mdadm --examine --export " + leg0,
                "mdadm --examine --export " + leg1,
                "wipefs --noheadings --output TYPE,OFFSET,USAGE " + leg1,
                "mdadm --assemble /dev/md/ferry-4c3b2a198e7d --uuid " + UUID + " --run " + leg0,
                "mdadm --detail --export " + dev.resolve("md126"),
                "mdadm --manage " + dev.resolve("md126") + " --add " + leg1);
    }

    @Test
    void aReplacementLegWithAnythingOnItIsRefusedLikeAnyOtherLeg() {
        examine(leg0, UUID_AS_MDADM_PRINTS_IT);
        examine(leg1, null);
        wipefs(leg1, "ext4 0x438 filesystem\n");

        assertThatThrownBy(() -> assembler().assemble(replaced(), List.of(leg0, leg1)))
                .satisfies(e -> refused(e, Status.Code.FAILED_PRECONDITION))
                .hasMessageContaining("leg " + PartNames.of(VOLUME, 2)).hasMessageContaining("ext4");
        assertThat(runner.commandLines()).noneMatch(c -> c.startsWith("mdadm --assemble") || c.startsWith("mdadm --manage"));
    }

    @Test
    void theKeeperAddsABlankReplacementLegAndNoOtherBlankLeg() {
        memberState(null);
        runner.on(List.of("mdadm", "--manage"), "");
        examine(leg1, null);
        wipefs(leg1, "");

        List<MirrorArrays.Repair> added = assembler().mirrors().repair(replaced(), dev.resolve("md126"),
                Map.of(PartNames.of(VOLUME, 2), leg1));
        List<MirrorArrays.Repair> notAdded = assembler().mirrors().repair(mirror(), dev.resolve("md126"),
                Map.of(PartNames.of(VOLUME, 1), leg1));

        assertThat(added).singleElement().satisfies(r -> {
            assertThat(r.attempted()).isTrue();
            assertThat(r.what()).contains("replacement leg " + PartNames.of(VOLUME, 2)).contains("added");
        });
        assertThat(notAdded).singleElement().satisfies(r -> assertThat(r.what()).contains("left alone"));
        assertThat(runner.commandLines()).filteredOn(c -> c.startsWith("mdadm --manage"))
                .containsExactly("mdadm --manage " + dev.resolve("md126") + " --add " + leg1);
    }

    @Test
    void aRetiredLegIsTakenOutOnlyWhileAnotherLegIsInSync() throws IOException {
        memberState("in_sync");
        runner.on(List.of("mdadm", "--manage"), "");
        Map<String, String> retired = Map.of(PartNames.of(VOLUME, 1), "nvme2n1");

        List<MirrorArrays.Repair> out = assembler().mirrors().retire(replaced(), dev.resolve("md126"), retired);
        Files.writeString(sys.resolve("block/md126/md/dev-nvme1n1/state"), "faulty\n");
        List<MirrorArrays.Repair> kept = assembler().mirrors().retire(replaced(), dev.resolve("md126"), retired);

        assertThat(out).singleElement().satisfies(r -> {
            assertThat(r.attempted()).isTrue();
            assertThat(r.what()).contains("taken out of the array");
        });
        assertThat(kept).singleElement().satisfies(r -> {
            assertThat(r.attempted()).isFalse();
            assertThat(r.what()).contains("only leg in sync");
        });
        assertThat(runner.commandLines()).containsExactly("mdadm --manage " + dev.resolve("md126") + " --fail "
                + dev.resolve("nvme2n1") + " --remove " + dev.resolve("nvme2n1"));
    }

    @Test
    void twoRetiredLegsInSyncAreNotEachOthersReasonToGo() {
        // Both declared lost and both the array's only legs in sync: taking either out leaves no copy.
        memberState("in_sync");
        Map<String, String> retired = new LinkedHashMap<>();
        retired.put(PartNames.of(VOLUME, 0), "nvme1n1");
        retired.put(PartNames.of(VOLUME, 1), "nvme2n1");

        List<MirrorArrays.Repair> out = assembler().mirrors().retire(replaced(), dev.resolve("md126"), retired);

        assertThat(out).hasSize(2).allSatisfy(r -> {
            assertThat(r.attempted()).isFalse();
            assertThat(r.what()).contains("only leg in sync");
        });
        assertThat(runner.commandLines()).isEmpty();
    }

    @Test
    void blankLegsThatAllReplaceLostLegsAreNeverMadeANewArray() {
        VolumeParts bothReplaced = replaced().withReplacement(PartNames.of(VOLUME, 0),
                new VolumeParts.Part(PartNames.of(VOLUME, 3), 3, GIB, PartNames.of(VOLUME, 0)));
        examine(leg0, null);
        examine(leg1, null);
        wipefs(leg0, "");
        wipefs(leg1, "");

        assertThatThrownBy(() -> assembler().assemble(bothReplaced, List.of(leg0, leg1)))
                .satisfies(e -> refused(e, Status.Code.FAILED_PRECONDITION))
                .hasMessageContaining("every leg [" + PartNames.of(VOLUME, 3) + ", " + PartNames.of(VOLUME, 2)
                        + "] is a blank replacement of a lost leg");
        assertThat(runner.commandLines()).noneMatch(c -> c.startsWith("mdadm --create") || c.startsWith("mdadm --assemble"));
    }

    @Test
    void aMirrorNeverAssembledIsCreatedAlsoWhenOneOfItsLegsWasReplaced() {
        // A first leg blank: the array was never made (it is made over every first leg at once).
        examine(leg0, null);
        examine(leg1, null);
        wipefs(leg0, "");
        wipefs(leg1, "");
        runner.on(List.of("mdadm", "--create"), c -> {
            md("md127", "clean", UUID_AS_MDADM_PRINTS_IT);
            return ok(c);
        });

        assertThat(assembler().assemble(replaced(), List.of(leg0, leg1))).isEqualTo(dev.resolve("md127"));
        assertThat(runner.commandLines()).anyMatch(c -> c.startsWith("mdadm --create"));
    }

    @Test
    void aRetiredLegIsFoundAmongTheMembersByItsNvmeSubsystemAlsoWhenItsExportIsGone() throws IOException {
        memberState("in_sync");
        Files.writeString(Files.createDirectories(sys.resolve("block/nvme2n1/device")).resolve("subsysnqn"),
                "nqn.2024-01.io.ferry:c1:db-1--p1\n");
        Files.writeString(Files.createDirectories(sys.resolve("block/nvme1n1/device")).resolve("subsysnqn"),
                "nqn.2024-01.io.ferry:c1:db-1--p0\n");
        MdMembers members = assembler().mirrors().members();

        assertThat(members.memberOf(dev.resolve("md126"), List.of("nqn.2024-01.io.ferry:c1:db-1--p1", "legacy")))
                .contains("nvme2n1");
        assertThat(members.memberOf(dev.resolve("md126"), List.of("nqn.2024-01.io.ferry:c1:db-1--p3"))).isEmpty();
    }

    // ---- a leg moved ----

    /** The mirror while leg 0 moves: legs 0 and 1, and leg 2 (blank, joining from leg 0), whose device is {@code nvme3n1}. */
    static VolumeParts moving() {
        return mirror().withJoining(new VolumeParts.Part(PartNames.of(VOLUME, 2), 2, GIB, null, PartNames.of(VOLUME, 0)));
    }

    /** md126 running with {@code slots} slots, md's {@code sync_action}, and its members' states by kernel name. */
    void slots(int slots, String syncAction, Map<String, String> members) {
        md("md126", "active", UUID_AS_MDADM_PRINTS_IT);
        try {
            Path md = sys.resolve("block/md126/md");
            Files.writeString(md.resolve("raid_disks"), slots + "\n");
            Files.writeString(md.resolve("sync_action"), syncAction + "\n");
            try (var entries = Files.list(md)) {
                for (Path entry : entries.filter(e -> e.getFileName().toString().startsWith("dev-")).toList()) {
                    Files.delete(entry.resolve("state"));
                    Files.delete(entry);
                }
            }
            for (Map.Entry<String, String> member : members.entrySet()) {
                Files.writeString(Files.createDirectories(md.resolve("dev-" + member.getKey())).resolve("state"),
                        member.getValue() + "\n");
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Map<String, String> members(String... kernelNameAndState) {
        Map<String, String> members = new LinkedHashMap<>();
        for (int i = 0; i < kernelNameAndState.length; i += 2) {
            members.put(kernelNameAndState[i], kernelNameAndState[i + 1]);
        }
        return members;
    }

    @Test
    void aBlankJoiningLegIsAddedToTheArrayAssembledFromTheLegsThatCarryItsUuidAndGivenASlot() throws IOException {
        Path leg2 = blockDevice("nvme3n1", "259:3");
        examine(leg0, UUID_AS_MDADM_PRINTS_IT);
        examine(leg1, UUID_AS_MDADM_PRINTS_IT);
        examine(leg2, null);
        wipefs(leg2, "");
        runner.on(List.of("mdadm", "--assemble"), c -> {
            slots(2, "idle", members("nvme1n1", "in_sync", "nvme2n1", "in_sync"));
            return ok(c);
        });
        // md takes a leg added to an array with no free slot as a spare.
        runner.on(List.of("mdadm", "--manage"), c -> {
            slots(2, "idle", members("nvme1n1", "in_sync", "nvme2n1", "in_sync", "nvme3n1", "spare"));
            return ok(c);
        });
        runner.on(List.of("mdadm", "--grow"), "");

        assertThat(assembler().assemble(moving(), List.of(leg0, leg1, leg2))).isEqualTo(dev.resolve("md126"));

        String md = dev.resolve("md126").toString();
        assertThat(runner.commandLines()).containsExactly(
                "mdadm --examine --export " + leg0,
                "mdadm --examine --export " + leg1,
                "mdadm --examine --export " + leg2,
                "wipefs --noheadings --output TYPE,OFFSET,USAGE " + leg2,
                "mdadm --assemble /dev/md/ferry-4c3b2a198e7d --uuid " + UUID + " --run " + leg0 + " " + leg1,
                "mdadm --detail --export " + md,
                "mdadm --manage " + md + " --add " + leg2,
                "mdadm --grow " + md + " --raid-devices=3");
        assertThat(runner.executed()).filteredOn(c -> c.argv().contains("--grow"))
                .allSatisfy(c -> assertThat(c.lockKey()).isEqualTo("md:" + UUID));
    }

    @Test
    void theKeeperAddsABlankJoiningLegAndGivesTheSpareASlotOnce() {
        slots(2, "idle", members("nvme1n1", "in_sync", "nvme2n1", "in_sync"));
        Path md = dev.resolve("md126");
        runner.on(List.of("mdadm", "--manage"), c -> {
            slots(2, "idle", members("nvme1n1", "in_sync", "nvme2n1", "in_sync", "nvme3n1", "spare"));
            return ok(c);
        });
        runner.on(List.of("mdadm", "--grow"), c -> {
            slots(3, "recover", members("nvme1n1", "in_sync", "nvme2n1", "in_sync", "nvme3n1", ""));
            return ok(c);
        });
        Path leg2 = dev.resolve("nvme3n1");
        examine(leg2, null);
        wipefs(leg2, "");
        MirrorArrays arrays = assembler().mirrors();

        List<MirrorArrays.Repair> added = arrays.repair(moving(), md, Map.of(PartNames.of(VOLUME, 2), leg2));
        Optional<String> grown = arrays.fitSlots(moving(), md, false);
        Optional<String> again = arrays.fitSlots(moving(), md, false);

        assertThat(added).singleElement().satisfies(r -> assertThat(r.what()).contains("added"));
        assertThat(grown).hasValueSatisfying(w -> assertThat(w).contains("3 legs (from 2)"));
        assertThat(again).as("nothing left to do").isEmpty();
        assertThat(runner.commandLines()).filteredOn(c -> c.startsWith("mdadm --grow"))
                .containsExactly("mdadm --grow " + md + " --raid-devices=3");
    }

    @Test
    void slotsAreNotChangedWhileMdSyncsNorWhenTheyMatch() {
        Path md = dev.resolve("md126");
        slots(2, "recover", members("nvme1n1", "in_sync", "nvme2n1", "", "nvme3n1", "spare"));
        assertThat(assembler().mirrors().fitSlots(moving(), md, false)).isEmpty();
        slots(3, "idle", members("nvme1n1", "in_sync", "nvme2n1", "in_sync", "nvme3n1", "in_sync"));
        assertThat(assembler().mirrors().fitSlots(moving(), md, false)).isEmpty();
        slots(2, "idle", members("nvme1n1", "in_sync", "nvme2n1", "in_sync"));
        assertThat(assembler().mirrors().fitSlots(mirror(), md, false)).isEmpty();
        assertThat(assembler().mirrors().fitSlots(moving(), md, false)).as("no leg waits for the slot yet").isEmpty();

        assertThat(runner.commandLines()).isEmpty();
    }

    @Test
    void onceTheLegThatMovedIsOutTheArrayGivesItsSlotBackAndNotBefore() throws IOException {
        VolumeParts done = moving().withMoveDone();
        Path md = dev.resolve("md126");
        blockDevice("nvme3n1", "259:3");
        runner.on(List.of("mdadm", "--grow"), "");

        slots(3, "idle", members("nvme1n1", "in_sync", "nvme2n1", "in_sync", "nvme3n1", "in_sync"));
        Optional<String> whileHeld = assembler().mirrors().fitSlots(done, md, false);
        slots(3, "idle", members("nvme2n1", "in_sync", "nvme3n1", "in_sync"));
        Optional<String> whileRetiredPresent = assembler().mirrors().fitSlots(done, md, true);
        Optional<String> shrunk = assembler().mirrors().fitSlots(done, md, false);

        assertThat(whileHeld).as("three devices in the array: md would refuse, and it is retire's job").isEmpty();
        assertThat(whileRetiredPresent).isEmpty();
        assertThat(shrunk).hasValueSatisfying(w -> assertThat(w).contains("2 legs (from 3)"));
        assertThat(runner.commandLines()).containsExactly("mdadm --grow " + md + " --raid-devices=2");
    }

    @Test
    void aLeftLegWhoseDeviceIsGoneFromTheNodeIsTakenOutAsDetachedThenItsSlotGivenBack() throws IOException {
        VolumeParts done = moving().withMoveDone();
        Path md = dev.resolve("md126");
        blockDevice("nvme3n1", "259:3");
        // The leg that left (nvme1n1 here) lost its namespace when its export was withdrawn: md still lists it.
        slots(3, "idle", members("nvme1n1", "in_sync", "nvme2n1", "in_sync", "nvme3n1", "in_sync"));
        deleteRecursively(sys.resolve("class/block/nvme1n1"));
        runner.on(List.of("mdadm", "--manage"), c -> {
            slots(3, "idle", members("nvme2n1", "in_sync", "nvme3n1", "in_sync"));
            return ok(c);
        });
        runner.on(List.of("mdadm", "--grow"), "");

        assertThat(assembler().mirrors().fitSlots(done, md, false))
                .hasValueSatisfying(w -> assertThat(w).contains("2 legs (from 3)"));
        assertThat(runner.commandLines()).containsExactly(
                "mdadm --manage " + md + " --fail detached --remove detached",
                "mdadm --grow " + md + " --raid-devices=2");
    }

    @Test
    void aDetachedMemberIsNotTakenOutWhenNoMemberStillHereIsInSync() throws IOException {
        Path md = dev.resolve("md126");
        slots(3, "idle", members("nvme1n1", "in_sync", "nvme2n1", "", "nvme3n1", "spare"));
        deleteRecursively(sys.resolve("class/block/nvme1n1"));

        assertThat(assembler().mirrors().fitSlots(moving().withMoveDone(), md, false)).isEmpty();
        assertThat(runner.commandLines()).isEmpty();
    }

    static void deleteRecursively(Path root) throws IOException {
        if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (var walk = Files.walk(root)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    @Test
    void aMoveGivenUpGivesTheJoiningLegsSlotBackOnceItIsOut() {
        VolumeParts cancelled = moving().withMoveCancelled();
        Path md = dev.resolve("md126");
        runner.on(List.of("mdadm", "--grow"), "");
        slots(3, "idle", members("nvme1n1", "in_sync", "nvme2n1", "in_sync"));

        assertThat(assembler().mirrors().fitSlots(cancelled, md, false)).isPresent();
        assertThat(runner.commandLines()).containsExactly("mdadm --grow " + md + " --raid-devices=2");
    }

    @Test
    void mdadmRefusingTheSlotsIsAnErrorWithItsComplaint() {
        Path md = dev.resolve("md126");
        slots(2, "idle", members("nvme1n1", "in_sync", "nvme2n1", "in_sync", "nvme3n1", "spare"));
        runner.fail(List.of("mdadm", "--grow"), 1, "mdadm: Cannot set raid-devices: Device or resource busy\n");

        assertThatThrownBy(() -> assembler().mirrors().fitSlots(moving(), md, false))
                .satisfies(e -> refused(e, Status.Code.INTERNAL))
                .hasMessageContaining("from 2 to 3").hasMessageContaining("Device or resource busy");
    }

    @Test
    void aHostRebootedMidMoveAssemblesEveryLegThatCarriesTheArrayAndMdResumes() throws IOException {
        Path leg2 = blockDevice("nvme3n1", "259:3");
        examine(leg0, UUID_AS_MDADM_PRINTS_IT);
        examine(leg1, UUID_AS_MDADM_PRINTS_IT);
        // Partly rebuilt before the reboot: it carries the array's superblock, and the array has three slots.
        examine(leg2, UUID_AS_MDADM_PRINTS_IT);
        runner.on(List.of("mdadm", "--assemble"), c -> {
            slots(3, "recover", members("nvme1n1", "in_sync", "nvme2n1", "in_sync", "nvme3n1", ""));
            return ok(c);
        });

        assertThat(assembler().assemble(moving(), List.of(leg0, leg1, leg2))).isEqualTo(dev.resolve("md126"));

        assertThat(runner.commandLines()).contains("mdadm --assemble /dev/md/ferry-4c3b2a198e7d --uuid " + UUID
                + " --run " + leg0 + " " + leg1 + " " + leg2).noneMatch(c -> c.startsWith("mdadm --manage")
                || c.startsWith("mdadm --grow") || c.startsWith("wipefs"));
    }

    @Test
    void aHostRebootedAfterTheMoveAssemblesTheMembersAndGivesTheLeftLegsSlotBack() throws IOException {
        // After the move: leg 2 in leg 0's place; the superblocks still say three slots.
        Path leg2 = blockDevice("nvme3n1", "259:3");
        examine(leg2, UUID_AS_MDADM_PRINTS_IT);
        examine(leg1, UUID_AS_MDADM_PRINTS_IT);
        runner.on(List.of("mdadm", "--assemble"), c -> {
            slots(3, "idle", members("nvme2n1", "in_sync", "nvme3n1", "in_sync"));
            return ok(c);
        });
        runner.on(List.of("mdadm", "--grow"), "");

        assertThat(assembler().assemble(moving().withMoveDone(), List.of(leg2, leg1))).isEqualTo(dev.resolve("md126"));

        String md = dev.resolve("md126").toString();
        assertThat(runner.commandLines()).endsWith(
                "mdadm --assemble /dev/md/ferry-4c3b2a198e7d --uuid " + UUID + " --run " + leg2 + " " + leg1,
                "mdadm --detail --export " + md,
                "mdadm --grow " + md + " --raid-devices=2");
    }

    @Test
    void aFailedSlotChangeNeverFailsTheAssembly() throws IOException {
        Path leg2 = blockDevice("nvme3n1", "259:3");
        examine(leg2, UUID_AS_MDADM_PRINTS_IT);
        examine(leg1, UUID_AS_MDADM_PRINTS_IT);
        runner.on(List.of("mdadm", "--assemble"), c -> {
            slots(3, "idle", members("nvme2n1", "in_sync", "nvme3n1", "in_sync"));
            return ok(c);
        });
        runner.fail(List.of("mdadm", "--grow"), 1, "mdadm: Device or resource busy\n");

        assertThat(assembler().assemble(moving().withMoveDone(), List.of(leg2, leg1))).isEqualTo(dev.resolve("md126"));
    }
}
