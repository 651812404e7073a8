package io.ferry.agent;

import io.ferry.etcd.store.RawEntry;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.ValidationException;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * How the agent reacts to its work items' keys, without etcd: every event enqueues the item's
 * name, a broken value's error is kept for the Failed status, and it is dropped once the key is
 * readable or gone; the layout-1 place never passes a delete on.
 */
class WorkHandlerTest {

    static final String KEY = "/ferry/work/node-1/volumes/vol-a";

    final BadValues bad = new BadValues();
    final List<String> enqueued = new ArrayList<>();
    final WorkHandler<String> handler = new WorkHandler<>(bad, value -> value, enqueued::add);

    static Versioned<String> item(String name) {
        return new Versioned<>(KEY, name, 1, 2, 1, 0);
    }

    static RawEntry broken() {
        return new RawEntry(KEY, "{not json".getBytes(StandardCharsets.UTF_8), 1, 3, 2, 0);
    }

    @Test
    void aBrokenValueIsRememberedWithItsErrorAndEnqueued() {
        handler.onBadValue(broken(), new ValidationException("sizeBytes", "must be positive"));

        assertThat(enqueued).containsExactly("vol-a");
        assertThat(bad.why("vol-a")).get().asString().contains("must be positive");
    }

    @Test
    void aReadableValueAfterABrokenOneClearsTheError() {
        handler.onBadValue(broken(), new ValidationException("broken"));
        handler.onUpsert(item("vol-a"), null);

        assertThat(bad.why("vol-a")).isEmpty();
        assertThat(enqueued).containsExactly("vol-a", "vol-a");
    }

    @Test
    void aDeletedKeyClearsTheErrorAndEnqueuesTheNameInTheKey() {
        handler.onBadValue(broken(), new ValidationException("broken"));
        handler.onDelete(KEY, null);

        assertThat(bad.contains("vol-a")).isFalse();
        assertThat(enqueued).containsExactly("vol-a", "vol-a");
    }

    @Test
    void theLayoutOnePlacePassesChangesAndBrokenValuesOnButNotDeletes() {
        LegacyWorkHandler<String> legacy = new LegacyWorkHandler<>(handler);
        legacy.onBadValue(broken(), new ValidationException("broken"));
        legacy.onDelete(KEY, item("vol-a"));

        assertThat(enqueued).as("a migration's delete of the old copy is not work").containsExactly("vol-a");
        assertThat(bad.contains("vol-a")).as("the error stays until a readable value or a real delete").isTrue();

        legacy.onUpsert(item("vol-a"), null);
        assertThat(enqueued).containsExactly("vol-a", "vol-a");
        assertThat(bad.contains("vol-a")).isFalse();
    }
}
