package io.ferry.csi;

import io.ferry.model.VolumeIntent;
import io.ferry.runtime.exec.FakeCommandRunner;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** What the node service does to a verified device, on a scripted command runner. */
class FilesystemsTest {

    private static final List<String> WIPEFS = List.of("wipefs", "--noheadings", "--output", "TYPE,OFFSET,USAGE");
    private static final Path DEVICE = Path.of("/dev/vg0/ferry-v1");

    private final VolumeIntent intent = VolumeIntent.builder("v1", 1L << 30).fsType("ext4").build();

    @Test
    void formatsABlankDeviceKeepingItsAllocation() {
        FakeCommandRunner runner = new FakeCommandRunner().on(WIPEFS, "").on(List.of("mkfs.ext4"), "");
        new Filesystems(runner).formatIfBlank("v1", DEVICE, "ext4", intent);
        assertThat(runner.commandLines()).last().asString()
                .isEqualTo("mkfs.ext4 -E nodiscard /dev/vg0/ferry-v1");
    }

    @Test
    void refusesToFormatADeviceThatHoldsAnythingButTheWantedFilesystem() {
        FakeCommandRunner runner = new FakeCommandRunner().on(WIPEFS, "dos 0x1fe partition-table\n");
        assertThatThrownBy(() -> new Filesystems(runner).formatIfBlank("v1", DEVICE, "ext4", intent))
                .isInstanceOf(StatusRuntimeException.class)
                .satisfies(e -> assertThat(Status.fromThrowable(e).getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION))
                .hasMessageContaining("volume v1 is not blank and holds no ext4 filesystem")
                .hasMessageContaining("refusing to format or mount it");
        assertThat(runner.commandLines()).noneMatch(c -> c.startsWith("mkfs"));
    }

    @Test
    void growsAnExistingExt4SmallerThanItsDeviceBeforeUse() {
        FakeCommandRunner runner = new FakeCommandRunner().on(WIPEFS, "ext4 0x438 filesystem\n")
                .on(List.of("blockdev", "--getsize64"), "2147483648\n")
                .on(List.of("dumpe2fs", "-h"), "Block count:              262144\nBlock size:               4096\n")
                .on(List.of("e2fsck"), "").on(List.of("resize2fs"), "");
        new Filesystems(runner).formatIfBlank("v1", DEVICE, "ext4", intent);
        assertThat(runner.commandLines()).contains("e2fsck -f -p /dev/vg0/ferry-v1", "resize2fs /dev/vg0/ferry-v1")
                .noneMatch(c -> c.startsWith("mkfs"));
    }

    @Test
    void mountsXfsWithNouuidBesideTheCosFlags() {
        FakeCommandRunner runner = new FakeCommandRunner().on(List.of("mount"), "");
        new Filesystems(runner).mount(DEVICE, Path.of("/stage/v1"), "xfs", List.of("noatime"));
        assertThat(runner.commandLines()).containsExactly("mount -t xfs -o noatime,nouuid /dev/vg0/ferry-v1 /stage/v1");
    }

    @Test
    void readsExt4HeaderFieldsAndAnswersMinusOneForAMissingOne() {
        String header = "Block count:              262144\nBlock size:               4096\n";
        assertThat(Filesystems.ext4Field(header, "Block size")).isEqualTo(4096);
        assertThat(Filesystems.ext4Field(header, "Inode count")).isEqualTo(-1);
    }
}
