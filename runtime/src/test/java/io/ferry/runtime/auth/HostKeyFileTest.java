package io.ferry.runtime.auth;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class HostKeyFileTest {

    @TempDir
    Path dir;

    @Test
    void thePairIsGeneratedOnceKeptPrivateAndNeverRegenerated() throws Exception {
        Path file = dir.resolve("state").resolve(HostKeyFile.FILE_NAME);
        assertThat(HostKeyFile.read(file)).isEmpty();
        HostKeyFile.Pair first = HostKeyFile.ensure(file, Instant.EPOCH);
        assertThat(first.generation()).isEqualTo(1);
        assertThat(first.hostKey()).isNotEqualTo(first.ctrlKey());
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
        assertThat(HostKeyFile.ensure(file, Instant.now())).isEqualTo(first);
        assertThat(HostKeyFile.read(file)).contains(first);
        assertThat(first.toString()).doesNotContain(first.hostKey().value()).doesNotContain(first.ctrlKey().value());
        try (var left = Files.list(file.getParent())) {
            assertThat(left).containsExactly(file);
        }
    }

    @Test
    void aDamagedFileIsReportedWithoutItsContentAndNeverReplaced() throws Exception {
        Path file = dir.resolve(HostKeyFile.FILE_NAME);
        String damaged = "{\"generation\":1,\"hostKey\":\"DHHC-1:00:AAAAsecretish:\",\"ctrlKey\":\"x\",\"createdAt\":\"2026-01-01T00:00:00Z\"}";
        Files.writeString(file, damaged);
        assertThatThrownBy(() -> HostKeyFile.ensure(file, Instant.EPOCH)).isInstanceOf(HostKeyFile.UnusableException.class)
                .hasMessageContaining("never replaces it").hasMessageNotContaining("secretish");
        Files.writeString(file, "not json at all");
        assertThatThrownBy(() -> HostKeyFile.read(file)).isInstanceOf(HostKeyFile.UnusableException.class);
        assertThat(Files.readString(file)).isEqualTo("not json at all");
    }

    @Test
    void aRotationKeepsBothGenerationsUntilTheNextIsPromotedAndNeverMakesAThird() throws Exception {
        Path file = dir.resolve(HostKeyFile.FILE_NAME);
        HostKeyFile.Pair first = HostKeyFile.ensure(file, Instant.EPOCH);

        HostKeyFile.Pair next = HostKeyFile.prepareNext(file, 2, Instant.EPOCH.plusSeconds(5));
        assertThat(next.generation()).isEqualTo(2);
        assertThat(next.hostKey()).isNotEqualTo(first.hostKey());
        assertThat(HostKeyFile.read(file)).as("connects still use the pair in use").contains(first);
        assertThat(HostKeyFile.readGenerations(file).orElseThrow().next()).contains(next);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
        assertThat(HostKeyFile.prepareNext(file, 2, Instant.now())).as("a restart publishes the same next pair")
                .isEqualTo(next);
        assertThatThrownBy(() -> HostKeyFile.prepareNext(file, 3, Instant.now()))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("generation 2");
        try (var leftovers = Files.list(dir)) {
            assertThat(leftovers).containsExactly(file);
        }

        assertThat(HostKeyFile.promoteNext(file, 2)).isEqualTo(next);
        HostKeyFile.Generations after = HostKeyFile.readGenerations(file).orElseThrow();
        assertThat(after.current()).isEqualTo(next);
        assertThat(after.next()).isEmpty();
        assertThat(Files.readString(file)).as("the old generation is gone").doesNotContain(first.hostKey().value())
                .doesNotContain(first.ctrlKey().value());
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
        assertThat(HostKeyFile.promoteNext(file, 2)).as("promoting again changes nothing").isEqualTo(next);
        assertThatThrownBy(() -> HostKeyFile.promoteNext(file, 3)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> HostKeyFile.prepareNext(file, 2, Instant.now()))
                .as("a generation already in use is not generated again").isInstanceOf(IllegalStateException.class);
    }

    @Test
    void aFileWhoseNextGenerationIsNotAfterTheOneInUseIsUnusableAndKept() throws Exception {
        Path file = dir.resolve(HostKeyFile.FILE_NAME);
        HostKeyFile.ensure(file, Instant.EPOCH);
        HostKeyFile.prepareNext(file, 2, Instant.EPOCH);
        String broken = Files.readString(file).replace("\"generation\":2", "\"generation\":1");
        Files.writeString(file, broken);
        assertThatThrownBy(() -> HostKeyFile.readGenerations(file)).isInstanceOf(HostKeyFile.UnusableException.class)
                .hasMessageNotContaining("DHHC-1:00:");
        assertThatThrownBy(() -> HostKeyFile.prepareNext(file, 3, Instant.now()))
                .isInstanceOf(HostKeyFile.UnusableException.class);
        assertThat(Files.readString(file)).isEqualTo(broken);
    }
}
