package io.ferry.tools.cli;

import io.ferry.agent.AgentOptions;
import io.ferry.agent.engine.LoopDevices;
import io.ferry.cluster.LocalCluster;
import io.ferry.controller.Controller;
import io.ferry.controller.ControllerOptions;
import io.ferry.etcd.EtcdOptions;
import io.ferry.etcd.EtcdRoles;
import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.testing.Await;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.DhchapKey;
import io.ferry.model.Engine;
import io.ferry.model.HostSecret;
import io.ferry.model.Ledger;
import io.ferry.model.Placement;
import io.ferry.model.HostKeyOrder;
import io.ferry.model.HostKeyStep;
import io.ferry.model.HostKeyRotation;
import io.ferry.model.HostKeyStatus;
import io.ferry.model.ServedHostKey;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeStatus;
import io.ferry.model.WorkItem;
import io.ferry.runtime.exec.ProcessCommandRunner;
import io.ferry.runtime.informer.InformerOptions;
import io.ferry.runtime.reconcile.RuntimeOptions;
import io.vertx.core.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * {@code ferryctl security} against a real etcd (TLS only, client certificates required) whose
 * authentication it turns on: every denial is etcd's own answer to a component's own user, and each
 * component still does its job under its user.
 * One etcd for the class, since authentication is a setting of the whole etcd.
 */
class SecurityIT {

    /** As in production: TLS only, client certificates required, then the roles of {@code security init}. */
    @RegisterExtension
    static final EtcdExtension etcd = EtcdExtension.secured();

    static final String NODE = "node-a";
    static final String OTHER = "node-b";
    static final String DENIED = "permission denied";

    static String prefix;
    static Path root;
    static Path credentials;
    static Map<String, String> env;
    static FerryKeys keys;
    static String firstInit;

    record Result(int code, String out, String err) {
    }

    static Result ctl(Map<String, String> environment, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = FerryCtl.run(args, environment, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Result(code, out.toString(), err.toString());
    }

    static Result ok(Map<String, String> environment, String... args) {
        Result r = ctl(environment, args);
        assertThat(r.code()).as("ferryctl %s\n%s\n%s", String.join(" ", args), r.out(), r.err()).isZero();
        return r;
    }

    @BeforeAll
    static void turnAuthenticationOn() throws IOException {
        prefix = EtcdExtension.uniquePrefix();
        root = Files.createTempDirectory("ferry-security-it-");
        credentials = root.resolve("etcd");
        env = new HashMap<>(Map.of("FERRY_ETCD_ENDPOINTS", etcd.endpoint(), "FERRY_PREFIX", prefix,
                "FERRY_ETCD_CA", etcd.caFile().toString(), "FERRY_ETCD_CERT", etcd.clientCertFile().toString(),
                "FERRY_ETCD_KEY", etcd.clientKeyFile().toString()));
        keys = new FerryKeys(prefix);
        firstInit = ok(env, "security", "init", "--credentials-dir", credentials.toString(), "--node", NODE,
                "--node", OTHER).out();
    }

    @AfterAll
    static void cleanUp() throws IOException {
        LoopDevices loops = new LoopDevices(new ProcessCommandRunner(), Duration.ofSeconds(10));
        loops.all().stream().filter(l -> l.backingFile().startsWith(root.toString()))
                .forEach(l -> loops.detach(l.device(), null));
        try (Stream<Path> s = Files.walk(root)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    static String password(String user) throws IOException {
        return Files.readString(credentials.resolve(user + ".password")).strip();
    }

    static EtcdOptions as(String user) throws IOException {
        return etcd.options(prefix).withUser(user, password(user));
    }

    static EtcdStore storeOf(String user) throws IOException {
        return EtcdStore.connect(as(user));
    }

    /** etcd's own refusal, as the component gets it. */
    static void refused(Future<?> write, String because) {
        Throwable error = Await.failure(write);
        StringBuilder messages = new StringBuilder();
        for (Throwable t = error; t != null; t = t.getCause()) {
            messages.append(t.getMessage()).append(" | ");
        }
        assertThat(messages.toString()).contains(because);
    }

    static WorkItem work(String node, String volume) {
        return WorkItem.of(volume, node, "files", Engine.FILE, 16L << 20, false, 1, null, null);
    }

    static Placement placement(String volume) {
        return Placement.of(volume, "files", NODE, Engine.FILE, 16L << 20, false, 1, null, null, null, Instant.now());
    }

    @Test
    void initCreatedAUserPerComponentAndNodeWithPrivatePasswordFilesAndARerunChangesNothing() throws Exception {
        assertThat(firstInit).contains("user ferry-controller: created", "user ferry-agent-" + NODE + ": created",
                "etcd authentication: enabled");
        List<String> users = List.of("root", EtcdRoles.CONTROLLER, EtcdRoles.CSI_CONTROLLER, EtcdRoles.CSI_NODE,
                EtcdRoles.ADMIN, EtcdRoles.agentRoleName(NODE), EtcdRoles.agentRoleName(OTHER));
        Map<String, String> before = new HashMap<>();
        for (String user : users) {
            Path file = credentials.resolve(user + ".password");
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).as(user).isEqualTo("rw-------");
            before.put(user, Files.readString(file));
        }
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(credentials))).isEqualTo("rwx------");

        // Without a user, etcd takes the client certificate's common name for one, which has no role.
        try (EtcdStore anonymous = EtcdStore.connect(etcd.options(prefix))) {
            refused(anonymous.put(keys.volume("vol-x"), "{}"), DENIED);
        }

        Result again = ok(env, "security", "init", "--credentials-dir", credentials.toString(), "--node", NODE,
                "--node", OTHER);
        assertThat(again.out().strip()).isEqualTo("no change");
        for (String user : users) {
            assertThat(Files.readString(credentials.resolve(user + ".password"))).as(user).isEqualTo(before.get(user));
        }
        // The passwords still work: nothing was changed behind the files' back.
        try (EtcdStore controller = storeOf(EtcdRoles.CONTROLLER)) {
            Await.result(controller.put(keys.placement("vol-rerun"), placement("vol-rerun")));
        }
    }

    @Test
    void anAgentWritesOnlyItsOwnNodesKeysAndNeverItsOwnWork() throws Exception {
        try (EtcdStore agent = storeOf(EtcdRoles.agentRoleName(NODE))) {
            Await.result(agent.putRaw(keys.orphans(NODE), "{}".getBytes()));
            refused(agent.putRaw(keys.orphans(OTHER), "{}".getBytes()), DENIED);
            refused(agent.put(keys.volumeStatus(OTHER, "vol-x"), "{}"), DENIED);
            refused(agent.put(keys.workItem(NODE, "vol-x"), work(NODE, "vol-x")), DENIED);
            refused(agent.put(keys.snapshotWorkItem(NODE, "snap-x"), "{}"), DENIED);
            refused(agent.put(keys.placement("vol-x"), placement("vol-x")), DENIED);
            refused(agent.put(keys.ledger("files"), "{}"), DENIED);
            refused(agent.put(keys.volume("vol-x"), "{}"), DENIED);
            // Nor can it read another node's work.
            refused(agent.getRaw(keys.workItem(OTHER, "vol-x")), DENIED);
        }
    }

    @Test
    void onlyTheControllerWritesPlacementsLedgersAndWorkAndACsiNodePluginWritesOnlyItsMirrorReports() throws Exception {
        try (EtcdStore csiNode = storeOf(EtcdRoles.CSI_NODE);
             EtcdStore csiController = storeOf(EtcdRoles.CSI_CONTROLLER);
             EtcdStore controller = storeOf(EtcdRoles.CONTROLLER)) {
            refused(csiNode.put(keys.volume("vol-y"), "{}"), DENIED);
            refused(csiNode.put(keys.attachment("vol-y", NODE), "{}"), DENIED);
            refused(csiNode.put(keys.volumeParts("vol-y"), "{}"), DENIED);
            refused(csiNode.put(keys.registration(NODE), "{}"), DENIED);
            refused(csiNode.delete(keys.volume("vol-y")), DENIED);
            assertThat(Await.result(csiNode.getRaw(keys.volume("vol-y")))).isEmpty();
            // What md says of a mirror assembled on its node, which the controller reads to finish a move.
            Await.result(csiNode.put(keys.mirrorReport("vol-y", NODE), "{}"));
            assertThat(Await.result(controller.getRaw(keys.mirrorReport("vol-y", NODE)))).isPresent();
            assertThat(Await.result(csiNode.delete(keys.mirrorReport("vol-y", NODE)))).isTrue();
            refused(csiNode.put(keys.prefix() + "/mirror-healthy", "{}"), DENIED);

            refused(csiController.put(keys.placement("vol-y"), placement("vol-y")), DENIED);
            refused(csiController.put(keys.ledger("files"), "{}"), DENIED);
            refused(csiController.put(keys.workItem(NODE, "vol-y"), work(NODE, "vol-y")), DENIED);

            Await.result(controller.txn().put(keys.placement("vol-y"), placement("vol-y"))
                    .put(keys.workItem(NODE, "vol-y"), work(NODE, "vol-y")).commit());
            refused(controller.put(keys.attachment("vol-y", NODE), "{}"), DENIED);
            refused(controller.put(keys.poolConfig("files"), "{}"), DENIED);
            Await.result(controller.txn().delete(keys.placement("vol-y")).delete(keys.workItem(NODE, "vol-y")).commit());
        }
    }

    @Test
    void secretsAreReadOnlyByTheirOwnerTheNodeTheyWereCopiedForAndTheController() throws Exception {
        HostSecret pairOfOther = HostSecret.of(OTHER, "nqn.2014-08.org.nvmexpress:uuid:bbbbbbbb-0000-4000-8000-000000000002",
                1, DhchapKey.generate(), DhchapKey.generate(), Instant.now());
        HostSecret pairOfNode = HostSecret.of(NODE, "nqn.2014-08.org.nvmexpress:uuid:aaaaaaaa-0000-4000-8000-000000000001",
                1, DhchapKey.generate(), DhchapKey.generate(), Instant.now());
        try (EtcdStore agent = storeOf(EtcdRoles.agentRoleName(NODE));
             EtcdStore otherAgent = storeOf(EtcdRoles.agentRoleName(OTHER));
             EtcdStore controller = storeOf(EtcdRoles.CONTROLLER);
             EtcdStore csiNode = storeOf(EtcdRoles.CSI_NODE);
             EtcdStore csiController = storeOf(EtcdRoles.CSI_CONTROLLER)) {
            // Each agent publishes its own host's pair, and only that.
            Await.result(agent.put(keys.hostSecret(NODE), pairOfNode));
            Await.result(otherAgent.put(keys.hostSecret(OTHER), pairOfOther));
            refused(agent.put(keys.hostSecret(OTHER), pairOfNode), DENIED);
            refused(agent.getRaw(keys.hostSecret(OTHER)), DENIED);
            refused(agent.put(keys.exportSecret(NODE, OTHER), pairOfOther), DENIED);

            // The controller reads the published pairs and copies them for a storage node.
            assertThat(Await.result(controller.get(keys.hostSecret(OTHER), HostSecret.class))).isPresent();
            Await.result(controller.put(keys.exportSecret(NODE, OTHER), pairOfOther));
            Await.result(controller.put(keys.exportSecret(OTHER, NODE), pairOfNode));
            refused(controller.put(keys.hostSecret(OTHER), pairOfOther), DENIED);

            // A storage node reads the copies made for it, and no other node's.
            assertThat(Await.result(agent.list(keys.exportSecrets(NODE), HostSecret.class)).items()).hasSize(1);
            refused(agent.getRaw(keys.exportSecret(OTHER, NODE)), DENIED);
            refused(agent.listRaw(keys.exportSecrets(OTHER)), DENIED);
            refused(agent.listRaw(keys.secrets()), DENIED);

            // The CSI plugins read everything else, and no secret.
            for (EtcdStore csi : List.of(csiNode, csiController)) {
                refused(csi.getRaw(keys.hostSecret(NODE)), DENIED);
                refused(csi.getRaw(keys.exportSecret(NODE, OTHER)), DENIED);
                refused(csi.listRaw(keys.all()), DENIED);
                assertThat(Await.result(csi.getRaw(keys.volume("vol-z")))).isEmpty();
                assertThat(Await.result(csi.getRaw(keys.workItem(NODE, "vol-z")))).isEmpty();
                Await.result(csi.listRaw(keys.volumes()));
                Await.result(csi.listRaw(keys.nodes()));
            }
            Await.result(controller.txn().delete(keys.exportSecret(NODE, OTHER)).delete(keys.exportSecret(OTHER, NODE))
                    .commit());
        }
    }

    @Test
    void keyRotationKeysAreWrittenOnlyByTheirOwnersAndAnAgentFollowsItsOwnPairByExactKey() throws Exception {
        HostKeyRotation request = HostKeyRotation.of(NODE, 2, Instant.now());
        HostKeyOrder order = HostKeyOrder.of(NODE, 2, HostKeyStep.PREPARE);
        try (EtcdStore agent = storeOf(EtcdRoles.agentRoleName(NODE));
             EtcdStore controller = storeOf(EtcdRoles.CONTROLLER);
             EtcdStore csiController = storeOf(EtcdRoles.CSI_CONTROLLER);
             EtcdStore admin = storeOf(EtcdRoles.ADMIN)) {
            // Only an operator asks for a rotation.
            refused(agent.put(keys.keyRotation(NODE), request), DENIED);
            refused(csiController.put(keys.keyRotation(NODE), request), DENIED);
            refused(controller.put(keys.keyRotation(NODE), request), DENIED);
            Await.result(admin.put(keys.keyRotation(NODE), request));
            // Only the controller orders; the agent reads its own order and no other node's.
            refused(agent.put(keys.hostKeyOrder(NODE), order), DENIED);
            refused(csiController.put(keys.hostKeyOrder(NODE), order), DENIED);
            Await.result(controller.put(keys.hostKeyOrder(NODE), order));
            assertThat(Await.result(agent.listKeyRaw(keys.hostKeyOrder(NODE))).entries()).hasSize(1);
            refused(agent.getRaw(keys.hostKeyOrder(OTHER)), DENIED);
            // An agent reports for its own node only.
            Await.result(agent.put(keys.servedHostKey(NODE, OTHER), ServedHostKey.of(OTHER, 1, Instant.now())));
            Await.result(agent.put(keys.hostKeyStatus(NODE), HostKeyStatus.of(NODE, 1, 2, 0, "", Instant.now())));
            refused(agent.put(keys.servedHostKey(OTHER, NODE), ServedHostKey.of(NODE, 1, Instant.now())), DENIED);
            refused(agent.put(keys.hostKeyStatus(OTHER), HostKeyStatus.of(OTHER, 1, 2, 0, "", Instant.now())), DENIED);
            // Its own pair is granted as one key: a range read of it is refused, the exact read is not.
            refused(agent.listRaw(keys.hostSecret(NODE)), DENIED);
            Await.result(agent.listKeyRaw(keys.hostSecret(NODE)));
            Await.result(admin.txn().delete(keys.keyRotation(NODE)).delete(keys.hostKeyOrder(NODE))
                    .delete(keys.servedHostKey(NODE, OTHER)).delete(keys.hostKeyStatus(NODE)).commit());
        }
    }

    @Test
    void addNodeAndRemoveNodeConvergeAndRemovingLeavesTheNodesKeys() throws Exception {
        String node = "node-c";
        String user = EtcdRoles.agentRoleName(node);
        assertThat(ok(env, "security", "add-node", node, "--credentials-dir", credentials.toString()).out())
                .contains("user " + user + ": created");
        assertThat(ok(env, "security", "add-node", node, "--credentials-dir", credentials.toString()).out().strip())
                .isEqualTo("no change");
        EtcdOptions options = as(user);
        try (EtcdStore agent = EtcdStore.connect(options)) {
            Await.result(agent.putRaw(keys.orphans(node), "{}".getBytes()));
        }

        Result removed = ok(env, "security", "remove-node", node, "--credentials-dir", credentials.toString());
        assertThat(removed.out()).contains("user " + user + ": deleted", "role " + user + ": deleted");
        assertThat(credentials.resolve(user + ".password")).doesNotExist();
        assertThat(ok(env, "security", "remove-node", node, "--credentials-dir", credentials.toString()).out().strip())
                .isEqualTo("no change");
        try (EtcdStore gone = EtcdStore.connect(options)) {
            refused(gone.putRaw(keys.orphans(node), "{}".getBytes()), "authentication failed");
        }
        try (EtcdStore admin = storeOf(EtcdRoles.ADMIN)) {
            assertThat(Await.result(admin.getRaw(keys.orphans(node)))).as("the node's keys are kept").isPresent();
        }
    }

    @Test
    void eachComponentDoesItsJobUnderItsOwnUser() throws Exception {
        Map<String, String> asAdmin = new HashMap<>(env);
        asAdmin.put("FERRY_ETCD_USER", EtcdRoles.ADMIN);
        asAdmin.put("FERRY_ETCD_PASSWORD_FILE", credentials.resolve(EtcdRoles.ADMIN + ".password").toString());
        ok(asAdmin, "pool", "add", "files", "--node", NODE, "--engine", "file", "--directory",
                root.resolve("pool").toString(), "--prepare");

        // Each component on a connection of its own user, as ferry up --secure runs them.
        LocalCluster.Access users = (options, role) -> {
            try {
                return as(role);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        };
        try (LocalCluster cluster = LocalCluster.on(etcd.options(prefix), users, new ProcessCommandRunner(), 1)) {
            EtcdStore admin = cluster.store();
            Controller controller = cluster.startController(new ControllerOptions("ctl-sec", Duration.ofSeconds(3), null,
                    InformerOptions.defaults(), RuntimeOptions.defaults().withDelays(Duration.ofMillis(100), Duration.ofSeconds(2)),
                    Duration.ofMinutes(5)));
            await().atMost(Duration.ofSeconds(15)).until(controller::isLeader);
            cluster.startAgent(AgentOptions.defaults(NODE, "127.0.0.1", root.resolve("state"))
                    .withHostNqnFile(root.resolve("no-hostnqn"))
                    .withNvmetRoot(root.resolve("no-nvmet"))
                    .withAdmin("127.0.0.1", -1)
                    .withIntervals(Duration.ofSeconds(1), Duration.ofSeconds(2)));
            await().atMost(Duration.ofSeconds(30)).until(() -> Await.result(admin.getRaw(keys.registration(NODE))).isPresent()
                    && Await.result(admin.getRaw(keys.nodePoolStatus(NODE, "files"))).isPresent());

            // The CSI controller's part, through ferryctl under its user: the intent.
            Map<String, String> asCsi = new HashMap<>(env);
            asCsi.put("FERRY_ETCD_USER", EtcdRoles.CSI_CONTROLLER);
            asCsi.put("FERRY_ETCD_PASSWORD_FILE", credentials.resolve(EtcdRoles.CSI_CONTROLLER + ".password").toString());
            ok(asCsi, "volume", "create", "vol-sec", "--size", "16Mi", "--no-wait");

            await().atMost(Duration.ofSeconds(30)).until(() -> Await.result(admin.get(keys.volumeStatus(NODE, "vol-sec"),
                    VolumeStatus.class)).map(v -> v.value().phase() == VolumePhase.READY).orElse(false));
            assertThat(Await.result(admin.get(keys.placement("vol-sec"), Placement.class))).isPresent();
            assertThat(Await.result(admin.get(keys.ledger("files"), Ledger.class))).isPresent();
            assertThat(Await.result(admin.get(keys.workItem(NODE, "vol-sec"), WorkItem.class))).isPresent();
            // The agent published its host's pair under its own user.
            assertThat(Await.result(admin.get(keys.hostSecret(NODE), HostSecret.class))).isPresent();
        }
    }
}
