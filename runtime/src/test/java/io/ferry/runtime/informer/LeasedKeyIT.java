package io.ferry.runtime.informer;

import io.ferry.etcd.store.EtcdStore;
import io.ferry.runtime.lease.LeaseSession;
import io.ferry.etcd.store.Versioned;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.etcd.testing.Item;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** A key kept bound to a lease, against a real etcd that loses, deletes and overwrites it. */
class LeasedKeyIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    /** Long enough that no keep-alive notices a lost lease within a test: only the key's writes can. */
    static final Duration LONG_TTL = Duration.ofSeconds(30);
    static final Item MINE = Item.of("mine", 1);

    Vertx vertx;
    Context context;
    EtcdStore store;
    String key;
    LeaseSession session;
    LeasedKey<Item> kept;

    @BeforeEach
    void setUp() {
        vertx = Vertx.vertx();
        context = vertx.getOrCreateContext();
        store = EtcdStore.connect(etcd.options(EtcdExtension.uniquePrefix()));
        key = store.keys().registration("n1");
    }

    @AfterEach
    void tearDown() {
        if (kept != null) {
            onContext(() -> {
                kept.close();
                return session.revoke();
            });
        }
        store.close();
        result(vertx.close());
    }

    <T> T onContext(Supplier<Future<T>> action) {
        Promise<T> done = Promise.promise();
        context.runOnContext(v -> action.get().onComplete(done));
        return result(done.future());
    }

    void openSession() {
        AtomicReference<LeasedKey<Item>> ref = new AtomicReference<>();
        session = onContext(() -> LeaseSession.open(vertx, store, LONG_TTL, lease -> ref.get().leaseChanged(), () -> { }));
        kept = new LeasedKey<>(vertx, store, session, key, Item.class, InformerOptions.defaults(), null);
        ref.set(kept);
    }

    Optional<Versioned<Item>> stored() {
        return result(store.get(key, Item.class));
    }

    /** Within a fifth of the TTL: before any keep-alive could have noticed a lost lease. */
    void awaitKeptOnCurrentLease() {
        await().atMost(Duration.ofSeconds(6)).until(() -> kept.present()
                && stored().filter(v -> v.value().equals(MINE) && v.leaseId() == session.leaseId()).isPresent());
    }

    @Test
    void aLeaseThatExpiredBeforeTheFirstWriteIsReplacedAtTheFirstRefusalNotRetriedForever() throws Exception {
        openSession();
        long stale = session.leaseId();
        // What a start-up stalled for longer than the TTL looks like: the lease is gone before the key is written.
        store.client().getLeaseClient().revoke(stale).get(5, TimeUnit.SECONDS);

        context.runOnContext(v -> kept.start(MINE)); // completes only once the key is in etcd: not waited for here

        awaitKeptOnCurrentLease();
        assertThat(session.leaseId()).isNotEqualTo(stale).isNotZero();
    }

    @Test
    void theKeyIsWrittenAgainAfterADeleteAnOverwriteAMalformedValueAndARevokedLease() throws Exception {
        openSession();
        onContext(() -> kept.start(MINE));
        awaitKeptOnCurrentLease();

        result(store.delete(key));
        awaitKeptOnCurrentLease();

        result(store.put(key, Item.of("impostor", 9)));
        awaitKeptOnCurrentLease();

        result(store.putRaw(key, "{\"name\": ".getBytes(StandardCharsets.UTF_8)));
        awaitKeptOnCurrentLease();

        long before = session.leaseId();
        store.client().getLeaseClient().revoke(before).get(5, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(10)).until(() -> session.leaseId() != before && session.leaseId() != 0);
        awaitKeptOnCurrentLease();
    }

    @Test
    void aNewValueReplacesTheOldOneAndPresentFollowsEtcdNotTheWrite() {
        openSession();
        onContext(() -> kept.start(MINE));
        awaitKeptOnCurrentLease();

        Item changed = Item.of("mine", 2);
        onContext(() -> {
            kept.set(changed);
            return Future.succeededFuture();
        });
        await().atMost(Duration.ofSeconds(10)).until(() -> kept.present()
                && stored().filter(v -> v.value().equals(changed)).isPresent());
    }
}
