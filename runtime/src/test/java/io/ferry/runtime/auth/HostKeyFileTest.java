package io.ferry.runtime.auth;

import io.ferry.model.HostSecret;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class HostKeyFileTest {

    static final String NQN = "nqn.2014-08.org.nvmexpress:uuid:bbbbbbbb-0000-4000-8000-000000000002";

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
    void halfWayThroughARotationConnectsUseTheOldHostKeyWithTheNewControllerKeyAndTheTargetsAreAlwaysOneKeyAhead()
            throws Exception {
        Path file = dir.resolve(HostKeyFile.FILE_NAME);
        HostKeyFile.Pair first = HostKeyFile.ensure(file, Instant.EPOCH);
        assertThat(HostKeyFile.readGenerations(file).orElseThrow().published("node-b", NQN))
                .satisfies(p -> assertThat(p.samePair(HostSecret.of("node-b", NQN, 1, first.hostKey(), first.ctrlKey(),
                        Instant.EPOCH))).isTrue());
        HostKeyFile.Pair next = HostKeyFile.prepareNext(file, 2, Instant.EPOCH);

        HostSecret prepared = HostKeyFile.readGenerations(file).orElseThrow().published("node-b", NQN);
        assertThat(prepared.generation()).isEqualTo(2);
        assertThat(prepared.hostKeyGeneration()).isEqualTo(1);
        assertThat(prepared.hostKey()).isEqualTo(first.hostKey().value());
        assertThat(prepared.ctrlKey()).isEqualTo(next.ctrlKey().value());
        assertThat(HostKeyFile.read(file)).as("connects use the pair in use until the host takes a new key").contains(first);

        HostKeyFile.useNextCtrlKey(file, 2);
        HostKeyFile.useNextCtrlKey(file, 2);
        HostKeyFile.Generations half = HostKeyFile.readGenerations(file).orElseThrow();
        assertThat(half.nextCtrlKeyInUse()).isTrue();
        assertThat(half.current()).isEqualTo(first);
        assertThat(HostKeyFile.read(file)).contains(new HostKeyFile.Pair(1, first.hostKey(), next.ctrlKey(), Instant.EPOCH));
        HostSecret whole = half.published("node-b", NQN);
        assertThat(whole.generation()).isEqualTo(2);
        assertThat(whole.hostKeyGeneration()).isEqualTo(2);
        assertThat(whole.hostKey()).isEqualTo(next.hostKey().value());
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
        assertThatThrownBy(() -> HostKeyFile.useNextCtrlKey(file, 3)).isInstanceOf(IllegalStateException.class);

        HostKeyFile.promoteNext(file, 2);
        assertThat(HostKeyFile.read(file)).contains(next);
        assertThat(HostKeyFile.readGenerations(file).orElseThrow().nextCtrlKeyInUse()).isFalse();
        HostKeyFile.useNextCtrlKey(file, 2);
        assertThat(HostKeyFile.read(file)).as("a repeat after the switch changes nothing").contains(next);
    }

    @Test
    void aFileWrittenBeforeTheStepsExistedReadsAsNotHalfWay() throws Exception {
        Path file = dir.resolve(HostKeyFile.FILE_NAME);
        HostKeyFile.Pair first = HostKeyFile.ensure(file, Instant.EPOCH);
        HostKeyFile.prepareNext(file, 2, Instant.EPOCH);
        Files.writeString(file, Files.readString(file).replace(",\"ctrlKeyInUse\":false", ""));
        assertThat(Files.readString(file)).doesNotContain("ctrlKeyInUse");
        assertThat(HostKeyFile.readGenerations(file).orElseThrow().nextCtrlKeyInUse()).isFalse();
        assertThat(HostKeyFile.read(file)).contains(first);
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
