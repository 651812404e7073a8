package io.ferry.runtime.informer;

import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.RawEntry;
import io.ferry.etcd.store.Versioned;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.etcd.testing.EtcdSession;
import io.ferry.etcd.testing.Item;
import io.ferry.model.ValidationException;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import static io.ferry.etcd.testing.Await.failure;
import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Ferry against a three-member etcd, the production minimum: a component given every member's
 * endpoint keeps reading, writing and watching when any one member dies, stops writing (rather
 * than writing somewhere else) while the quorum is lost, and resumes when it returns.
 */
class EtcdClusterIT {

    static final EtcdExtension etcd = EtcdExtension.cluster(3);
    @RegisterExtension
    static final EtcdSession session = new EtcdSession(etcd);

    EtcdStore store;
    String p;

    @BeforeEach
    void connect() throws Exception {
        String prefix = session.prefix();
        store = session.store();
        p = prefix + "/items/";
    }

    @Test
    void aStoreGivenEveryMemberKeepsWritingWhicheverOneMemberDies() throws Exception {
        for (int member = 1; member <= 3; member++) {
            result(store.put(p + "before-" + member, Item.of("before-" + member, member)));
            etcd.killMember(member);
            String key = p + "without-" + member;
            long count = member;
            await().atMost(Duration.ofSeconds(30)).ignoreExceptions()
                    .until(() -> result(store.put(key, Item.of("without-" + count, count))) > 0);
            assertThat(result(store.get(p + "before-" + member, Item.class))).map(v -> v.value().count())
                    .contains((long) member);
            etcd.startMember(member);
        }
        assertThat(result(store.list(p, Item.class)).items()).hasSize(6);
    }

    @Test
    void withoutQuorumNothingIsWrittenAndWritingResumesWhenAMemberReturns() throws Exception {
        result(store.put(p + "a", Item.of("a", 1)));
        etcd.killMember(1);
        etcd.killMember(2);

        Throwable refused = failure(store.put(p + "a", Item.of("a", 2)));
        assertThat(refused).as("a write without quorum fails, it is not acknowledged").isNotNull();

        etcd.startMember(2);
        await().atMost(Duration.ofSeconds(30)).ignoreExceptions()
                .until(() -> result(store.put(p + "a", Item.of("a", 3))) > 0);
        assertThat(result(store.get(p + "a", Item.class)).orElseThrow().value().count()).isEqualTo(3);
        etcd.startMember(1);
    }

    @Test
    void anInformerKeepsDeliveringChangesWhenTheMemberItWatchesDies() throws Exception {
        Map<String, Long> seen = new ConcurrentHashMap<>();
        InformerHandler<Item> handler = new InformerHandler<>() {
            @Override
            public void onUpsert(Versioned<Item> current, Versioned<Item> previous) {
                seen.put(current.key().substring(p.length()), current.value().count());
            }

            @Override
            public void onDelete(String key, Versioned<Item> lastKnown) {
                seen.remove(key.substring(p.length()));
            }

            @Override
            public void onBadValue(RawEntry raw, ValidationException error) {
            }
        };
        Informer<Item> informer = new Informer<>(session.vertx(), store, p, Item.class, handler,
                InformerOptions.defaults().withWatchdogInterval(Duration.ofMillis(500)), new SimpleMeterRegistry());
        try {
            result(informer.start());
            for (int member = 1; member <= 3; member++) {
                etcd.killMember(member);
                String name = "after-" + member;
                long count = member;
                await().atMost(Duration.ofSeconds(30)).ignoreExceptions()
                        .until(() -> result(store.put(p + name, Item.of(name, count))) > 0);
                await().atMost(Duration.ofSeconds(30)).until(() -> seen.containsKey(name));
                etcd.startMember(member);
            }
            assertThat(seen).containsEntry("after-1", 1L).containsEntry("after-2", 2L).containsEntry("after-3", 3L);
        } finally {
            informer.close();
        }
    }
}
