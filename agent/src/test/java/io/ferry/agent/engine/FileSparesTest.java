package io.ferry.agent.engine;

import io.ferry.model.Engine;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Files of deleted volumes kept for reuse: emptied before they lose their name, handed out empty
 * and sized, and only when they carry this cluster's marker.
 */
class FileSparesTest {

    static final String CLUSTER = "5f0c2a9e-7d1b-4c3e-9a8f-0123456789ab";

    @TempDir
    Path dir;

    final ClusterBinding cluster = new ClusterBinding();
    final FileSpares spares = new FileSpares(cluster);

    PoolConfig pool() {
        return PoolConfig.builder("files", "node-a", Engine.FILE, PoolSource.directory(dir.toString())).build();
    }

    Path volumeWithData(String name) throws Exception {
        Path file = dir.resolve(name + ".img");
        Files.writeString(file, "secret data of " + name, StandardCharsets.UTF_8);
        FileMarker.write(file, CLUSTER);
        return file;
    }

    static long spareCount(Path dir) throws Exception {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(f -> FileLayout.isSpareName(f.getFileName().toString())).count();
        }
    }

    @Test
    void aDeletedVolumesFileIsEmptiedAndReusedWithTheRequestedSize() throws Exception {
        cluster.bind(CLUSTER);
        Path old = volumeWithData("vol-a");

        assertThat(spares.keep(pool(), old)).isTrue();
        assertThat(old).doesNotExist();
        assertThat(spareCount(dir)).isEqualTo(1);

        Path next = dir.resolve("vol-b.img");
        assertThat(spares.reuse(pool(), next, 4096)).isTrue();
        assertThat(Files.size(next)).isEqualTo(4096);
        assertThat(Files.readAllBytes(next)).as("no byte of the old volume").containsOnly(0);
        assertThat(spareCount(dir)).isZero();
        assertThat(spares.reuse(pool(), dir.resolve("vol-c.img"), 4096)).as("none left").isFalse();
    }

    @Test
    void aSpareOfAnotherClusterFoundByAnInventoryIsNeverReused() throws Exception {
        cluster.bind(CLUSTER);
        Path foreign = dir.resolve(".spare-1");
        Files.writeString(foreign, "");
        FileMarker.write(foreign, "another-cluster");
        Path ours = dir.resolve(".spare-2");
        Files.writeString(ours, "");
        FileMarker.write(ours, CLUSTER);

        spares.found(dir, foreign);
        assertThat(spares.reuse(pool(), dir.resolve("vol-a.img"), 512)).isFalse();

        spares.found(dir, ours);
        assertThat(spares.reuse(pool(), dir.resolve("vol-a.img"), 512)).isTrue();
        assertThat(foreign).exists();
    }

    @Test
    void aKeptSpareThatNoLongerCarriesThisClustersMarkerIsNotHandedOut() throws Exception {
        cluster.bind(CLUSTER);
        assertThat(spares.keep(pool(), volumeWithData("vol-a"))).isTrue();
        Path spare;
        try (Stream<Path> files = Files.list(dir)) {
            spare = files.filter(f -> FileLayout.isSpareName(f.getFileName().toString())).findFirst().orElseThrow();
        }
        FileMarker.write(spare, "another-cluster");

        assertThat(spares.reuse(pool(), dir.resolve("vol-b.img"), 512)).isFalse();
        assertThat(spare).exists();
    }

    @Test
    void nothingIsReusedBeforeTheClusterIsKnown() throws Exception {
        ClusterBinding unbound = new ClusterBinding();
        FileSpares early = new FileSpares(unbound);
        Path spare = dir.resolve(".spare-1");
        Files.writeString(spare, "");
        FileMarker.write(spare, CLUSTER);

        try {
            early.found(dir, spare);
        } catch (EngineException expected) {
            assertThat(expected.getMessage()).contains("cluster id");
        }
        assertThat(spare).exists();
    }
}
