package io.ferry.runtime.informer;

import io.ferry.etcd.EtcdClients;
import io.ferry.etcd.store.BadValueException;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.Listing;
import io.ferry.etcd.store.RawEntry;
import io.ferry.etcd.store.Versioned;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.etcd.testing.EtcdSession;
import io.ferry.etcd.testing.Item;
import io.ferry.model.ValidationException;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Large values under one prefix, against real etcd with its default {@code --max-request-bytes}
 * (1.5 MiB). jetcd's default inbound limit is 4 MiB, so three values near etcd's limit in one
 * listing page made the response unreadable, and every component stopped syncing that prefix.
 */
class LargeValuesIT {

    static final EtcdExtension etcd = new EtcdExtension();
    @RegisterExtension
    static final EtcdSession session = new EtcdSession(etcd);

    /** About 1.4 MiB: fits under etcd's default 1.5 MiB request limit with its key. */
    static final int LARGE = 1_468_000;

    /** Just under Ferry's own 1 MiB limit for a value, so these decode. */
    static final int NEAR_LIMIT = 1_000_000;

    EtcdStore store;
    String p;
    Informer<Item> informer;

    @BeforeEach
    void connect() {
        String prefix = session.prefix();
        store = session.store();
        p = prefix + "/items/";
    }

    @AfterEach
    void close() {
        if (informer != null) {
            informer.close();
        }
    }

    /** A valid Item of exactly {@code bytes} bytes: JSON allows any amount of whitespace. */
    static byte[] item(String name, long count, int bytes) {
        byte[] json = ("{\"schemaVersion\":1,\"name\":\"" + name + "\",\"count\":" + count + "}")
                .getBytes(StandardCharsets.UTF_8);
        byte[] padded = new byte[Math.max(bytes, json.length)];
        Arrays.fill(padded, (byte) ' ');
        System.arraycopy(json, 0, padded, padded.length - json.length, json.length);
        return padded;
    }

    @Test
    void aListingAndAnInformerSeeThreeLargeValuesAndTheSmallOnesBesideThem() {
        // Values above Ferry's 1 MiB limit are bad values, but etcd accepts them: one careless or
        // hostile put must cost only its own key, not the whole prefix.
        List<String> big = List.of("big-1", "big-2", "big-3");
        for (String name : big) {
            result(store.putRaw(p + name, item(name, 1, LARGE)));
        }
        List<String> good = new ArrayList<>();
        for (int i = 1; i <= 3; i++) {
            result(store.putRaw(p + "near-limit-" + i, item("near-limit-" + i, i, NEAR_LIMIT)));
            good.add("near-limit-" + i);
        }
        for (int i = 1; i <= 4; i++) {
            result(store.put(p + "small-" + i, Item.of("small-" + i, i)));
            good.add("small-" + i);
        }

        EtcdStore.RawListing raw = result(store.listRaw(p));
        assertThat(raw.entries()).hasSize(10);
        Listing<Item> listing = result(store.list(p, Item.class));
        assertThat(listing.items()).extracting(v -> v.value().name()).containsExactlyInAnyOrderElementsOf(good);
        assertThat(listing.badValues()).extracting(BadValueException::key)
                .containsExactlyInAnyOrderElementsOf(big.stream().map(n -> p + n).toList());

        Recorder recorder = new Recorder();
        informer = new Informer<>(session.vertx(), store, p, Item.class, recorder, InformerOptions.defaults(),
                new SimpleMeterRegistry());
        result(informer.start());
        assertThat(informer.values()).extracting(v -> v.value().name()).containsExactlyInAnyOrderElementsOf(good);
        assertThat(recorder.badKeys).containsExactlyInAnyOrderElementsOf(big.stream().map(n -> p + n).toList());

        // Later large values arrive through the watch, not the listing, and syncing goes on.
        result(store.putRaw(p + "big-4", item("big-4", 4, LARGE)));
        result(store.putRaw(p + "near-limit-4", item("near-limit-4", 4, NEAR_LIMIT)));
        result(store.put(p + "small-5", Item.of("small-5", 5)));
        await().atMost(Duration.ofSeconds(20)).until(() -> informer.get(p + "small-5").isPresent());
        assertThat(informer.get(p + "near-limit-4")).isPresent();
        assertThat(recorder.badKeys).contains(p + "big-4");
    }

    @Test
    void aPrefixFarLargerThanTheClientsInboundLimitIsListedInSmallerPagesAtOneRevision() {
        // 80 values of 1 MB: more than the client accepts in one response, so the first page is
        // refused and asked again smaller, and the later pages are sized by bytes.
        int count = 80;
        assertThat((long) count * NEAR_LIMIT).isGreaterThan(EtcdClients.MAX_INBOUND_BYTES);
        long lastRevision = 0;
        for (int i = 0; i < count; i++) {
            String name = String.format("v-%02d", i);
            lastRevision = result(store.putRaw(p + name, item(name, i, NEAR_LIMIT)));
        }
        Listing<Item> listing = result(store.list(p, Item.class));
        assertThat(listing.badValues()).isEmpty();
        assertThat(listing.items()).hasSize(count);
        assertThat(listing.items()).extracting(Versioned::key).doesNotHaveDuplicates().isSorted();
        assertThat(listing.revision()).isGreaterThanOrEqualTo(lastRevision);
    }

    static final class Recorder implements InformerHandler<Item> {
        final List<String> badKeys = new CopyOnWriteArrayList<>();

        @Override
        public void onUpsert(Versioned<Item> current, Versioned<Item> previous) {
        }

        @Override
        public void onDelete(String key, Versioned<Item> lastKnown) {
        }

        @Override
        public void onBadValue(RawEntry raw, ValidationException error) {
            badKeys.add(raw.key());
        }
    }
}
