package io.ferry.agent;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.Versioned;
import io.ferry.etcd.testing.MemoryStore;
import io.ferry.model.Condition;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeStatus;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.Optional;

import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * How the agent's reconcilers write their status keys, on the in-memory store: only a change of
 * content costs a write, a condition keeps the time it last changed across rewrites, a write never
 * overwrites a status it did not expect, and the agent knows its own late echoes from others' changes.
 */
class StatusWriterTest {

    final MemoryStore store = new MemoryStore(new FerryKeys("/ferry"));
    final String key = store.keys().volumeStatus("node-1", "vol-a");
    final StatusWriter statuses = new StatusWriter(store);

    static VolumeStatus ready(long generation, Instant at) {
        return VolumeStatus.of("vol-a", "node-1", "pool-1", VolumePhase.READY, "/dev/loop7", 1L << 30, null,
                generation, "ready", at).withReady(Condition.of(Condition.READY, true, "Provisioned", "ready", generation));
    }

    @Test
    void aStatusThatDiffersOnlyInItsTimestampsIsNotWrittenAgain() {
        Instant first = Instant.parse("2026-01-01T00:00:00Z");
        assertThat(result(statuses.volume(key, ready(1, first), Optional.empty()))).isTrue();
        long revision = result(store.currentRevision());

        assertThat(result(statuses.volume(key, ready(1, first.plusSeconds(60)), Optional.empty())))
                .as("a resync with nothing new").isFalse();
        assertThat(result(store.currentRevision())).as("no write reached the store").isEqualTo(revision);

        assertThat(result(statuses.volume(key, ready(2, first.plusSeconds(120)), Optional.empty()))).isTrue();
        Versioned<VolumeStatus> stored = result(store.get(key, VolumeStatus.class)).orElseThrow();
        assertThat(stored.value().observedGeneration()).isEqualTo(2);
        assertThat(stored.version()).isEqualTo(2);
    }

    @Test
    void aConditionThatStaysTrueKeepsTheTimeItBecameTrue() {
        Instant first = Instant.parse("2026-01-01T00:00:00Z");
        result(statuses.volume(key, ready(1, first), Optional.empty()));
        result(statuses.volume(key, ready(2, first.plusSeconds(300)), Optional.empty()));

        Condition condition = result(store.get(key, VolumeStatus.class)).orElseThrow().value().ready().orElseThrow();
        assertThat(condition.observedGeneration()).isEqualTo(2);
        assertThat(condition.lastTransitionTime()).isEqualTo(first);
    }

    @Test
    void aStatusWrittenOnlyWhereThereIsNoneLeavesAnExistingOneAlone() {
        Instant at = Instant.parse("2026-01-01T00:00:00Z");
        result(store.put(key, ready(7, at)));
        assertThat(result(statuses.volumeIfAbsent(key, ready(1, at)))).isFalse();
        assertThat(result(store.get(key, VolumeStatus.class)).orElseThrow().value().observedGeneration()).isEqualTo(7);
    }

    @Test
    void itsOwnOlderWritesComingBackLateAreNotTakenForSomebodyElsesChange() {
        Instant at = Instant.parse("2026-01-01T00:00:00Z");
        result(statuses.volume(key, ready(1, at), Optional.empty()));
        Versioned<VolumeStatus> older = result(store.get(key, VolumeStatus.class)).orElseThrow();
        result(statuses.volume(key, ready(2, at), Optional.empty()));

        assertThat(statuses.isMine(key, older.value(), older.modRevision())).as("an echo of an older write").isTrue();
        VolumeStatus foreign = ready(3, at);
        long foreignRevision = result(store.put(key, foreign));
        assertThat(statuses.isMine(key, foreign, foreignRevision)).as("another writer's value").isFalse();
    }
}
