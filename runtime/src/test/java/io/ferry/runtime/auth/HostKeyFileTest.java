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
}
