package io.ferry.agent;

import io.ferry.etcd.store.Versioned;
import io.ferry.etcd.testing.Await;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.NodeRegistration;
import io.ferry.runtime.exec.ProcessCommandRunner;
import io.vertx.core.VertxOptions;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * An agent's registration is its liveness: it must be in etcd, on the agent's current lease, for as
 * long as the agent runs, whatever happened to the key or the lease, and {@code /readyz} must say
 * whether it is.
 */
class AgentRegistrationIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    static final Duration TTL = Duration.ofSeconds(2);

    @RegisterExtension
    final AgentHarness h = new AgentHarness(etcd);
    final HttpClient http = HttpClient.newHttpClient();


    Optional<Versioned<NodeRegistration>> registration() {
        return Await.result(h.store.get(h.keys.registration(AgentHarness.NODE), NodeRegistration.class));
    }

    int readyz(Agent agent) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + agent.adminPort() + "/readyz")).build(),
                HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    /** The leases etcd holds now (jetcd 0.8.7 cannot list them; etcdctl can). */
    Set<Long> leases() {
        return etcd.etcdctl("lease", "list").lines().skip(1).map(String::strip).filter(l -> !l.isEmpty())
                .map(hex -> Long.parseUnsignedLong(hex, 16)).collect(Collectors.toSet());
    }

    /** Registered, on a lease etcd still has, with this agent's own values, and ready. */
    void awaitRegistered(Agent agent) {
        await().atMost(Duration.ofSeconds(15)).until(() -> {
            Optional<Versioned<NodeRegistration>> reg = registration();
            return reg.isPresent() && leases().contains(reg.get().leaseId())
                    && reg.get().value().hostNqn().equals(agent.hostNqn()) && readyz(agent) == 200;
        });
    }

    @Test
    void anAgentWhoseEventLoopStallsPastItsLeaseWhileStartingEndsRegisteredOnANewLease() throws Exception {
        // One event loop for everything, so that a task stalling it stalls the agent, as class loading
        // on the event loop did under an emulated CPU (17-18 s against a 10 s lease).
        VertxOptions oneLoop = new VertxOptions().setEventLoopPoolSize(1).setBlockedThreadCheckInterval(60_000);
        Set<Long> before = leases();
        Thread starter = new Thread(() -> h.start(new ProcessCommandRunner(), h.options().withLeaseTtl(TTL), oneLoop));
        starter.start();
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(5))
                .until(() -> !before.containsAll(leases()));
        long granted = leases().stream().filter(id -> !before.contains(id)).findFirst().orElseThrow();
        h.vertx().runOnContext(v -> sleep(TTL.multipliedBy(3)));

        starter.join(60_000);
        Agent agent = h.agent();
        assertThat(agent).as("the agent finished starting").isNotNull();
        awaitRegistered(agent);
        assertThat(registration().orElseThrow().leaseId()).as("moved off the lease that expired").isNotEqualTo(granted);
        assertThat(leases()).doesNotContain(granted);
    }

    @Test
    void aRegistrationDeletedOverwrittenOrTakenAwayByADuplicateIsWrittenAgain() throws Exception {
        Agent agent = h.start(new ProcessCommandRunner(), h.options().withLeaseTtl(TTL));
        awaitRegistered(agent);
        String key = h.keys.registration(AgentHarness.NODE);

        // The registration names the machine by the kernel's boot id, as every agent here does.
        assertThat(registration().orElseThrow().value().machineId()).isEqualTo(MachineId.resolve(null, MachineId.BOOT_ID));

        Await.result(h.store.delete(key));
        awaitRegistered(agent);

        // A second agent started by mistake under the same name writes its own registration on its own
        // lease, fails, and its lease takes the key with it.
        long duplicateLease = h.store.client().getLeaseClient().grant(60).get(5, TimeUnit.SECONDS).getID();
        NodeRegistration duplicate = NodeRegistration.of(AgentHarness.NODE, "10.9.9.9", null,
                "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-00000000dead", Set.of(), Map.of(),
                "0.0.0", Instant.now());
        Await.result(h.store.put(key, duplicate, duplicateLease));
        awaitRegistered(agent);
        h.store.client().getLeaseClient().revoke(duplicateLease).get(5, TimeUnit.SECONDS);
        awaitRegistered(agent);

        long current = registration().orElseThrow().leaseId();
        h.store.client().getLeaseClient().revoke(current).get(5, TimeUnit.SECONDS);
        awaitRegistered(agent);
        assertThat(registration().orElseThrow().leaseId()).isNotEqualTo(current);
    }

    static void sleep(Duration d) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
