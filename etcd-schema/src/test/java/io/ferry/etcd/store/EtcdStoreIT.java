package io.ferry.etcd.store;

import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.etcd.testing.EtcdSession;
import io.ferry.etcd.testing.Item;
import io.vertx.core.Future;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;

import static io.ferry.etcd.testing.Await.failure;
import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

class EtcdStoreIT {

    static final EtcdExtension etcd = new EtcdExtension();
    @RegisterExtension
    static final EtcdSession session = new EtcdSession(etcd);

    EtcdStore store;
    String p;

    @BeforeEach
    void connect() {
        String prefix = session.prefix();
        store = session.store();
        p = prefix + "/items/";
    }

    @Test
    void warmingUpAClientLeavesNoLeaseBehind() {
        Set<String> before = leases();
        try (EtcdStore warmed = EtcdStore.connectAndWarmUp(etcd.options(EtcdExtension.uniquePrefix()))) {
            assertThat(leases()).as("the throw-away lease is revoked").isSubsetOf(before);
            assertThat(result(warmed.currentRevision())).isPositive();
        }
    }

    /** The leases etcd holds, as {@code etcdctl lease list} prints them. */
    private static Set<String> leases() {
        return etcd.etcdctl("lease", "list").lines().filter(l -> l.matches("[0-9a-f]+")).collect(Collectors.toSet());
    }

    @Test
    void aValuePutIsReadBackWithItsRevisions() {
        long rev = result(store.put(p + "a", Item.of("a", 3)));
        Versioned<Item> got = result(store.get(p + "a", Item.class)).orElseThrow();
        assertThat(got.value()).isEqualTo(Item.of("a", 3));
        assertThat(got.modRevision()).isEqualTo(rev);
        assertThat(got.createRevision()).isEqualTo(rev);
        assertThat(result(store.get(p + "missing", Item.class))).isEmpty();
    }

    @Test
    void aViewHoldingCommitsSendsNoTransactionWhileItHoldsAndSaysWhy() {
        AtomicReference<String> hold = new AtomicReference<>("etcd was restored");
        EtcdStore view = store.holdingCommitsWhile(() -> Optional.ofNullable(hold.get()));
        Throwable refused = failure(view.txn().requireAbsent(p + "a").put(p + "a", Item.of("a", 1)).commit());
        assertThat(refused).isInstanceOf(CommitHeldException.class).hasMessageContaining("etcd was restored")
                .hasMessageContaining("absent " + p + "a");
        assertThat(result(store.get(p + "a", Item.class))).as("nothing reached etcd").isEmpty();
        assertThat(result(view.get(p + "a", Item.class))).as("reads are not held").isEmpty();
        assertThat(result(store.putIfAbsent(p + "b", Item.of("b", 1)))).as("the store itself is not held").isTrue();

        hold.set(null);
        assertThat(result(view.txn().requireAbsent(p + "a").put(p + "a", Item.of("a", 1)).commit()).succeeded()).isTrue();
        view.close();
        assertThat(result(store.get(p + "a", Item.class))).as("closing the view leaves the client open").isPresent();
    }

    @Test
    void readingAMalformedValueFailsNamingTheKey() {
        result(store.putRaw(p + "bad", "{\"name\": ".getBytes(StandardCharsets.UTF_8)));
        Throwable error = failure(store.get(p + "bad", Item.class));
        assertThat(error).isInstanceOf(BadValueException.class).hasMessageContaining(p + "bad");
    }

    @Test
    void compareAndPutFailsWhenAnotherWriterChangedTheKeyFirst() {
        long rev = result(store.put(p + "k", Item.of("k", 1)));
        result(store.put(p + "k", Item.of("k", 2)));
        assertThat(result(store.compareAndPut(p + "k", Item.of("k", 99), rev))).isFalse();
        assertThat(result(store.get(p + "k", Item.class)).orElseThrow().value().count()).isEqualTo(2);

        long current = result(store.get(p + "k", Item.class)).orElseThrow().modRevision();
        assertThat(result(store.compareAndPut(p + "k", Item.of("k", 3), current))).isTrue();
        assertThat(result(store.get(p + "k", Item.class)).orElseThrow().value().count()).isEqualTo(3);
    }

    @Test
    void putIfAbsentLetsExactlyOneOfManyConcurrentWritersWin() {
        List<Future<Boolean>> attempts = new ArrayList<>();
        for (int i = 0; i < 32; i++) {
            attempts.add(store.putIfAbsent(p + "once", Item.of("w" + i, i)));
        }
        long winners = attempts.stream().map(f -> result(f)).filter(Boolean::booleanValue).count();
        assertThat(winners).isEqualTo(1);
    }

    @Test
    void compareAndDeleteOnlyDeletesTheRevisionItSaw() {
        long rev = result(store.put(p + "d", Item.of("d", 1)));
        result(store.put(p + "d", Item.of("d", 2)));
        assertThat(result(store.compareAndDelete(p + "d", rev))).isFalse();
        long now = result(store.get(p + "d", Item.class)).orElseThrow().modRevision();
        assertThat(result(store.compareAndDelete(p + "d", now))).isTrue();
        assertThat(result(store.get(p + "d", Item.class))).isEmpty();
        assertThat(result(store.delete(p + "d"))).as("deleting a missing key is idempotent").isFalse();
    }

    @Test
    void aMultiKeyTransactionAppliesAllItsWritesOrNone() {
        long ledgerRev = result(store.put(p + "ledger", Item.of("ledger", 10)));
        result(store.put(p + "stale", Item.of("stale", 0)));

        TxnOutcome failed = result(store.txn()
                .requireAbsent(p + "placement")
                .requireModRevision(p + "ledger", ledgerRev - 1)
                .put(p + "placement", Item.of("placement", 1))
                .put(p + "ledger", Item.of("ledger", 11))
                .delete(p + "stale")
                .commit());
        assertThat(failed.succeeded()).isFalse();
        assertThat(result(store.get(p + "placement", Item.class))).isEmpty();
        assertThat(result(store.get(p + "stale", Item.class))).isPresent();

        TxnOutcome ok = result(store.txn()
                .requireAbsent(p + "placement")
                .requireModRevision(p + "ledger", ledgerRev)
                .put(p + "placement", Item.of("placement", 1))
                .put(p + "ledger", Item.of("ledger", 11))
                .delete(p + "stale")
                .commit());
        assertThat(ok.succeeded()).isTrue();
        assertThat(result(store.get(p + "placement", Item.class))).isPresent();
        Versioned<Item> ledger = result(store.get(p + "ledger", Item.class)).orElseThrow();
        assertThat(ledger.value().count()).isEqualTo(11);
        assertThat(ledger.modRevision()).isEqualTo(ok.revision());
        assertThat(result(store.get(p + "stale", Item.class))).isEmpty();
    }

    @Test
    void aListingReadsEveryKeyAcrossPagesAtOneRevision() {
        int n = EtcdStore.LIST_PAGE + 345;
        List<Future<Long>> puts = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            puts.add(store.put(p + String.format("%05d", i), Item.of("i" + i, i)));
        }
        Future.all(puts).toCompletionStage().toCompletableFuture().join();
        // A sibling prefix that shares the first characters must not leak into the listing.
        result(store.put(p.substring(0, p.length() - 1) + "x/other", Item.of("other", 0)));

        Listing<Item> listing = result(store.list(p, Item.class));
        assertThat(listing.items()).hasSize(n);
        assertThat(listing.items().get(0).key()).isEqualTo(p + "00000");
        assertThat(listing.items().get(n - 1).key()).isEqualTo(p + String.format("%05d", n - 1));
        assertThat(listing.badValues()).isEmpty();
        assertThat(result(store.count(p))).isEqualTo(n);
    }

    @Test
    void aListingReportsBadValuesWithoutLosingTheGoodOnes() {
        result(store.put(p + "a", Item.of("a", 1)));
        result(store.putRaw(p + "b", "not json".getBytes(StandardCharsets.UTF_8)));
        result(store.putRaw(p + "c", "{\"schemaVersion\":1,\"name\":\"c\",\"count\":-4}".getBytes(StandardCharsets.UTF_8)));
        result(store.put(p + "d", Item.of("d", 4)));

        Listing<Item> listing = result(store.list(p, Item.class));
        assertThat(listing.items()).extracting(v -> v.value().name()).containsExactly("a", "d");
        assertThat(listing.badValues()).extracting(BadValueException::key).containsExactly(p + "b", p + "c");
        assertThat(listing.badValues().get(1)).hasMessageContaining("negative");
    }

    @Test
    void aLeaseBoundKeyDisappearsWhenItsLeaseExpires() throws Exception {
        long lease = store.client().getLeaseClient().grant(2).get(5, TimeUnit.SECONDS).getID();
        result(store.put(p + "ephemeral", Item.of("e", 1), lease));
        assertThat(result(store.get(p + "ephemeral", Item.class)).orElseThrow().leaseId()).isEqualTo(lease);
        await().atMost(Duration.ofSeconds(10)).until(() -> result(store.get(p + "ephemeral", Item.class)).isEmpty());
    }
}
