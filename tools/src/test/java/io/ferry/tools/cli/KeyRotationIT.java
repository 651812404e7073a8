package io.ferry.tools.cli;

import io.ferry.agent.Agent;
import io.ferry.agent.AgentOptions;
import io.ferry.agent.engine.LoopDevices;
import io.ferry.controller.Controller;
import io.ferry.controller.ControllerOptions;
import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.KeyChange;
import io.ferry.etcd.store.StoreWatch;
import io.ferry.etcd.store.WatchListener;
import io.ferry.etcd.store.Versioned;
import io.ferry.etcd.testing.Await;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.Attachment;
import io.ferry.model.HostKeyOrder;
import io.ferry.model.HostKeyStatus;
import io.ferry.model.HostSecret;
import io.ferry.model.NodeRegistration;
import io.ferry.model.ServedHostKey;
import io.ferry.model.VolumeStatus;
import io.ferry.runtime.auth.HostKeyFile;
import io.ferry.runtime.exec.ProcessCommandRunner;
import io.ferry.runtime.informer.InformerOptions;
import io.ferry.runtime.reconcile.RuntimeOptions;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
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
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * {@code ferryctl security rotate-keys} across a real etcd, the controller and two agents: node-a
 * exports a volume to node-b (a plain tree stands in for node-a's configfs, another for node-b's
 * {@code /sys/class/nvme} with one live controller of node-b and one of another host).
 */
class KeyRotationIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    static final String STORAGE = "node-a";
    static final String CONSUMER = "node-b";
    static final String OTHER_NQN = "nqn.2014-08.org.nvmexpress:uuid:0e0e0e0e-0000-4000-8000-000000000009";

    Path root;
    String prefix;
    Map<String, String> env;
    EtcdStore store;
    FerryKeys keys;
    Vertx controllerVertx;
    EtcdStore controllerStore;
    Controller controller;
    Vertx storageVertx;
    Vertx consumerVertx;
    Path nvmet;
    Path sys;
    String consumerNqn;

    record Result(int code, String out) {
    }

    Result ctl(String... args) {
        StringWriter out = new StringWriter();
        int code = FerryCtl.run(args, env, new PrintWriter(out, true), new PrintWriter(out, true));
        return new Result(code, out.toString());
    }

    @BeforeEach
    void setUp() throws Exception {
        prefix = EtcdExtension.uniquePrefix();
        root = Files.createTempDirectory("ferry-rotation-it-");
        env = Map.of("FERRY_ETCD_ENDPOINTS", etcd.endpoint(), "FERRY_PREFIX", prefix);
        store = EtcdStore.connect(etcd.options(prefix));
        keys = store.keys();
        nvmet = root.resolve("nvmet");
        Files.createDirectories(nvmet.resolve("subsystems"));
        Files.createDirectories(nvmet.resolve("ports"));
        sys = root.resolve("sys");
        Files.createDirectories(sys);
        assertThat(ctl("pool", "add", "files", "--node", STORAGE, "--engine", "file", "--directory",
                root.resolve("pool").toString(), "--prepare").code()).isZero();
        controllerVertx = Vertx.vertx();
        controllerStore = EtcdStore.connect(etcd.options(prefix));
        controller = new Controller(controllerVertx, controllerStore, new ControllerOptions("ctl-rot", Duration.ofSeconds(3),
                null, InformerOptions.defaults().withWatchdogInterval(Duration.ofSeconds(2)), RuntimeOptions.defaults()
                .withDelays(Duration.ofMillis(100), Duration.ofSeconds(2)), Duration.ofMinutes(5)),
                new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
        Await.result(controller.start());
        await().atMost(Duration.ofSeconds(15)).until(controller::isLeader);
    }

    @AfterEach
    void tearDown() throws IOException {
        stopStorage();
        stopConsumer();
        Await.result(controller.stop());
        controllerStore.close();
        Await.result(controllerVertx.close());
        store.close();
        LoopDevices loops = new LoopDevices(new ProcessCommandRunner(), Duration.ofSeconds(10));
        loops.all().stream().filter(l -> l.backingFile().startsWith(root.toString()))
                .forEach(l -> loops.detach(l.device(), null));
        try (Stream<Path> s = Files.walk(root)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    AgentOptions options(String node) {
        return AgentOptions.defaults(node, "127.0.0.1", root.resolve(node))
                .withHostNqnFile(root.resolve("no-hostnqn"))
                .withNvmetRoot(node.equals(STORAGE) ? nvmet : root.resolve("no-nvmet"))
                .withNvmeSysfsRoot(node.equals(CONSUMER) ? sys : root.resolve("no-sys"))
                .withAdmin("127.0.0.1", -1)
                .withIntervals(Duration.ofSeconds(1), Duration.ofSeconds(2))
                // Two machines: agents of one machine share its devices, and nothing is exported between them.
                .withMachineId("machine-" + node);
    }

    void startStorage() {
        storageVertx = Vertx.vertx();
        Await.result(storageVertx.deployVerticle(new Agent(options(STORAGE), etcd.options(prefix), new ProcessCommandRunner())));
    }

    void stopStorage() {
        if (storageVertx != null) {
            Await.result(storageVertx.close());
            storageVertx = null;
        }
    }

    void startConsumer() {
        consumerVertx = Vertx.vertx();
        Await.result(consumerVertx.deployVerticle(new Agent(options(CONSUMER), etcd.options(prefix), new ProcessCommandRunner())));
    }

    void stopConsumer() {
        if (consumerVertx != null) {
            Await.result(consumerVertx.close());
            consumerVertx = null;
        }
    }

    Path keyFile() {
        return root.resolve(CONSUMER).resolve(HostKeyFile.FILE_NAME);
    }

    Path hostEntry() {
        return nvmet.resolve("hosts").resolve(consumerNqn);
    }

    static String read(Path file) {
        try {
            return Files.readString(file).strip();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    Optional<HostKeyStatus> consumerStatus() {
        return Await.result(store.get(keys.hostKeyStatus(CONSUMER), HostKeyStatus.class)).map(Versioned::value);
    }

    long published() {
        return Await.result(store.get(keys.hostSecret(CONSUMER), HostSecret.class)).orElseThrow().value().generation();
    }

    /** node-b's agent up, node-a's host entry for it made like configfs would, node-a exporting a volume to it. */
    HostKeyFile.Pair exportedWithLiveController() throws IOException {
        startConsumer();
        await().atMost(Duration.ofSeconds(30)).until(() -> Await.result(store.get(keys.registration(CONSUMER),
                NodeRegistration.class)).isPresent() && consumerStatus().isPresent());
        consumerNqn = Await.result(store.get(keys.registration(CONSUMER), NodeRegistration.class)).orElseThrow().value().hostNqn();
        for (String attr : new String[] {"dhchap_key", "dhchap_ctrl_key", "dhchap_hash", "dhchap_dhgroup"}) {
            Files.createDirectories(hostEntry());
            Files.writeString(hostEntry().resolve(attr), "");
        }
        HostKeyFile.Pair first = HostKeyFile.read(keyFile()).orElseThrow();
        controller(0, consumerNqn, first.hostKey().value(), first.ctrlKey().value());
        controller(1, OTHER_NQN, "DHHC-1:00:another-hosts-secret:", "none");
        startStorage();
        assertThat(ctl("volume", "create", "vol-r", "--size", "16Mi", "--no-wait").code()).isZero();
        Await.result(store.put(keys.attachment("vol-r", CONSUMER), Attachment.of("vol-r", CONSUMER, consumerNqn, false,
                Instant.now())));
        await().atMost(Duration.ofSeconds(40)).untilAsserted(() -> assertThat(Await.result(store.get(
                keys.volumeStatus(STORAGE, "vol-r"), VolumeStatus.class)).map(v -> v.value().export() != null).orElse(false))
                .as("exported; etcd holds %s", dump()).isTrue());
        assertThat(read(hostEntry().resolve("dhchap_key"))).isEqualTo(first.hostKey().value());
        return first;
    }

    /** Every key but the secrets, with its value: what a failed wait shows. */
    String dump() {
        StringBuilder all = new StringBuilder();
        for (var e : Await.result(store.listRaw(keys.all())).entries()) {
            if (!e.key().startsWith(keys.secrets())) {
                all.append('\n').append(e.key()).append(' ').append(new String(e.value()));
            }
        }
        return all.toString();
    }

    void controller(int n, String hostNqn, String secret, String ctrlSecret) throws IOException {
        Path dir = sys.resolve("nvme" + n);
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("hostnqn"), hostNqn + "\n");
        Files.writeString(dir.resolve("dhchap_secret"), secret + "\n");
        Files.writeString(dir.resolve("dhchap_ctrl_secret"), ctrlSecret + "\n");
    }

    /**
     * The rotation's keys as they changed since {@code fromRevision}, in etcd's order, one line a
     * change: {@code order <step>}, {@code published <generation>/<host key generation>},
     * {@code served ...} (node-a's report) and {@code status <generation>} (the host's), up to the
     * host reporting {@code generation}.
     */
    List<String> timeline(long fromRevision, long generation) {
        List<String> seen = new CopyOnWriteArrayList<>();
        try (StoreWatch watch = store.watch(keys.all(), fromRevision, new WatchListener() {
            @Override
            public void onChanges(long revision, List<KeyChange> changes) {
                for (KeyChange change : changes) {
                    String key = change.entry().key();
                    if (change.kind() != KeyChange.Kind.PUT) {
                        continue;
                    }
                    if (key.equals(keys.hostKeyOrder(CONSUMER))) {
                        seen.add("order " + store.decode(change.entry(), HostKeyOrder.class).value().step());
                    } else if (key.equals(keys.hostSecret(CONSUMER))) {
                        HostSecret p = store.decode(change.entry(), HostSecret.class).value();
                        seen.add("published " + p.generation() + "/" + p.hostKeyGeneration());
                    } else if (key.equals(keys.servedHostKey(STORAGE, CONSUMER))) {
                        ServedHostKey p = store.decode(change.entry(), ServedHostKey.class).value();
                        seen.add("served " + p.generation() + "/" + p.hostKeyGeneration());
                    } else if (key.equals(keys.hostKeyStatus(CONSUMER))) {
                        seen.add("status " + store.decode(change.entry(), HostKeyStatus.class).value().generation());
                    }
                }
            }

            @Override
            public void onError(Throwable error) {
                seen.add("error " + error);
            }

            @Override
            public void onCompleted() {
            }
        })) {
            await().atMost(Duration.ofSeconds(20)).until(() -> seen.contains("status " + generation));
        }
        return List.copyOf(seen);
    }

    static void assertBefore(List<String> timeline, String earlier, String later) {
        assertThat(timeline).as("timeline").contains(earlier, later);
        assertThat(timeline.indexOf(earlier)).as("%s before %s in %s", earlier, later, timeline)
                .isLessThan(timeline.indexOf(later));
    }

    @Test
    void rotateKeysMovesTargetsAndLiveControllersOneKeyAtATimeAndDropsTheOldGenerationWithoutPrintingAKey()
            throws Exception {
        HostKeyFile.Pair first = exportedWithLiveController();
        long before = Await.result(store.currentRevision());

        Result rotated = ctl("security", "rotate-keys", CONSUMER, "--timeout", "60");
        assertThat(rotated.code()).as(rotated.out()).isZero();
        assertThat(rotated.out()).contains("generation 2", STORAGE + " serves generation 2");

        // Each live key write must meet targets that already serve the pair the host holds after it.
        List<String> timeline = timeline(before + 1, 2);
        assertBefore(timeline, "published 2/1", "served 2/1");
        assertBefore(timeline, "served 2/1", "order switchCtrlKey");
        assertBefore(timeline, "order switchCtrlKey", "published 2/2");
        assertBefore(timeline, "published 2/2", "served 2/2");
        assertBefore(timeline, "served 2/2", "order switchHostKey");
        assertBefore(timeline, "order switchHostKey", "status 2");
        assertThat(timeline).as("the controller key goes first: no order skips the middle step")
                .filteredOn(line -> line.startsWith("order")).containsExactly("order prepare", "order switchCtrlKey",
                        "order switchHostKey");

        HostKeyFile.Generations now = HostKeyFile.readGenerations(keyFile()).orElseThrow();
        assertThat(now.current().generation()).isEqualTo(2);
        assertThat(now.next()).isEmpty();
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(keyFile()))).isEqualTo("rw-------");
        HostKeyFile.Pair second = now.current();
        assertThat(read(hostEntry().resolve("dhchap_key"))).isEqualTo(second.hostKey().value());
        assertThat(read(hostEntry().resolve("dhchap_ctrl_key"))).isEqualTo(second.ctrlKey().value());
        assertThat(read(sys.resolve("nvme0").resolve("dhchap_secret"))).isEqualTo(second.hostKey().value());
        assertThat(read(sys.resolve("nvme0").resolve("dhchap_ctrl_secret"))).isEqualTo(second.ctrlKey().value());
        assertThat(read(sys.resolve("nvme1").resolve("dhchap_secret"))).as("another host's controller is left alone")
                .isEqualTo("DHHC-1:00:another-hosts-secret:");
        assertThat(published()).isEqualTo(2);
        assertThat(Await.result(store.get(keys.servedHostKey(STORAGE, CONSUMER), ServedHostKey.class)).orElseThrow()
                .value().generation()).isEqualTo(2);
        assertThat(consumerStatus().orElseThrow().liveControllers()).isEqualTo(1);
        String everything = rotated.out() + new String(Await.result(store.listRaw(keys.nodes())).entries().stream()
                .map(e -> new String(e.value())).reduce("", String::concat));
        for (HostKeyFile.Pair pair : new HostKeyFile.Pair[] {first, second}) {
            assertThat(everything).doesNotContain(pair.hostKey().value()).doesNotContain(pair.ctrlKey().value());
        }

        Result again = ctl("security", "rotate-keys", CONSUMER, "--timeout", "60");
        assertThat(again.code()).as(again.out()).isZero();
        assertThat(HostKeyFile.read(keyFile()).orElseThrow().generation()).isEqualTo(3);
    }

    @Test
    void aRotationWaitsForADownStorageNodeKeepsTheOldKeyWorkingAndSurvivesAConsumerRestart() throws Exception {
        HostKeyFile.Pair first = exportedWithLiveController();
        stopStorage();

        Result requested = ctl("security", "rotate-keys", CONSUMER, "--no-wait");
        assertThat(requested.code()).as(requested.out()).isZero();
        await().atMost(Duration.ofSeconds(30)).until(() -> published() == 2);
        HostKeyFile.Generations both = HostKeyFile.readGenerations(keyFile()).orElseThrow();
        assertThat(both.current()).isEqualTo(first);
        assertThat(both.next()).map(HostKeyFile.Pair::generation).contains(2L);
        Result waiting = ctl("security", "rotate-keys", CONSUMER, "--timeout", "2");
        assertThat(waiting.code()).as(waiting.out()).isEqualTo(ExitCodes.TIMEOUT);
        assertThat(waiting.out()).contains("already under way", STORAGE + " serves generation 1", "has published 2");
        assertThat(read(sys.resolve("nvme0").resolve("dhchap_secret"))).as("the live controller keeps the old key")
                .isEqualTo(first.hostKey().value());
        assertThat(read(hostEntry().resolve("dhchap_key"))).as("the down target still admits the old key")
                .isEqualTo(first.hostKey().value());

        // The consumer restarts mid-rotation: it publishes the next pair it kept, not a third one.
        stopConsumer();
        startConsumer();
        await().atMost(Duration.ofSeconds(30)).until(() -> consumerStatus().map(s -> s.pending() == 2).orElse(false));
        assertThat(HostKeyFile.readGenerations(keyFile()).orElseThrow()).isEqualTo(both);

        startStorage();
        await().atMost(Duration.ofSeconds(40)).until(() -> consumerStatus().map(s -> s.generation() == 2).orElse(false));
        HostKeyFile.Pair second = both.next().orElseThrow();
        assertThat(HostKeyFile.readGenerations(keyFile()).orElseThrow().next()).isEmpty();
        assertThat(read(hostEntry().resolve("dhchap_key"))).isEqualTo(second.hostKey().value());
        assertThat(read(sys.resolve("nvme0").resolve("dhchap_secret"))).isEqualTo(second.hostKey().value());
    }
}
