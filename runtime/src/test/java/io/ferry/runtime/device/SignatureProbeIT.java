package io.ferry.runtime.device;

import io.ferry.runtime.exec.CommandFailedException;
import io.ferry.runtime.exec.ProcessCommandRunner;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import static io.ferry.runtime.device.TestDisks.MIB;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The probe against real loop devices and the real wipefs (needs root and the loop driver). */
class SignatureProbeIT {

    @RegisterExtension
    final TestDisks disks = new TestDisks();

    final SignatureProbe probe = new SignatureProbe(new ProcessCommandRunner());

    @Test
    void aZeroedDeviceIsBlank() throws Exception {
        assertThat(probe.probe(disks.blank("blank", 32 * MIB))).isEmpty();
    }

    @Test
    void findsAFilesystemWithItsOffset() throws Exception {
        assertThat(probe.probe(disks.withFilesystem("ext4", 32 * MIB, "ext4")))
                .containsExactly(new SignatureProbe.Signature("ext4", "0x438", "filesystem"));
        SignatureProbe.Signature xfs = probe.probe(disks.withFilesystem("xfs", 320 * MIB, "xfs")).get(0);
        assertThat(xfs.isFilesystem("xfs")).isTrue();
        assertThat(xfs.isFilesystem("ext4")).isFalse();
    }

    @Test
    void findsAPartitionTableThatCarriesNoFilesystem() throws Exception {
        // blkid's TYPE is empty here, which is how a TYPE-only check came to format such a disk.
        var found = probe.probe(disks.withDosPartitionTable("dos", 32 * MIB));
        assertThat(found).containsExactly(new SignatureProbe.Signature("dos", "0x1fe", "partition-table"));
        assertThat(SignatureProbe.describe(found)).isEqualTo("dos (partition-table) at offset 0x1fe");
    }

    @Test
    void aDeviceThatCannotBeReadIsAnErrorNeverBlank() {
        assertThatThrownBy(() -> probe.probe(disks.directory().resolve("no-such-device").toString()))
                .isInstanceOf(CommandFailedException.class).hasMessageContaining("wipefs");
    }
}
