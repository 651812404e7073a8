package io.ferry.etcd.store;

import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.etcd.testing.Item;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static io.ferry.etcd.testing.Await.failure;
import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

class EtcdStoreIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    static Vertx vertx;
    EtcdStore store;
    String p;

    @BeforeAll
    static void startVertx() {
        vertx = Vertx.vertx();
    }

    @AfterAll
    static void stopVertx() {
        result(vertx.close());
    }

    @BeforeEach
    void connect() {
        String prefix = EtcdExtension.uniquePrefix();
        store = EtcdStore.connect(etcd.options(prefix));
        p = prefix + "/items/";
    }

    @AfterEach
    void close() {
        store.close();
    }

    @Test
    void warmingUpAClientLeavesNoLeaseBehind() {
        java.util.Set<String> before = leases();
        try (EtcdStore warmed = EtcdStore.connectAndWarmUp(etcd.options(EtcdExtension.uniquePrefix()))) {
            assertThat(leases()).as("the throw-away lease is revoked").isSubsetOf(before);
            assertThat(result(warmed.currentRevision())).isPositive();
        }
    }

    /** The leases etcd holds, as {@code etcdctl lease list} prints them. */
    private static java.util.Set<String> leases() {
        return etcd.etcdctl("lease", "list").lines().filter(l -> l.matches("[0-9a-f]+")).collect(java.util.stream.Collectors.toSet());
    }

    @Test
    void putThenGetRoundTripsAValueWithItsRevisions() {
        long rev = result(store.put(p + "a", Item.of("a", 3)));
        Versioned<Item> got = result(store.get(p + "a", Item.class)).orElseThrow();
        assertThat(got.value()).isEqualTo(Item.of("a", 3));
        assertThat(got.modRevision()).isEqualTo(rev);
        assertThat(got.createRevision()).isEqualTo(rev);
        assertThat(result(store.get(p + "missing", Item.class))).isEmpty();
    }

    @Test
    void aViewHoldingCommitsSendsNoTransactionWhileItHoldsAndSaysWhy() {
        java.util.concurrent.atomic.AtomicReference<String> hold = new java.util.concurrent.atomic.AtomicReference<>("etcd was restored");
        EtcdStore view = store.holdingCommitsWhile(() -> java.util.Optional.ofNullable(hold.get()));
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
    void getOfAMalformedValueFailsNamingTheKey() {
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
    void multiKeyTransactionAppliesAllWritesOrNone() {
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
    void listReadsEveryKeyAcrossPagesAtOneRevision() {
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
    void listReportsBadValuesWithoutLosingTheGoodOnes() {
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

    @Test
    void aLeaseSessionKeepsItsKeyAliveBeyondTheTtlAndRevokesItOnClose() throws Exception {
        LeaseSession session = result(LeaseSession.open(vertx, store, Duration.ofSeconds(2), id -> { }, () -> { }));
        result(store.put(p + "held", Item.of("held", 1), session.leaseId()));
        Thread.sleep(4500);
        assertThat(result(store.get(p + "held", Item.class))).as("kept alive past two TTLs").isPresent();
        result(session.revoke());
        assertThat(result(store.get(p + "held", Item.class))).isEmpty();
    }

    @Test
    void aLeaseSessionGrantsANewLeaseWhenTheOldOneIsRevokedBehindItsBack() throws Exception {
        List<Long> newLeases = new java.util.concurrent.CopyOnWriteArrayList<>();
        LeaseSession session = result(LeaseSession.open(vertx, store, Duration.ofSeconds(3), newLeases::add, () -> { }));
        long first = session.leaseId();
        store.client().getLeaseClient().revoke(first).get(5, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(10)).until(() -> !newLeases.isEmpty());
        assertThat(newLeases.get(0)).isNotEqualTo(first).isEqualTo(session.leaseId());
        result(session.revoke());
    }

    @Test
    void oneCandidateLeadsAndAStandbyTakesOverWhenItStepsDown() {
        String election = p + "leader";
        List<String> events = new java.util.concurrent.CopyOnWriteArrayList<>();
        LeaderElection a = new LeaderElection(vertx, store, election, "a", Duration.ofSeconds(2), listener("a", events));
        result(a.start());
        await().atMost(Duration.ofSeconds(10)).until(a::isLeader);
        LeaderElection b = new LeaderElection(vertx, store, election, "b", Duration.ofSeconds(2), listener("b", events));
        result(b.start());
        assertThat(result(b.currentLeader())).contains("a");
        Leadership old = a.leadership().orElseThrow();
        assertThat(result(store.txn().requireLeadership(old).put(p + "guarded", Item.of("g", 1)).commit()).succeeded()).isTrue();

        a.close();
        await().atMost(Duration.ofSeconds(10)).until(b::isLeader);
        assertThat(result(b.currentLeader())).contains("b");
        assertThat(events).containsSubsequence("a elected", "a deposed", "b elected");
        assertThat(result(store.txn().requireLeadership(old).put(p + "guarded", Item.of("g", 2)).commit()).succeeded())
                .as("a deposed leader's guarded write fails").isFalse();
        assertThat(result(store.txn().requireLeadership(b.leadership().orElseThrow()).put(p + "guarded", Item.of("g", 3)).commit())
                .succeeded()).isTrue();
        b.close();
        await().atMost(Duration.ofSeconds(10)).until(() -> result(b.currentLeader()).equals(Optional.empty()));
    }

    private static LeaderElection.Listener listener(String name, List<String> events) {
        return new LeaderElection.Listener() {
            @Override
            public void onElected(Leadership leadership) {
                events.add(name + " elected");
            }

            @Override
            public void onDeposed() {
                events.add(name + " deposed");
            }
        };
    }
}
