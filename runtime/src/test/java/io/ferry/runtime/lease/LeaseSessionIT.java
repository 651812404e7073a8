package io.ferry.runtime.lease;

import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.Leadership;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.etcd.testing.EtcdSession;
import io.ferry.etcd.testing.Item;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Lease sessions and leader elections against a real etcd. */
class LeaseSessionIT {

    static final EtcdExtension etcd = new EtcdExtension();
    @RegisterExtension
    static final EtcdSession etcdSession = new EtcdSession(etcd);

    EtcdStore store;
    String p;

    @BeforeEach
    void connect() {
        String prefix = etcdSession.prefix();
        store = etcdSession.store();
        p = prefix + "/items/";
    }

    @Test
    void aLeaseSessionKeepsItsKeyAliveBeyondTheTtlAndRevokesItOnClose() throws Exception {
        LeaseSession session = result(LeaseSession.open(etcdSession.vertx(), store, Duration.ofSeconds(2), id -> { }, () -> { }));
        result(store.put(p + "held", Item.of("held", 1), session.leaseId()));
        Thread.sleep(4500);
        assertThat(result(store.get(p + "held", Item.class))).as("kept alive past two TTLs").isPresent();
        result(session.revoke());
        assertThat(result(store.get(p + "held", Item.class))).isEmpty();
    }

    @Test
    void aLeaseSessionGrantsANewLeaseWhenTheOldOneIsRevokedBehindItsBack() throws Exception {
        List<Long> newLeases = new CopyOnWriteArrayList<>();
        LeaseSession session = result(LeaseSession.open(etcdSession.vertx(), store, Duration.ofSeconds(3), newLeases::add, () -> { }));
        long first = session.leaseId();
        store.client().getLeaseClient().revoke(first).get(5, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(10)).until(() -> !newLeases.isEmpty());
        assertThat(newLeases.get(0)).isNotEqualTo(first).isEqualTo(session.leaseId());
        result(session.revoke());
    }

    @Test
    void oneCandidateLeadsAndAStandbyTakesOverWhenItStepsDown() {
        String election = p + "leader";
        List<String> events = new CopyOnWriteArrayList<>();
        LeaderElection a = new LeaderElection(etcdSession.vertx(), store, election, "a", Duration.ofSeconds(2), listener("a", events));
        result(a.start());
        await().atMost(Duration.ofSeconds(10)).until(a::isLeader);
        LeaderElection b = new LeaderElection(etcdSession.vertx(), store, election, "b", Duration.ofSeconds(2), listener("b", events));
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
