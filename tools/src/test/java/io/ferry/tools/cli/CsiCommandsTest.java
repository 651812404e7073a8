package io.ferry.tools.cli;

import io.grpc.Status;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class CsiCommandsTest {

    @Test
    void timeoutsTakeAUnitOrPlainSeconds() {
        assertThat(CsiCommands.duration("120")).isEqualTo(Duration.ofSeconds(120));
        assertThat(CsiCommands.duration("90s")).isEqualTo(Duration.ofSeconds(90));
        assertThat(CsiCommands.duration("2m")).isEqualTo(Duration.ofMinutes(2));
        assertThat(CsiCommands.duration("500ms")).isEqualTo(Duration.ofMillis(500));
        assertThat(CsiCommands.duration("1H")).isEqualTo(Duration.ofHours(1));
    }

    @Test
    void badTimeoutsAreUsageErrors() {
        for (String bad : new String[] {"", "soon", "-5s", "0", "1.5s", "10d", "9999999999s"}) {
            assertThatThrownBy(() -> CsiCommands.duration(bad)).as(bad).isInstanceOfSatisfying(CliException.class,
                    e -> assertThat(e.exitCode()).isEqualTo(ExitCodes.USAGE));
        }
    }

    @Test
    void grpcCodesMapToTheDocumentedExitCodes() {
        assertThat(CsiCommands.exitCode(Status.Code.INVALID_ARGUMENT)).isEqualTo(ExitCodes.USAGE);
        assertThat(CsiCommands.exitCode(Status.Code.OUT_OF_RANGE)).isEqualTo(ExitCodes.USAGE);
        assertThat(CsiCommands.exitCode(Status.Code.NOT_FOUND)).isEqualTo(ExitCodes.NOT_FOUND);
        assertThat(CsiCommands.exitCode(Status.Code.ALREADY_EXISTS)).isEqualTo(ExitCodes.CONFLICT);
        assertThat(CsiCommands.exitCode(Status.Code.FAILED_PRECONDITION)).isEqualTo(ExitCodes.CONFLICT);
        assertThat(CsiCommands.exitCode(Status.Code.DEADLINE_EXCEEDED)).isEqualTo(ExitCodes.TIMEOUT);
        assertThat(CsiCommands.exitCode(Status.Code.UNAVAILABLE)).isEqualTo(ExitCodes.ETCD_UNAVAILABLE);
        assertThat(CsiCommands.exitCode(Status.Code.RESOURCE_EXHAUSTED)).isEqualTo(ExitCodes.REFUSED);
        for (Status.Code other : new Status.Code[] {Status.Code.INTERNAL, Status.Code.ABORTED, Status.Code.UNKNOWN,
                Status.Code.UNIMPLEMENTED, Status.Code.PERMISSION_DENIED}) {
            assertThat(CsiCommands.exitCode(other)).as(other.name()).isEqualTo(ExitCodes.FAILED);
        }
    }
}
