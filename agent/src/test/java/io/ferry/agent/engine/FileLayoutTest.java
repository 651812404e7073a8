package io.ferry.agent.engine;

import io.ferry.model.Engine;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolSource;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** Which names in a file pool's directory are volumes, snapshots, spares and leftovers. */
class FileLayoutTest {

    final PoolConfig pool = PoolConfig.builder("files", "node-a", Engine.FILE, PoolSource.directory("/srv/files"))
            .build();

    @Test
    void aVolumeAndASnapshotLiveUnderTheirNamesInThePoolDirectory() {
        assertThat(FileLayout.volumeFile(pool, "vol-a")).isEqualTo(Path.of("/srv/files/vol-a.img"));
        assertThat(FileLayout.snapshotFile(pool, "snap-a")).isEqualTo(Path.of("/srv/files/snap-a.snap"));
        assertThat(FileLayout.tmpFile(Path.of("/srv/files/vol-a.img"))).isEqualTo(Path.of("/srv/files/.vol-a.img.tmp"));
    }

    @Test
    void fileNamesAreReadBackAsTheVolumeOrSnapshotTheyHold() {
        assertThat(FileLayout.volumeOf("vol-a.img")).isEqualTo("vol-a");
        assertThat(FileLayout.snapshotOf("snap-a.snap")).isEqualTo("snap-a");
        assertThat(FileLayout.volumeOf(".img")).as("a suffix alone names nothing").isNull();
        assertThat(FileLayout.volumeOf("Not A Volume.img")).as("an invalid volume name").isNull();
        assertThat(FileLayout.volumeOf("vol-a.snap")).isNull();
    }

    @Test
    void onlyTemporaryCopiesOfVolumesAndSnapshotsAreLeftovers() {
        assertThat(FileLayout.isDataTmpName(".vol-a.img.tmp")).isTrue();
        assertThat(FileLayout.isDataTmpName(".snap-a.snap.tmp")).isTrue();
        assertThat(FileLayout.isDataTmpName(".ferry-pool.tmp")).as("the marker's own temporary file").isFalse();
        assertThat(FileLayout.isDataTmpName("vol-a.img.tmp")).as("not hidden: not ours").isFalse();
        assertThat(FileLayout.isTmpName(".ferry-pool.tmp")).isTrue();
        assertThat(FileLayout.isSpareName(".spare-17")).isTrue();
        assertThat(FileLayout.isSpareName("spare-17")).isFalse();
    }
}
