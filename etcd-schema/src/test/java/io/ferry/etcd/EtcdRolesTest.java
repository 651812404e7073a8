package io.ferry.etcd;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;

class EtcdRolesTest {

    final FerryKeys keys = new FerryKeys("/prod/ferry");
    final EtcdRoles roles = new EtcdRoles(keys);
    final List<EtcdRoles.Role> cluster = roles.all(List.of("worker-1", "worker-2"));

    static boolean covers(EtcdRoles.Grant g, String key) {
        return g.rangeEnd().isEmpty() ? g.key().equals(key) : key.compareTo(g.key()) >= 0 && key.compareTo(g.rangeEnd()) < 0;
    }

    Set<String> writers(String key) {
        Set<String> names = new TreeSet<>();
        for (EtcdRoles.Role role : cluster) {
            if (!role.name().equals(EtcdRoles.ADMIN) && role.grants().stream()
                    .anyMatch(g -> g.access() != EtcdRoles.Access.READ && covers(g, key))) {
                names.add(role.name());
            }
        }
        return names;
    }

    Set<String> readers(String key) {
        Set<String> names = new TreeSet<>();
        for (EtcdRoles.Role role : cluster) {
            if (role.grants().stream().anyMatch(g -> g.access() != EtcdRoles.Access.WRITE && covers(g, key))) {
                names.add(role.name());
            }
        }
        return names;
    }

    @Test
    void everyKeyHasItsOneWriterRoleAndTheControllerOnlyWhereEtcdCannotSayDeleteOnly() {
        String agent1 = EtcdRoles.agentRoleName("worker-1");
        String ctl = EtcdRoles.CONTROLLER;
        String csi = EtcdRoles.CSI_CONTROLLER;
        Map<String, Set<String>> expected = Map.ofEntries(
                Map.entry(keys.placement("v"), Set.of(ctl)),
                Map.entry(keys.ledger("p"), Set.of(ctl)),
                Map.entry(keys.volumeScheduling("v"), Set.of(ctl)),
                Map.entry(keys.controllerLeader() + "/694d7a1b2c3d4e5f", Set.of(ctl)),
                Map.entry(keys.workItem("worker-1", "v"), Set.of(ctl)),
                Map.entry(keys.snapshotWorkItem("worker-1", "s"), Set.of(ctl)),
                Map.entry(keys.clusterIdentity(), Set.of(ctl)),
                Map.entry(keys.keyLayout(), Set.of(ctl)),
                Map.entry(keys.event("volume", "v", "1796032800123-000001"), Set.of(ctl)),
                Map.entry(keys.attachment("v", "worker-1"), Set.of(csi)),
                // A consumer's report of its mirror: the node plugins alone (the controller only reads it).
                Map.entry(keys.mirrorReport("v", "worker-1"), Set.of(EtcdRoles.CSI_NODE)),
                // The controller deletes finished intents and agents' Deleted acknowledgements.
                Map.entry(keys.volume("v"), Set.of(csi, ctl)),
                Map.entry(keys.snapshot("s"), Set.of(csi, ctl)),
                Map.entry(keys.registration("worker-1"), Set.of(agent1, ctl)),
                Map.entry(keys.volumeStatus("worker-1", "v"), Set.of(agent1, ctl)),
                Map.entry(keys.orphanRemovalResult("worker-1", "rm-1"), Set.of(agent1, ctl)),
                // Operators' keys: only ferry-admin.
                Map.entry(keys.globalConfig(), Set.of()),
                Map.entry(keys.poolConfig("p"), Set.of()),
                Map.entry(keys.orphanRemoval("worker-1", "rm-1"), Set.of()),
                Map.entry(keys.orphanAdoption("worker-1", "a-1"), Set.of()),
                // A host's pair: its own agent; the copies for storage nodes: the controller.
                Map.entry(keys.hostSecret("worker-1"), Set.of(agent1)),
                Map.entry(keys.exportSecret("worker-1", "worker-2"), Set.of(ctl)));
        expected.forEach((key, writers) -> assertThat(writers(key)).as(key).containsExactlyInAnyOrderElementsOf(writers));
    }

    @Test
    void anAgentReadsItsOwnWorkAndOrdersButNotAnotherNodes() {
        String agent1 = EtcdRoles.agentRoleName("worker-1");
        assertThat(readers(keys.workItem("worker-1", "v"))).contains(agent1);
        assertThat(readers(keys.workItem("worker-2", "v"))).doesNotContain(agent1);
        assertThat(readers(keys.orphanRemoval("worker-1", "rm-1"))).contains(agent1);
        assertThat(readers(keys.orphanRemoval("worker-2", "rm-1"))).doesNotContain(agent1);
        assertThat(readers(keys.keyLayout())).contains(agent1, EtcdRoles.CSI_NODE);
        // A node named like a prefix of another never gets its keys.
        assertThat(writers(keys.registration("worker-10"))).doesNotContain(agent1);
    }

    @Test
    void aPrefixRangeEndsWhereEtcdctlPrefixWould() {
        assertThat(EtcdRoles.prefixEnd("/ferry/nodes/")).isEqualTo("/ferry/nodes0");
        // The CSI node plugin reads everything around the secrets (two ranges), and writes its mirror reports only.
        assertThat(roles.csiNode().grants()).extracting(EtcdRoles.Grant::describe)
                .containsExactly("[/prod/ferry/, /prod/ferry/secrets/) read", "[/prod/ferry/secrets0, /prod/ferry0) read",
                        "/prod/ferry/mirror-health/* readwrite");
    }

    @Test
    void secretsAreReadOnlyByTheControllerTheirOwnerAndTheStorageNodeTheyWereCopiedFor() {
        String agent1 = EtcdRoles.agentRoleName("worker-1");
        String agent2 = EtcdRoles.agentRoleName("worker-2");
        assertThat(readers(keys.hostSecret("worker-1")))
                .containsExactlyInAnyOrder(EtcdRoles.CONTROLLER, EtcdRoles.ADMIN, agent1);
        assertThat(readers(keys.exportSecret("worker-2", "worker-1")))
                .containsExactlyInAnyOrder(EtcdRoles.CONTROLLER, EtcdRoles.ADMIN, agent2);
        // Everything around the secrets stays readable to the CSI plugins.
        assertThat(readers(keys.volume("v"))).contains(EtcdRoles.CSI_NODE, EtcdRoles.CSI_CONTROLLER);
        assertThat(readers(keys.event("volume", "v", "1796032800123-000001"))).contains(EtcdRoles.CSI_NODE);
        assertThat(readers(keys.orphanAdoption("worker-1", "a-1"))).contains(EtcdRoles.CSI_NODE);
        assertThat(readers(keys.work("worker-1") + "volumes/v")).contains(EtcdRoles.CSI_NODE);
    }
}
