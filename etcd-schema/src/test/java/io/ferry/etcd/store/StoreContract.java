package io.ferry.etcd.store;

import io.ferry.etcd.testing.Item;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;

import static io.ferry.etcd.testing.Await.failure;
import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * What every {@link Store} must do, run against each implementation: {@code EtcdStoreContractIT}
 * (a real etcd) and {@code MemoryStoreTest}. A semantic of the in-memory store that etcd does not
 * share fails here.
 */
abstract class StoreContract {

    /** The store under test; keys of one test live under {@link #p}. */
    protected abstract Store store();

    /** A prefix no other test uses, ending in a slash. */
    protected String p;

    /** Lets time pass for leases: a manual clock, or a real wait. */
    protected abstract void passTime(Duration duration) throws InterruptedException;

    @Test
    void aPutIsReadBackWithItsRevisionsAndVersionAndADeleteStartsTheKeyAfresh() {
        Store store = store();
        long first = result(store.put(p + "a", Item.of("a", 1)));
        Versioned<Item> v1 = result(store.get(p + "a", Item.class)).orElseThrow();
        assertThat(v1.value()).isEqualTo(Item.of("a", 1));
        assertThat(v1.createRevision()).isEqualTo(first);
        assertThat(v1.modRevision()).isEqualTo(first);
        assertThat(v1.version()).isEqualTo(1);

        long second = result(store.put(p + "a", Item.of("a", 2)));
        assertThat(second).isEqualTo(first + 1);
        Versioned<Item> v2 = result(store.get(p + "a", Item.class)).orElseThrow();
        assertThat(v2.createRevision()).isEqualTo(first);
        assertThat(v2.modRevision()).isEqualTo(second);
        assertThat(v2.version()).isEqualTo(2);

        assertThat(result(store.delete(p + "a"))).isTrue();
        assertThat(result(store.get(p + "a", Item.class))).isEmpty();
        assertThat(result(store.delete(p + "a"))).as("deleting a missing key").isFalse();
        long third = result(store.put(p + "a", Item.of("a", 3)));
        Versioned<Item> v3 = result(store.get(p + "a", Item.class)).orElseThrow();
        assertThat(v3.createRevision()).isEqualTo(third);
        assertThat(v3.version()).isEqualTo(1);
        assertThat(result(store.currentRevision())).isEqualTo(third);
    }

    @Test
    void aListingIsSortedByKeyAtOneRevisionAndReportsBadValuesBesideGoodOnes() {
        Store store = store();
        result(store.put(p + "b", Item.of("b", 2)));
        result(store.put(p + "a", Item.of("a", 1)));
        result(store.putRaw(p + "c", "{not json".getBytes(StandardCharsets.UTF_8)));
        result(store.put(p + "d", Item.of("d", 4)));
        result(store.put(p.substring(0, p.length() - 1) + "-beside/x", Item.of("x", 1)));

        Listing<Item> listing = result(store.list(p, Item.class));
        assertThat(listing.items()).extracting(Versioned::key).containsExactly(p + "a", p + "b", p + "d");
        assertThat(listing.badValues()).extracting(BadValueException::key).containsExactly(p + "c");
        assertThat(listing.revision()).isEqualTo(result(store.currentRevision()));
        assertThat(result(store.count(p))).isEqualTo(4);
        assertThat(result(store.deletePrefix(p))).isEqualTo(4);
        assertThat(result(store.listRaw(p)).entries()).isEmpty();
        assertThat(result(store.get(p.substring(0, p.length() - 1) + "-beside/x", Item.class))).isPresent();
    }

    @Test
    void compareAndSwapWritesOnlyOverTheRevisionItRead() {
        Store store = store();
        assertThat(result(store.putIfAbsent(p + "k", Item.of("k", 1)))).isTrue();
        assertThat(result(store.putIfAbsent(p + "k", Item.of("k", 2)))).isFalse();
        Versioned<Item> read = result(store.get(p + "k", Item.class)).orElseThrow();
        assertThat(read.value().count()).isEqualTo(1);

        assertThat(result(store.compareAndPut(p + "k", Item.of("k", 3), read.modRevision() - 1))).isFalse();
        assertThat(result(store.compareAndPut(p + "k", Item.of("k", 3), read.modRevision()))).isTrue();
        assertThat(result(store.compareAndDelete(p + "k", read.modRevision()))).as("a stale revision").isFalse();
        long now = result(store.get(p + "k", Item.class)).orElseThrow().modRevision();
        assertThat(result(store.compareAndDelete(p + "k", now))).isTrue();
        assertThat(result(store.get(p + "k", Item.class))).isEmpty();
    }

    @Test
    void aTransactionAppliesAllItsWritesAtOneRevisionOnlyWhenEveryGuardHolds() {
        Store store = store();
        result(store.put(p + "a", Item.of("a", 1)));
        Versioned<Item> a = result(store.get(p + "a", Item.class)).orElseThrow();

        TxnOutcome failed = result(store.txn().requireModRevision(p + "a", a.modRevision()).requireAbsent(p + "a")
                .put(p + "b", Item.of("b", 1)).commit());
        assertThat(failed.succeeded()).isFalse();
        assertThat(result(store.get(p + "b", Item.class))).as("no write of a failed transaction lands").isEmpty();
        assertThat(result(store.currentRevision())).isEqualTo(a.modRevision());

        TxnOutcome done = result(store.txn().requireModRevision(p + "a", a.modRevision()).requireAbsent(p + "b")
                .put(p + "b", Item.of("b", 2)).put(p + "c", Item.of("c", 2)).delete(p + "a").commit());
        assertThat(done.succeeded()).isTrue();
        assertThat(done.revision()).isEqualTo(a.modRevision() + 1);
        assertThat(result(store.get(p + "b", Item.class)).orElseThrow().modRevision()).isEqualTo(done.revision());
        assertThat(result(store.get(p + "c", Item.class)).orElseThrow().modRevision()).isEqualTo(done.revision());
        assertThat(result(store.get(p + "a", Item.class))).isEmpty();
    }

    @Test
    void aHeldViewSendsNoTransactionButStillReadsAndWrites() {
        Store view = store().holdingCommitsWhile(() -> Optional.of("the test holds it"));
        Throwable held = failure(view.txn().put(p + "t", Item.of("t", 1)).commit());
        assertThat(held).isInstanceOf(CommitHeldException.class).hasMessageContaining("the test holds it");
        assertThat(result(view.get(p + "t", Item.class))).isEmpty();
        result(view.put(p + "u", Item.of("u", 1)));
        assertThat(result(store().get(p + "u", Item.class))).isPresent();
    }

    @Test
    void aKeyBoundToALeaseGoesWhenTheLeaseIsRevokedOrExpires() throws Exception {
        Store store = store();
        long lease = result(store.grantLease(Duration.ofSeconds(2)));
        result(store.put(p + "held", Item.of("held", 1), lease));
        assertThat(result(store.get(p + "held", Item.class)).orElseThrow().leaseId()).isEqualTo(lease);
        assertThat(result(store.keepLeaseAliveOnce(lease))).isPositive();
        result(store.revokeLease(lease));
        assertThat(result(store.get(p + "held", Item.class))).isEmpty();
        assertThat(Store.isNoSuchLease(failure(store.put(p + "late", Item.of("late", 1), lease))))
                .as("a write bound to a revoked lease is refused as such").isTrue();
        assertThat(result(store.get(p + "late", Item.class))).isEmpty();

        long expiring = result(store.grantLease(Duration.ofSeconds(2)));
        result(store.put(p + "ephemeral", Item.of("e", 1), expiring));
        passTime(Duration.ofSeconds(4));
        await().atMost(Duration.ofSeconds(10)).until(() -> result(store.get(p + "ephemeral", Item.class)).isEmpty());
        AtomicReference<Boolean> gone = new AtomicReference<>();
        store.keepLeaseAliveOnce(expiring).onComplete(ar -> gone.set(ar.failed() ? Store.isNoSuchLease(ar.cause()) : ar.result() <= 0));
        await().atMost(Duration.ofSeconds(10)).until(() -> gone.get() != null);
        assertThat(gone.get()).as("an expired lease is unknown").isTrue();
    }

    @Test
    void aWatchDeliversEveryChangeUnderItsPrefixInOrderFromTheRevisionAskedFor() {
        Store store = store();
        result(store.put(p + "a1", Item.of("a1", 1)));
        long second = result(store.put(p + "a2", Item.of("a2", 1)));
        TxnOutcome txn = result(store.txn().put(p + "b", Item.of("b", 1)).delete(p + "a1").commit());
        List<String> seen = new CopyOnWriteArrayList<>();
        StoreWatch watch = store.watch(p, second, recorder(seen, new AtomicReference<>()));
        try {
            await().atMost(Duration.ofSeconds(10)).until(() -> seen.size() >= 3);
            long later = result(store.put(p + "c", Item.of("c", 1)));
            result(store.put(p.substring(0, p.length() - 1) + "-beside/x", Item.of("x", 1)));
            long deleted = result(store.put(p + "c", Item.of("c", 2))) + 1;
            result(store.delete(p + "c"));
            await().atMost(Duration.ofSeconds(10)).until(() -> seen.size() >= 6);
            assertThat(seen).containsExactly(
                    "PUT " + p + "a2@" + second,
                    "PUT " + p + "b@" + txn.revision(),
                    "DELETE " + p + "a1@" + txn.revision(),
                    "PUT " + p + "c@" + later,
                    "PUT " + p + "c@" + (deleted - 1),
                    "DELETE " + p + "c@" + deleted);
        } finally {
            watch.close();
        }
    }

    @Test
    void aWatchFromACompactedRevisionFailsWithCompactionAndOneFromTheCompactionOnWorks() {
        Store store = store();
        long first = result(store.put(p + "x", Item.of("x", 1)));
        result(store.put(p + "x", Item.of("x", 2)));
        long third = result(store.put(p + "x", Item.of("x", 3)));
        result(store.compact(third));

        AtomicReference<Throwable> error = new AtomicReference<>();
        StoreWatch stale = store.watch(p, first, recorder(new CopyOnWriteArrayList<>(), error));
        await().atMost(Duration.ofSeconds(10)).until(() -> error.get() != null);
        stale.close();
        assertThat(error.get()).isInstanceOf(CompactedRevisionException.class);

        List<String> seen = new CopyOnWriteArrayList<>();
        StoreWatch fresh = store.watch(p, third, recorder(seen, new AtomicReference<>()));
        try {
            await().atMost(Duration.ofSeconds(10)).until(() -> !seen.isEmpty());
            assertThat(seen).containsExactly("PUT " + p + "x@" + third);
        } finally {
            fresh.close();
        }
    }

    @Test
    void theFirstCandidateLeadsAndTheNextTakesOverOnlyWhenItsLeaseGoes() throws Exception {
        Store store = store();
        String election = p + "leader";
        long leaseA = result(store.grantLease(Duration.ofSeconds(30)));
        long leaseB = result(store.grantLease(Duration.ofSeconds(30)));
        Leadership a = result(store.campaign(election, leaseA, "a"));
        assertThat(a.leaseId()).isEqualTo(leaseA);
        assertThat(result(store.electionLeader(election))).contains("a");

        var b = store.campaign(election, leaseB, "b");
        Thread.sleep(300);
        assertThat(b.isComplete()).as("a second candidate waits while the first leads").isFalse();
        assertThat(result(store.txn().requireLeadership(a).put(p + "guarded", Item.of("g", 1)).commit()).succeeded()).isTrue();

        result(store.revokeLease(leaseA));
        Leadership won = result(b);
        assertThat(won.leaseId()).isEqualTo(leaseB);
        assertThat(result(store.electionLeader(election))).contains("b");
        assertThat(result(store.txn().requireLeadership(a).put(p + "guarded", Item.of("g", 2)).commit()).succeeded())
                .as("a deposed leader's guarded write fails").isFalse();
        assertThat(result(store.txn().requireLeadership(won).put(p + "guarded", Item.of("g", 3)).commit()).succeeded()).isTrue();
        result(store.revokeLease(leaseB));
        assertThat(result(store.electionLeader(election))).isEmpty();
    }

    private static WatchListener recorder(List<String> seen, AtomicReference<Throwable> error) {
        return new WatchListener() {
            @Override
            public void onChanges(long revision, List<KeyChange> changes) {
                for (KeyChange change : changes) {
                    seen.add(change.kind() + " " + change.entry().key() + "@" + change.entry().modRevision());
                }
            }

            @Override
            public void onError(Throwable e) {
                error.set(e);
            }

            @Override
            public void onCompleted() {
            }
        };
    }
}
