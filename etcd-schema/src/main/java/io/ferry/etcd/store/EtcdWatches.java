package io.ferry.etcd.store;

import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.common.exception.CompactedException;
import io.etcd.jetcd.options.WatchOption;
import io.etcd.jetcd.watch.WatchEvent;
import io.etcd.jetcd.watch.WatchResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static io.ferry.etcd.store.EtcdRequests.bytes;
import static io.ferry.etcd.store.EtcdRequests.raw;

/**
 * jetcd's watches as the {@link Store}'s: events as {@link KeyChange}s, and a compacted start
 * revision as the typed {@link CompactedRevisionException} every store reports it with.
 */
final class EtcdWatches {

    // Logged under the store's name, as before the watches had a class of their own.
    private static final Logger log = LoggerFactory.getLogger(EtcdStore.class);

    private final Watch client;

    EtcdWatches(Watch client) {
        this.client = client;
    }

    /** Watches every key under {@code key} when {@code isPrefix}, else that one key alone. */
    StoreWatch watch(String key, boolean isPrefix, long fromRevision, WatchListener listener) {
        WatchOption option = WatchOption.builder()
                .isPrefix(isPrefix)
                .withRevision(fromRevision)
                .withProgressNotify(true)
                .build();
        Watch.Watcher watcher = client.watch(bytes(key), option, new Watch.Listener() {
            @Override
            public void onNext(WatchResponse response) {
                long revision = response.getHeader() == null ? 0 : response.getHeader().getRevision();
                listener.onChanges(revision, changes(response));
            }

            @Override
            public void onError(Throwable error) {
                listener.onError(compacted(error, fromRevision));
            }

            @Override
            public void onCompleted() {
                listener.onCompleted();
            }
        });
        return watcher::close;
    }

    void requestProgress() {
        client.requestProgress();
    }

    private static List<KeyChange> changes(WatchResponse response) {
        List<KeyChange> changes = new ArrayList<>(response.getEvents().size());
        for (WatchEvent event : response.getEvents()) {
            KeyValue kv = event.getKeyValue();
            switch (event.getEventType()) {
                case PUT -> changes.add(new KeyChange(KeyChange.Kind.PUT, raw(kv)));
                case DELETE -> changes.add(KeyChange.deleted(kv.getKey().toString(StandardCharsets.UTF_8),
                        kv.getModRevision()));
                default -> log.warn("ignoring unrecognized watch event for {}",
                        kv.getKey().toString(StandardCharsets.UTF_8));
            }
        }
        return changes;
    }

    /** etcd's refusal of a compacted start revision, as the typed error every store reports it with. */
    static Throwable compacted(Throwable error, long fromRevision) {
        for (Throwable t = error; t != null; t = t.getCause()) {
            if (t instanceof CompactedException compacted) {
                return new CompactedRevisionException(fromRevision, compacted.getCompactedRevision(), error);
            }
            if (String.valueOf(t.getMessage()).contains("required revision has been compacted")) {
                return new CompactedRevisionException(fromRevision, 0, error);
            }
        }
        return error;
    }
}
