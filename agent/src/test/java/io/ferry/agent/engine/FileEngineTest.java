package io.ferry.agent.engine;

import io.ferry.model.Engine;
import io.ferry.model.OrphanOwner;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolSource;
import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.CommandResult;
import io.ferry.runtime.exec.FakeCommandRunner;
import io.ferry.runtime.exec.ProcessCommandRunner;
import io.ferry.runtime.pool.PoolMarker;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileStore;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Command lines and file handling of the file engine; the real loop devices are covered by the ITs. */
class FileEngineTest {

    @TempDir
    Path dir;

    static final String NONE = "{\"loopdevices\": []}";

    PoolConfig pool() {
        return PoolConfig.builder("files", "node-a", Engine.FILE, PoolSource.directory(dir.toString())).build();
    }

    static final String CLUSTER = "5f0c2a9e-7d1b-4c3e-9a8f-0123456789ab";

    /** Most tests work in a directory the pool has claimed, as the agent's preparation leaves it. */
    @BeforeEach
    void claim() throws Exception {
        Files.writeString(dir.resolve(PoolMarker.FILE_NAME), "pool=files\ncluster=" + CLUSTER + "\n");
    }

    PoolConfig poolIn(Path directory, boolean prepare) {
        return PoolConfig.builder("files", "node-a", Engine.FILE, PoolSource.directory(directory.toString()))
                .prepare(prepare).build();
    }

    FakeCommandRunner fake() {
        return new FakeCommandRunner()
                .on(List.of("losetup", "--json", "--list", "--associated"), NONE)
                .on(List.of("losetup", "--find", "--show"), "/dev/loop9\n")
                .on(List.of("fallocate"), "")
                .on(List.of("du"), c -> new CommandResult(c, 0, usedByFiles(Path.of(c.argv().get(3))) + "\t"
                        + c.argv().get(3) + "\n", "", Duration.ZERO))
                .on(List.of("cp"), c -> {
                    try {
                        Files.copy(Path.of(c.argv().get(3)), Path.of(c.argv().get(4)));
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                    return new CommandResult(c, 0, "", "", Duration.ZERO);
                });
    }

    /** Marks a file as this cluster's, as the engine does with every file it makes. */
    static Path mark(Path file) throws IOException {
        return mark(file, CLUSTER);
    }

    static Path mark(Path file, String cluster) throws IOException {
        Files.getFileAttributeView(file, UserDefinedFileAttributeView.class)
                .write(FileMarker.ATTRIBUTE, StandardCharsets.UTF_8.encode(cluster));
        return file;
    }

    FileEngine engine(FakeCommandRunner fake) {
        FileEngine engine = new FileEngine(fake, new LoopDevices(fake, Duration.ofSeconds(5)), dir.resolve("no-sysfs"),
                Duration.ofSeconds(5), Duration.ofMinutes(1));
        engine.bindCluster(CLUSTER);
        return engine;
    }

    @Test
    void anEmptyFileLeftShortByACrashIsGrownToTheRequestedSize() throws Exception {
        FakeCommandRunner fake = fake();
        Files.createFile(dir.resolve("vol-c.img"));
        FileEngine engine = engine(fake);
        assertThat(engine.findVolume(pool(), "vol-c").orElseThrow().sizeBytes()).isZero();
        LocalVolume v = engine.expandVolume(pool(), "vol-c", 8 << 20, true);
        assertThat(v.sizeBytes()).isEqualTo(8 << 20);
        assertThat(Files.size(dir.resolve("vol-c.img"))).isEqualTo(8 << 20);
    }

    @Test
    void createsAnEmptyThinVolumeAsASparseFileThenAttachesIt() throws Exception {
        FakeCommandRunner fake = fake();
        LocalVolume v = engine(fake).createVolume(pool(), "vol-a", 8 << 20, true, Content.EMPTY);
        assertThat(v).isEqualTo(new LocalVolume("vol-a", 8 << 20, "/dev/loop9"));
        assertThat(Files.size(dir.resolve("vol-a.img"))).isEqualTo(8 << 20);
        assertThat(dir.resolve(".vol-a.img.tmp")).doesNotExist();
        assertThat(fake.commandLines()).containsExactly(
                "losetup --json --list --associated " + dir.resolve("vol-a.img"),
                "losetup --find --show " + dir.resolve("vol-a.img"));
    }

    @Test
    void allocatesThickVolumesWithFallocateBeforeTheyGetTheirName() {
        FakeCommandRunner fake = fake();
        engine(fake).createVolume(pool(), "vol-t", 8 << 20, false, Content.EMPTY);
        assertThat(fake.commandLines().get(0))
                .isEqualTo("fallocate --length 8388608 " + dir.resolve(".vol-t.img.tmp"));
    }

    @Test
    void copiesSnapshotsSparselyWithReflinkWhenTheFileSystemHasIt() {
        FakeCommandRunner fake = fake();
        FileEngine engine = engine(fake);
        engine.createVolume(pool(), "vol-a", 8 << 20, true, Content.EMPTY);
        LocalSnapshot snap = engine.createSnapshot(pool(), "snap-1", "vol-a");
        assertThat(snap.sizeBytes()).isEqualTo(8 << 20);
        assertThat(fake.commandLines()).contains("cp --sparse=always --reflink=auto " + dir.resolve("vol-a.img")
                + " " + dir.resolve(".snap-1.snap.tmp"));
        LocalVolume clone = engine.createVolume(pool(), "vol-b", 16 << 20, true, Content.ofSnapshot("snap-1"));
        assertThat(clone.sizeBytes()).isEqualTo(16 << 20);
        assertThat(engine.findSnapshot(pool(), "snap-1")).isPresent();
    }

    @Test
    void findsAnExistingVolumeInsteadOfCreatingASecondOne() throws Exception {
        Files.write(dir.resolve("vol-a.img"), new byte[4096]);
        FakeCommandRunner fake = fake().on(List.of("losetup", "--json", "--list", "--associated"),
                "{\"loopdevices\": [{\"name\": \"/dev/loop2\", \"back-file\": \"" + dir.resolve("vol-a.img") + "\"},"
                        + "{\"name\": \"/dev/loop5\", \"back-file\": \"" + dir.resolve("vol-a.img") + "\"}]}")
                .on(List.of("losetup", "--detach"), "");
        LocalVolume v = engine(fake).createVolume(pool(), "vol-a", 4096, true, Content.EMPTY);
        assertThat(v.devicePath()).isEqualTo("/dev/loop2");
        // A duplicate device (two attaches raced before a crash) is detached, the first one kept.
        assertThat(fake.commandLines()).containsExactly(
                "losetup --json --list --associated " + dir.resolve("vol-a.img"),
                "losetup --detach /dev/loop5");
    }

    @Test
    void aSnapshotOfAMissingVolumeFailsWithoutLeavingAFile() {
        assertThatThrownBy(() -> engine(fake()).createSnapshot(pool(), "snap-x", "nope"))
                .isInstanceOf(EngineException.class).hasMessageContaining("source volume nope does not exist");
        assertThat(dir.resolve("snap-x.snap")).doesNotExist();
    }

    @Test
    void inventoryListsVolumesSnapshotsAndLeftoversButIgnoresForeignFiles() throws Exception {
        mark(Files.write(dir.resolve("vol-a.img"), new byte[10]));
        Files.write(dir.resolve("snap-1.snap"), new byte[10]);
        Files.write(dir.resolve(".vol-b.img.tmp"), new byte[10]);
        Files.write(dir.resolve("notes.txt"), new byte[10]);
        Files.write(dir.resolve("Bad_Name.img"), new byte[10]);
        FakeCommandRunner fake = new FakeCommandRunner().on(List.of("losetup", "--json", "--list"),
                "{\"loopdevices\": [{\"name\": \"/dev/loop1\", \"back-file\": \"" + dir.resolve("vol-a.img") + "\"},"
                        + "{\"name\": \"/dev/loop2\", \"back-file\": \"" + dir.resolve("vol-z.img") + " (deleted)\"},"
                        + "{\"name\": \"/dev/loop3\", \"back-file\": \"/elsewhere/x.img\"}]}");
        Inventory inv = engine(fake).inventory(pool());
        assertThat(inv.volumes()).containsExactly(new LocalVolume("vol-a", 10, "/dev/loop1"));
        assertThat(inv.snapshots()).extracting(LocalSnapshot::name).containsExactly("snap-1");
        assertThat(inv.leftovers()).containsExactlyInAnyOrder("/dev/loop2", ".vol-b.img.tmp");
    }

    @Test
    void aDeletedVolumeLeavesAnEmptiedSpareThatTheNextThinVolumeTakesWithoutItsBytes() throws Exception {
        FakeCommandRunner fake = fake().on(List.of("losetup", "--json", "--list"), NONE);
        FileEngine engine = engine(fake);
        engine.createVolume(pool(), "vol-a", 8 << 20, true, Content.EMPTY);
        byte[] old = new byte[4096];
        Arrays.fill(old, (byte) 7);
        Files.write(dir.resolve("vol-a.img"), old, StandardOpenOption.WRITE);
        Object inode = Files.getAttribute(dir.resolve("vol-a.img"), "unix:ino");

        engine.deleteVolume(pool(), "vol-a");
        assertThat(dir.resolve("vol-a.img")).doesNotExist();
        List<Path> spares = sparesIn(dir);
        assertThat(spares).hasSize(1);
        assertThat(Files.size(spares.get(0))).isZero();
        Inventory inv = engine.inventory(pool());
        assertThat(inv.volumes()).isEmpty();
        assertThat(inv.leftovers()).isEmpty();

        engine.createVolume(pool(), "vol-b", 16 << 20, true, Content.EMPTY);
        Path reused = dir.resolve("vol-b.img");
        assertThat(Files.getAttribute(reused, "unix:ino")).isEqualTo(inode);
        assertThat(Files.size(reused)).isEqualTo(16 << 20);
        try (InputStream in = Files.newInputStream(reused)) {
            assertThat(in.readNBytes(4096)).containsOnly((byte) 0);
        }
        assertThat(sparesIn(dir)).isEmpty();
    }

    @Test
    void aSpareLeftByAnEarlierRunIsReusedEmptyEvenIfSomeoneWroteToIt() throws Exception {
        mark(Files.write(dir.resolve(".spare-42"), new byte[] {1, 2, 3}));
        FakeCommandRunner fake = fake().on(List.of("losetup", "--json", "--list"), NONE);
        FileEngine engine = engine(fake);
        assertThat(engine.inventory(pool()).leftovers()).isEmpty();
        engine.createVolume(pool(), "vol-c", 4096, true, Content.EMPTY);
        assertThat(Files.readAllBytes(dir.resolve("vol-c.img"))).containsOnly((byte) 0).hasSize(4096);
        assertThat(sparesIn(dir)).isEmpty();
    }

    /**
     * Issue #13: a pattern written over a whole volume (not only its first 4 KiB), the volume
     * deleted, and new volumes made in its place, thin (taking the deleted volume's emptied spare,
     * the same inode) and thick (a new file allocated with the real fallocate): both read zeros
     * everywhere.
     */
    @Test
    void volumesMadeWhereADeletedOneWasReadZerosOverTheirWholeLength() throws Exception {
        ProcessCommandRunner real = new ProcessCommandRunner();
        FakeCommandRunner fake = fake().on(List.of("losetup", "--json", "--list"), NONE)
                .on(List.of("fallocate"), real::run);
        FileEngine engine = engine(fake);
        int size = 4 << 20;
        for (String old : List.of("old-thin", "old-thick")) {
            engine.createVolume(pool(), old, size, old.equals("old-thin"), Content.EMPTY);
            byte[] pattern = new byte[size];
            Arrays.fill(pattern, (byte) 0x5a);
            Files.write(dir.resolve(old + ".img"), pattern, StandardOpenOption.WRITE);
            engine.deleteVolume(pool(), old);
        }
        List<Object> spareInodes = new ArrayList<>();
        for (Path spare : sparesIn(dir)) {
            spareInodes.add(Files.getAttribute(spare, "unix:ino"));
        }
        assertThat(spareInodes).hasSize(2);

        engine.createVolume(pool(), "new-thin", size, true, Content.EMPTY);
        engine.createVolume(pool(), "new-thick", size, false, Content.EMPTY);
        assertThat(spareInodes).contains(Files.getAttribute(dir.resolve("new-thin.img"), "unix:ino"));
        assertThat(fake.commandLines()).contains("fallocate --length " + size + " " + dir.resolve(".new-thick.img.tmp"));
        for (String fresh : List.of("new-thin", "new-thick")) {
            byte[] read = Files.readAllBytes(dir.resolve(fresh + ".img"));
            assertThat(read).as(fresh).hasSize(size).containsOnly((byte) 0);
        }
    }

    static List<Path> sparesIn(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(p -> p.getFileName().toString().startsWith(".spare-")).toList();
        }
    }

    @Test
    void deletingAVolumeThatIsAlreadyGoneSucceeds() {
        FakeCommandRunner fake = fake();
        engine(fake).deleteVolume(pool(), "never-was");
        assertThat(fake.executed()).extracting(Command::display).allMatch(l -> l.startsWith("losetup --json"));
    }

    @Test
    void reportsAMissingDirectoryAsUnavailableAndPreparesItWhenAllowed() {
        PoolConfig missing = PoolConfig.builder("files", "node-a", Engine.FILE,
                PoolSource.directory(dir.resolve("sub").toString())).build();
        FileEngine engine = engine(fake());
        PoolState state = engine.poolState(missing);
        assertThat(state.healthy()).isFalse();
        assertThat(state.conditions().get(0).reason()).isEqualTo("DirectoryNotFound");
        engine.preparePool(missing);
        assertThat(dir.resolve("sub")).doesNotExist();
        engine.preparePool(missing.toBuilder().prepare(true).build());
        PoolState ready = engine.poolState(missing);
        assertThat(ready.healthy()).isTrue();
        assertThat(ready.capacityBytes()).isPositive();
    }

    @Test
    void aVolumeFileDeletedWhileThePoolIsMeasuredLeavesThePoolHealthyButAFailingDuDoesNot() throws Exception {
        String vanished = "du: cannot access '" + dir.resolve("vol-gone.img") + "': No such file or directory\n";
        FakeCommandRunner racing = fake().on(List.of("du"), c -> new CommandResult(c, 1, "4096\t" + dir + "\n",
                vanished, Duration.ZERO));
        PoolState state = engine(racing).poolState(pool());
        assertThat(state.healthy()).as("%s", state.conditions()).isTrue();
        assertThat(state.conditions().get(1).message()).contains("4096 used by the pool's files");

        FakeCommandRunner denied = fake().on(List.of("du"), c -> new CommandResult(c, 1, "4096\t" + dir + "\n",
                "du: cannot read directory '" + dir.resolve("x") + "': Permission denied\n", Duration.ZERO));
        assertThatThrownBy(() -> engine(denied).poolState(pool())).hasMessageContaining("Permission denied");
    }

    @Test
    void anEmptyUnmarkedDirectoryOfAPoolThatHoldsVolumesIsNotClaimedAndNothingIsCreatedInIt() throws Exception {
        // What a pool's file system that did not mount at boot looks like: its empty mount point.
        Path mountPoint = Files.createDirectory(dir.resolve("mnt"));
        PoolConfig pool = poolIn(mountPoint, true);
        FileEngine engine = engine(fake());
        engine.preparePool(pool, true);
        PoolState state = engine.poolState(pool);
        assertThat(state.healthy()).isFalse();
        assertThat(state.conditions().get(0).reason()).isEqualTo("MarkerMissing");
        assertThat(state.conditions().get(0).message()).contains("not mounted");
        assertThatThrownBy(() -> engine.createVolume(pool, "vol-a", 1 << 20, true, Content.EMPTY))
                .isInstanceOf(EngineException.class).hasMessageContaining("not mounted");
        try (var files = Files.list(mountPoint)) {
            assertThat(files.toList()).as("nothing written into the mount point").isEmpty();
        }
    }

    @Test
    void aMissingDirectoryOfAPoolThatHoldsVolumesIsNotCreatedEvenWithPrepare() {
        Path gone = dir.resolve("gone");
        PoolConfig pool = poolIn(gone, true);
        FileEngine engine = engine(fake());
        engine.preparePool(pool, true);
        assertThat(gone).doesNotExist();
        assertThat(engine.poolState(pool).conditions().get(0).message()).contains("is it");
    }

    @Test
    void aDirectoryWithSomebodyElsesFilesIsRefusedAndTheirBytesAreLeftAlone() throws Exception {
        Path shared = Files.createDirectory(dir.resolve("images"));
        byte[] precious = "a VM image that is not Ferry's".getBytes(StandardCharsets.UTF_8);
        Files.write(shared.resolve("precious.img"), precious);
        Files.writeString(shared.resolve("notes.txt"), "hello");
        PoolConfig pool = poolIn(shared, true);
        FileEngine engine = engine(fake());
        engine.preparePool(pool, false);
        PoolState state = engine.poolState(pool);
        assertThat(state.healthy()).isFalse();
        assertThat(state.conditions().get(0).reason()).isEqualTo("ForeignFiles");
        assertThat(state.conditions().get(0).message()).contains("notes.txt");
        assertThatThrownBy(() -> engine.createVolume(pool, "precious", 1 << 20, true, Content.EMPTY))
                .isInstanceOf(EngineException.class);
        assertThat(Files.readAllBytes(shared.resolve("precious.img"))).isEqualTo(precious);
        assertThat(shared.resolve(PoolMarker.FILE_NAME)).doesNotExist();
    }

    @Test
    void aPoolMadeBeforeMarkersWithOnlyFerrysFilesIsAdoptedAndAFreshEmptyOneIsClaimed() throws Exception {
        Path old = Files.createDirectory(dir.resolve("old"));
        Files.write(old.resolve("vol-a.img"), new byte[4096]);
        Files.createFile(old.resolve(".spare-17"));
        FileEngine engine = engine(fake());
        engine.preparePool(poolIn(old, false), true);
        assertThat(engine.poolState(poolIn(old, false)).healthy()).isTrue();
        assertThat(Files.readString(old.resolve(PoolMarker.FILE_NAME))).contains("pool=files");

        Path fresh = Files.createDirectory(dir.resolve("fresh"));
        engine.preparePool(poolIn(fresh, false), false);
        assertThat(engine.poolState(poolIn(fresh, false)).healthy()).isTrue();
    }

    @Test
    void aDirectoryMarkedForAnotherPoolIsRefused() throws Exception {
        Path other = Files.createDirectory(dir.resolve("other"));
        Files.writeString(other.resolve(PoolMarker.FILE_NAME), "pool=someone-else\n");
        FileEngine engine = engine(fake());
        engine.preparePool(poolIn(other, true), false);
        PoolState state = engine.poolState(poolIn(other, true));
        assertThat(state.healthy()).isFalse();
        assertThat(state.conditions().get(0).reason()).isEqualTo("MarkerOfAnotherPool");
    }

    /** What du reports, from the files' apparent sizes (the tests' files are not sparse). */
    static long usedByFiles(Path directory) {
        try (var files = Files.list(directory)) {
            return files.filter(Files::isRegularFile).mapToLong(f -> f.toFile().length()).sum();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void aFilePoolNeverReportsMoreThanItsFileSystemAndPoolsSharingOneSplitIt() throws Exception {
        FileEngine engine = engine(fake());
        FileStore fs = Files.getFileStore(dir);
        long total = fs.getTotalSpace();

        PoolConfig alone = pool();
        PoolState whole = engine.poolState(alone, List.of(alone));
        assertThat(whole.capacityBytes()).isEqualTo(total);
        assertThat(whole.freeBytes()).isLessThanOrEqualTo(fs.getUsableSpace());

        // Two more pools of this node in the same file system, one with a capacity of its own.
        Path b = Files.createDirectory(dir.resolve("b"));
        Path c = Files.createDirectory(dir.resolve("c"));
        Files.writeString(b.resolve(PoolMarker.FILE_NAME), "pool=b\ncluster=" + CLUSTER + "\n");
        Files.writeString(c.resolve(PoolMarker.FILE_NAME), "pool=c\ncluster=" + CLUSTER + "\n");
        PoolConfig poolB = PoolConfig.builder("b", "node-a", Engine.FILE, PoolSource.directory(b.toString())).build();
        PoolConfig poolC = PoolConfig.builder("c", "node-a", Engine.FILE, PoolSource.directory(c.toString()))
                .capacityBytes(total / 4).build();
        List<PoolConfig> all = List.of(alone, poolB, poolC);
        long a = engine.poolState(alone, all).capacityBytes();
        long bb = engine.poolState(poolB, all).capacityBytes();
        long cc = engine.poolState(poolC, all).capacityBytes();
        assertThat(cc).isEqualTo(total / 4);
        assertThat(a).isEqualTo(bb).isEqualTo((total - total / 4) / 2);
        assertThat(a + bb + cc).as("never more than the disk").isLessThanOrEqualTo(total);
        assertThat(engine.poolState(alone, all).conditions()).anySatisfy(cond ->
                assertThat(cond.type()).isEqualTo("SharedFileSystem"));

        // An absurd capacity is clamped to the file system and says so.
        PoolConfig huge = pool().toBuilder().capacityBytes(Long.MAX_VALUE / 2).build();
        PoolState clamped = engine.poolState(huge, List.of(huge));
        assertThat(clamped.capacityBytes()).isEqualTo(total);
        assertThat(clamped.conditions()).anySatisfy(cond -> assertThat(cond.type()).isEqualTo("CapacityClamped"));
    }

    @Test
    void poolsOfOtherAgentsOnThisMachinesDiskShareItButTheSamePathElsewhereDoesNot() throws Exception {
        FileEngine engine = engine(fake());
        FileStore fs = Files.getFileStore(dir);
        long total = fs.getTotalSpace();
        PoolConfig mine = pool();

        // node-b's agent runs on this machine (as ferry up's agents do): its directory is here, with
        // its pool's marker. node-c's pool names a directory that exists here too, but without
        // node-c's marker: that path is on node-c's machine, not on this disk.
        Path b = Files.createDirectory(dir.resolve("b"));
        Files.writeString(b.resolve(PoolMarker.FILE_NAME), PoolMarker.text("pool-b", "node-b", CLUSTER));
        Path c = Files.createDirectory(dir.resolve("c"));
        PoolConfig poolB = PoolConfig.builder("pool-b", "node-b", Engine.FILE, PoolSource.directory(b.toString())).build();
        PoolConfig poolC = PoolConfig.builder("pool-c", "node-c", Engine.FILE, PoolSource.directory(c.toString())).build();
        List<PoolConfig> all = List.of(mine, poolB, poolC);

        PoolState a = engine.poolState(mine, all);
        PoolState bb = engine.poolState(poolB, all);
        assertThat(a.capacityBytes()).isEqualTo(total / 2);
        assertThat(bb.capacityBytes()).isEqualTo(total / 2);
        assertThat(a.freeBytes() + bb.freeBytes()).as("two pools on one disk never promise more than it has free")
                .isLessThanOrEqualTo(Files.getFileStore(dir).getUsableSpace() + (1 << 20));
        assertThat(a.conditions()).anySatisfy(cond -> {
            assertThat(cond.type()).isEqualTo("SharedFileSystem");
            assertThat(cond.message()).contains("pool-b (node node-b)").doesNotContain("pool-c");
        });

        // The same pools, each with a capacity larger than the disk: the free space still splits.
        PoolConfig bigMine = mine.toBuilder().capacityBytes(total).build();
        PoolConfig bigB = poolB.toBuilder().capacityBytes(total).build();
        List<PoolConfig> big = List.of(bigMine, bigB);
        long free = engine.poolState(bigMine, big).freeBytes() + engine.poolState(bigB, big).freeBytes();
        assertThat(free).isLessThanOrEqualTo(Files.getFileStore(dir).getUsableSpace() + (1 << 20));
    }

    @Test
    void freeSpaceIsWhatIsLeftOfTheCapacityAfterThePoolsOwnFiles() throws Exception {
        FileEngine engine = engine(fake());
        PoolConfig small = pool().toBuilder().capacityBytes(64L << 20).build();
        Files.write(dir.resolve("vol-a.img"), new byte[16 << 20]);
        PoolState state = engine.poolState(small, List.of(small));
        assertThat(state.capacityBytes()).isEqualTo(64L << 20);
        assertThat(state.freeBytes()).isLessThanOrEqualTo((64L << 20) - (16L << 20));
        // Sparse files fill like a thin pool's data: at least the quarter written counts as used.
        assertThat(state.thinDataPercent()).isNotNull().isBetween(25.0, 100.0);
    }

    @Test
    void nothingInADirectoryThePoolHasNotClaimedCountsAsALeftoverToRemove() throws Exception {
        Path foreign = Files.createDirectory(dir.resolve("foreign"));
        Files.writeString(foreign.resolve(".vol-b.img.tmp"), "somebody else's half-written file");
        FakeCommandRunner fake = new FakeCommandRunner().on(List.of("losetup", "--json", "--list"),
                "{\"loopdevices\": [{\"name\": \"/dev/loop2\", \"back-file\": \"" + foreign.resolve("vol-z.img")
                        + " (deleted)\"}]}");
        assertThat(engine(fake).inventory(poolIn(foreign, false)).leftovers()).isEmpty();
        assertThat(foreign.resolve(".vol-b.img.tmp")).exists();
    }

    // ---- cluster ownership ----

    static final String OTHER = "0a1b2c3d-4e5f-4a6b-8c7d-9e8f7a6b5c4d";

    @Test
    void aDirectoryClaimedByAnotherClusterIsRefusedWithItsOwnReasonAndNothingInItChanges() throws Exception {
        Path theirs = Files.createDirectory(dir.resolve("theirs"));
        String marker = "pool=files\ncluster=" + OTHER + "\n";
        Files.writeString(theirs.resolve(PoolMarker.FILE_NAME), marker);
        byte[] data = "their volume".getBytes(StandardCharsets.UTF_8);
        mark(Files.write(theirs.resolve("vol-a.img"), data), OTHER);
        mark(Files.write(theirs.resolve(".spare-3"), new byte[0]), OTHER);
        PoolConfig pool = poolIn(theirs, true);
        FileEngine engine = engine(fake().on(List.of("losetup", "--json", "--list"), NONE));

        engine.preparePool(pool, true);
        PoolState state = engine.poolState(pool);
        assertThat(state.healthy()).isFalse();
        assertThat(state.conditions().get(0).reason()).isEqualTo("MarkerOfAnotherCluster");
        assertThat(state.conditions().get(0).message()).contains(OTHER).contains(CLUSTER);
        assertThatThrownBy(() -> engine.createVolume(pool, "vol-b", 4096, true, Content.EMPTY))
                .isInstanceOf(EngineException.class).hasMessageContaining(OTHER);
        assertThatThrownBy(() -> engine.removeOrphan(pool, "vol-a")).isInstanceOf(EngineException.class);
        assertThat(Files.readString(theirs.resolve(PoolMarker.FILE_NAME))).isEqualTo(marker);
        assertThat(Files.readAllBytes(theirs.resolve("vol-a.img"))).isEqualTo(data);
        assertThat(theirs.resolve(".spare-3")).exists();
        assertThat(theirs.resolve("vol-b.img")).doesNotExist();
    }

    @Test
    void aMarkerWrittenBeforeClusterIdsIsUpgradedWhenThisPoolClaimsIt() throws Exception {
        Files.writeString(dir.resolve(PoolMarker.FILE_NAME), "pool=files\nnode=node-a\n");
        FileEngine engine = engine(fake());
        engine.preparePool(pool(), true);
        assertThat(PoolMarker.claim(dir)).contains(new PoolMarker.Claim("files", CLUSTER));
        assertThat(FileMarker.read(dir.resolve(PoolMarker.FILE_NAME))).contains(CLUSTER);
    }

    @Test
    void everyFileTheEngineMakesCarriesTheClusterAndSurvivesAsASpare() throws Exception {
        FileEngine engine = engine(fake().on(List.of("losetup", "--json", "--list"), NONE));
        engine.createVolume(pool(), "vol-a", 8 << 20, true, Content.EMPTY);
        engine.createVolume(pool(), "vol-t", 8 << 20, false, Content.EMPTY);
        engine.createSnapshot(pool(), "snap-a", "vol-a");
        assertThat(FileMarker.read(dir.resolve("vol-a.img"))).contains(CLUSTER);
        assertThat(FileMarker.read(dir.resolve("vol-t.img"))).contains(CLUSTER);
        assertThat(FileMarker.read(dir.resolve("snap-a.snap"))).contains(CLUSTER);
        engine.deleteVolume(pool(), "vol-a");
        assertThat(sparesIn(dir)).singleElement().satisfies(spare ->
                assertThat(FileMarker.read(spare)).contains(CLUSTER));
    }

    @Test
    void aSpareWithoutThisClustersMarkerIsNeverReused() throws Exception {
        byte[] theirs = {9, 9, 9};
        Files.write(dir.resolve(".spare-5"), theirs);
        mark(Files.write(dir.resolve(".spare-6"), theirs), OTHER);
        FileEngine engine = engine(fake().on(List.of("losetup", "--json", "--list"), NONE));
        engine.inventory(pool());
        engine.createVolume(pool(), "vol-c", 4096, true, Content.EMPTY);
        assertThat(Files.readAllBytes(dir.resolve(".spare-5"))).isEqualTo(theirs);
        assertThat(Files.readAllBytes(dir.resolve(".spare-6"))).isEqualTo(theirs);
        assertThat(FileMarker.read(dir.resolve("vol-c.img"))).contains(CLUSTER);
    }

    @Test
    void unmarkedAndForeignVolumeFilesAreInventoriedAsUnownedAndOnlyThisClustersOrphanIsRemoved() throws Exception {
        Files.write(dir.resolve("copied.img"), new byte[16]);
        mark(Files.write(dir.resolve("theirs.img"), new byte[32]), OTHER);
        mark(Files.write(dir.resolve("ours.img"), new byte[64]));
        FileEngine engine = engine(fake().on(List.of("losetup", "--json", "--list"), NONE));

        Inventory inv = engine.inventory(pool());
        assertThat(inv.volumes()).extracting(LocalVolume::name).containsExactly("ours");
        assertThat(inv.unowned()).containsExactlyInAnyOrder(
                new Inventory.Unowned("copied", 16, OrphanOwner.UNMARKED, null),
                new Inventory.Unowned("theirs", 32, OrphanOwner.OTHER_CLUSTER, OTHER));

        assertThatThrownBy(() -> engine.removeOrphan(pool(), "copied")).isInstanceOf(EngineException.class)
                .hasMessageContaining("unmarked");
        assertThatThrownBy(() -> engine.removeOrphan(pool(), "theirs")).isInstanceOf(EngineException.class)
                .hasMessageContaining("other-cluster");
        assertThatThrownBy(() -> engine.deleteVolume(pool(), "theirs")).isInstanceOf(EngineException.class);
        assertThatThrownBy(() -> engine.activate(pool(), "theirs")).isInstanceOf(EngineException.class);
        engine.removeOrphan(pool(), "ours");
        assertThat(dir.resolve("copied.img")).exists();
        assertThat(dir.resolve("theirs.img")).exists();
        assertThat(dir.resolve("ours.img")).doesNotExist();
        assertThat(FileMarker.read(dir.resolve("copied.img"))).isEmpty();
    }

    @Test
    void aFileMadeBeforeClusterIdsIsMarkedWhenAWorkItemUsesIt() throws Exception {
        Files.write(dir.resolve("vol-old.img"), new byte[4096]);
        FileEngine engine = engine(fake().on(List.of("losetup", "--json", "--list"), NONE));
        engine.activate(pool(), "vol-old");
        assertThat(FileMarker.read(dir.resolve("vol-old.img"))).contains(CLUSTER);
    }

    @Test
    void nothingIsDoneBeforeTheClusterIdIsKnown() {
        FakeCommandRunner fake = fake();
        FileEngine unbound = new FileEngine(fake, new LoopDevices(fake, Duration.ofSeconds(5)), dir.resolve("no-sysfs"),
                Duration.ofSeconds(5), Duration.ofMinutes(1));
        assertThatThrownBy(() -> unbound.createVolume(pool(), "vol-a", 4096, true, Content.EMPTY))
                .isInstanceOf(EngineException.class).hasMessageContaining("cluster id");
        assertThat(dir.resolve("vol-a.img")).doesNotExist();
    }
}
