package io.ferry.csi;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/** A mirror's health as md's sysfs attributes show it, leg by leg, named by part. */
class MirrorHealthTest {

    static final List<String> PARTS = List.of("db--p0", "db--p1");

    @TempDir
    Path sys;

    SysBlock block() {
        return new SysBlock(sys, sys.resolve("dev"));
    }

    void attr(String relative, String value) throws IOException {
        Path file = sys.resolve("block/md127/md").resolve(relative);
        Files.createDirectories(file.getParent());
        Files.writeString(file, value + "\n");
    }

    MirrorHealth read(Optional<String> leg0, Optional<String> leg1) {
        return MirrorHealth.read(block(), "md127", PARTS, List.of(leg0, leg1));
    }

    @Test
    void bothLegsInSyncAndNothingRunningIsHealthy() throws IOException {
        attr("dev-dm-0/state", "in_sync");
        attr("dev-nvme0n1/state", "in_sync");
        attr("sync_action", "idle");
        attr("sync_completed", "none");

        MirrorHealth health = read(Optional.of("dm-0"), Optional.of("nvme0n1"));

        assertThat(health.state()).isEqualTo(MirrorHealth.State.HEALTHY);
        assertThat(health.abnormal()).isFalse();
        assertThat(health.message()).isEqualTo("mirror healthy (md127): 2 of 2 legs in sync");
    }

    @Test
    void theFirstResyncIsReportedWithItsProgressButIsNotAbnormal() throws IOException {
        attr("dev-dm-0/state", "in_sync");
        attr("dev-nvme0n1/state", "in_sync");
        attr("sync_action", "resync");
        attr("sync_completed", "32768 / 131072");
        attr("sync_speed", "10240");

        MirrorHealth health = read(Optional.of("dm-0"), Optional.of("nvme0n1"));

        assertThat(health.state()).isEqualTo(MirrorHealth.State.RESYNCING);
        assertThat(health.abnormal()).isFalse();
        assertThat(health.message()).endsWith("2 of 2 legs in sync; resync 25.0% at 10.0 MiB/s");
    }

    @Test
    void aFaultyLegMakesTheMirrorDegradedAndIsNamed() throws IOException {
        attr("dev-dm-0/state", "in_sync");
        attr("dev-nvme0n1/state", "faulty");
        attr("sync_action", "idle");

        MirrorHealth health = read(Optional.of("dm-0"), Optional.of("nvme0n1"));

        assertThat(health.state()).isEqualTo(MirrorHealth.State.DEGRADED);
        assertThat(health.abnormal()).isTrue();
        assertThat(health.legs()).extracting(MirrorHealth.Leg::state)
                .containsExactly(MirrorHealth.LegState.IN_SYNC, MirrorHealth.LegState.FAULTY);
        assertThat(health.message()).isEqualTo("mirror degraded (md127): 1 of 2 legs in sync; leg db--p1 (nvme0n1) faulty");
    }

    @Test
    void aLegWithoutADeviceHereOrOutsideTheArrayIsNeverTakenForInSync() throws IOException {
        attr("dev-dm-0/state", "in_sync");

        assertThat(read(Optional.of("dm-0"), Optional.empty()).message())
                .isEqualTo("mirror degraded (md127): 1 of 2 legs in sync; leg db--p1 absent");
        // The device is back, but md has not taken it again: not a member.
        assertThat(read(Optional.of("dm-0"), Optional.of("nvme0n1")).legs().get(1).state())
                .isEqualTo(MirrorHealth.LegState.OUT);
    }

    @Test
    void aLegBeingRebuiltReportsTheRebuildAndItsRate() throws IOException {
        attr("dev-dm-0/state", "in_sync");
        attr("dev-nvme0n1/state", "spare");
        attr("sync_action", "recover");
        attr("sync_completed", "65536 / 131072");
        attr("sync_speed", "2048");

        MirrorHealth health = read(Optional.of("dm-0"), Optional.of("nvme0n1"));

        assertThat(health.state()).isEqualTo(MirrorHealth.State.REBUILDING);
        assertThat(health.abnormal()).isTrue();
        assertThat(health.message()).isEqualTo("mirror rebuilding (md127): 1 of 2 legs in sync;"
                + " leg db--p1 (nvme0n1) rebuilding; recover 50.0% at 2.0 MiB/s");
    }

    @Test
    void anArrayGoneFromSysfsReadsAsNoLegInSync() {
        MirrorHealth health = read(Optional.of("dm-0"), Optional.of("nvme0n1"));

        assertThat(health.inSync()).isZero();
        assertThat(health.state()).isEqualTo(MirrorHealth.State.DEGRADED);
    }

    @Test
    void aLegJoiningByAMoveIsAnExtraCopyOnItsWayNotADegradedMirror() throws IOException {
        attr("dev-dm-0/state", "in_sync");
        attr("dev-nvme0n1/state", "in_sync");
        attr("dev-nvme1n1/state", "spare");
        attr("sync_action", "recover");
        attr("sync_completed", "32768 / 131072");
        attr("sync_speed", "4096");
        List<String> parts = List.of("db--p0", "db--p1", "db--p2");
        List<Optional<String>> devices = List.of(Optional.of("dm-0"), Optional.of("nvme0n1"), Optional.of("nvme1n1"));

        MirrorHealth moving = MirrorHealth.read(block(), "md127", parts, devices, "db--p2");
        assertThat(moving.state()).isEqualTo(MirrorHealth.State.MOVING);
        assertThat(moving.abnormal()).isFalse();
        assertThat(moving.message()).isEqualTo("mirror moving (md127): 2 of 3 legs in sync; leg db--p2 (nvme1n1)"
                + " rebuilding; recover 25.0% at 4.0 MiB/s");
        assertThat(MirrorHealth.read(block(), "md127", parts, List.of(Optional.of("dm-0"), Optional.of("nvme0n1"),
                Optional.empty()), "db--p2").abnormal()).as("not connected yet").isFalse();

        // One of the legs that hold the data is behind: that is degraded, move or not.
        attr("dev-nvme0n1/state", "faulty");
        assertThat(MirrorHealth.read(block(), "md127", parts, devices, "db--p2").state())
                .isEqualTo(MirrorHealth.State.REBUILDING);
        attr("dev-nvme0n1/state", "in_sync");
        attr("dev-nvme1n1/state", "in_sync");
        attr("sync_action", "idle");
        assertThat(MirrorHealth.read(block(), "md127", parts, devices, "db--p2").state())
                .isEqualTo(MirrorHealth.State.HEALTHY);
    }
}
