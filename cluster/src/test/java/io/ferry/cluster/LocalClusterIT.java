package io.ferry.cluster;

import io.ferry.agent.AgentOptions;
import io.ferry.controller.Controller;
import io.ferry.controller.ControllerOptions;
import io.ferry.etcd.EtcdRoles;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.testing.Await;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.NodeRegistration;
import io.ferry.runtime.exec.ProcessCommandRunner;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** The one way to assemble a cluster on one machine, against a real etcd. */
class LocalClusterIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    @TempDir
    Path dir;

    private AgentOptions agent(String node) {
        return AgentOptions.defaults(node, "127.0.0.1", dir.resolve(node))
                .withHostNqnFile(dir.resolve("no-hostnqn"))
                .withNvmetRoot(dir.resolve("no-nvmet"))
                .withAdmin("127.0.0.1", -1)
                .withIntervals(Duration.ofSeconds(1), Duration.ofSeconds(2));
    }

    private static boolean registered(EtcdStore store, String node) {
        return Await.result(store.get(store.keys().registration(node), NodeRegistration.class)).isPresent();
    }

    @Test
    void aPlanStartsItsControllerAndAgentsEachConnectedAsItsOwnRole() throws Exception {
        Set<String> roles = ConcurrentHashMap.newKeySet();
        LocalCluster.Access recording = (options, role) -> {
            roles.add(role);
            return options;
        };
        ClusterPlan plan = new ClusterPlan(List.of(ControllerOptions.defaults("plan-controller").withLeaseTtl(Duration.ofSeconds(3))),
                List.of(agent("node-1"), agent("node-2")), null);
        try (LocalCluster cluster = LocalCluster.start(etcd.options(EtcdExtension.uniquePrefix()), recording, plan, null)) {
            Controller controller = cluster.controller("plan-controller");
            await().atMost(Duration.ofSeconds(20)).until(controller::isLeader);
            await().atMost(Duration.ofSeconds(20)).until(() -> registered(cluster.store(), "node-1")
                    && registered(cluster.store(), "node-2"));
            assertThat(roles).containsExactlyInAnyOrder(EtcdRoles.ADMIN, EtcdRoles.CONTROLLER,
                    EtcdRoles.agentRoleName("node-1"), EtcdRoles.agentRoleName("node-2"));
        }
    }

    @Test
    void aStoppedAgentsRegistrationGoesWithItsLeaseAndTheAgentStartsAgain() {
        try (LocalCluster cluster = LocalCluster.on(etcd.options(EtcdExtension.uniquePrefix()))) {
            cluster.ensureIdentity();
            cluster.startAgent(agent("node-1").withLeaseTtl(Duration.ofSeconds(2)));
            await().atMost(Duration.ofSeconds(20)).until(() -> registered(cluster.store(), "node-1"));

            cluster.stopAgent("node-1");
            assertThat(cluster.agentRuns("node-1")).isFalse();
            await().atMost(Duration.ofSeconds(20)).until(() -> !registered(cluster.store(), "node-1"));

            cluster.startAgent(agent("node-1"));
            await().atMost(Duration.ofSeconds(20)).until(() -> registered(cluster.store(), "node-1"));
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void closingStopsEveryComponentTheLastStartedFirstEvenWhenOneFailsToStop() {
        List<String> stopped = new ArrayList<>();
        LocalCluster cluster = LocalCluster.on(etcd.options(EtcdExtension.uniquePrefix()), LocalCluster.Access.open(),
                new ProcessCommandRunner(), 1);
        assertThatThrownBy(() -> {
            cluster.startComponent("first", c -> () -> stopped.add("first"));
            cluster.startComponent("broken", c -> () -> {
                throw new IllegalStateException("cannot stop");
            });
            cluster.startComponent("last", c -> () -> stopped.add("last"));
            cluster.close();
        }).hasMessageContaining("stopping broken failed: cannot stop");
        assertThat(stopped).containsExactly("last", "first");
    }

    @Test
    void askingForAComponentThatDoesNotRunNamesWhatRuns() {
        try (LocalCluster cluster = LocalCluster.on(etcd.options(EtcdExtension.uniquePrefix()))) {
            assertThatThrownBy(() -> cluster.controller("nobody")).hasMessageContaining("no controller nobody runs");
            assertThatThrownBy(() -> cluster.stopAgent("node-9")).hasMessageContaining("no agent of node-9 runs");
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
