package io.ferry.tools.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.ferry.controller.Controller;
import io.ferry.controller.ControllerOptions;
import io.ferry.etcd.testing.Await;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.Ledger;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeStatus;
import io.ferry.runtime.admin.AdminOptions;
import io.ferry.runtime.informer.InformerOptions;
import io.ferry.runtime.reconcile.RuntimeOptions;
import io.ferry.tools.cli.CtlShell.Result;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Issue #13: etcd restored from a backup taken before a volume was created, with {@code etcdctl snapshot
 * save} and {@code etcdctl snapshot restore} (etcd 3.4: the restored etcd is a new cluster whose revision
 * is back at the backup's). The controller and the agent keep running through it and must find their
 * way by themselves: nothing deleted, truncated, shrunk or re-created, the volume the backup does not
 * know reported as an orphan, and new volumes provisioned again.
 */
class EtcdRestoreIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    static final String NODE = "node-a";
    static final ObjectMapper JSON = new ObjectMapper();

    @RegisterExtension
    final CtlCluster local = new CtlCluster(etcd, "ferry-restore-it-", NODE);
    final CtlShell ctl = local.ctl;
    Controller controller;

    /** A controller and one file-engine agent, with the informers' production settings. */
    void startCluster() {
        controller = local.cluster.startController(new ControllerOptions("ctl-restore", Duration.ofSeconds(3),
                AdminOptions.loopback(0), InformerOptions.defaults(),
                RuntimeOptions.defaults().withDelays(Duration.ofMillis(100), Duration.ofSeconds(2)), Duration.ofMinutes(5)));
        ctl.env().put("FERRY_ADMIN", controller.adminUrl());

        local.cluster.startAgent(local.agentOptions());
        await().atMost(Duration.ofSeconds(15)).until(controller::isLeader);
    }

    /** Creates a volume, writes a pattern over its first MiB through its loop device; returns its checksum. */
    String createAndWrite(String volume) throws Exception {
        ctl.ok("volume", "create", volume, "--size", "16Mi", "--timeout", "60");
        String checksum = local.fillFirstMiB(volume);
        // Recorded as created (the placement's createdAt), so the controller and the agent know it existed.
        await().atMost(Duration.ofSeconds(15)).until(() -> local.placement(volume).filter(p -> p.createdAt() != null).isPresent());
        return checksum;
    }

    List<String> poolFiles() throws IOException {
        try (Stream<Path> files = Files.list(local.poolDir)) {
            return files.map(f -> f.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void aVolumeCreatedAfterTheBackupIsKeptAsAnOrphanOlderOnesKeepTheirDataAndProvisioningResumes() throws Exception {
        startCluster();
        ctl.ok("pool", "add", "files", "--node", NODE, "--engine", "file", "--directory", local.poolDir.toString(), "--prepare");
        await().atMost(Duration.ofSeconds(20)).until(() -> ctl.run("pool", "ls").out().contains("healthy"));
        String sumA = createAndWrite("vol-a");

        Path backup = etcd.saveSnapshot();

        String sumB = createAndWrite("vol-b");
        // A grows after the backup: the restored records say it is smaller than it is.
        assertThat(ctl.ok("volume", "resize", "vol-a", "--size", "32Mi").out()).contains("volume vol-a is 32Mi");
        await().atMost(Duration.ofSeconds(15)).until(() -> local.status("vol-a").map(VolumeStatus::sizeBytes).orElse(0L) == 32L << 20);
        assertThat(Files.size(local.poolDir.resolve("vol-a.img"))).isEqualTo(32L << 20);

        // The controller and the agent keep running while etcd is stopped and replaced by the backup.
        etcd.restoreSnapshot(backup);
        assertThat(local.placement("vol-b")).as("the backup does not know vol-b").isEmpty();
        assertThat(local.placement("vol-a").orElseThrow().sizeBytes()).as("the backup's vol-a is 16Mi").isEqualTo(16L << 20);

        // Provisioning resumes although etcd's revision went back below everything the components saw.
        Result created = ctl.run("volume", "create", "vol-c", "--size", "16Mi", "--timeout", "90");
        assertThat(created.code()).as("a volume created after the restore becomes Ready (the components' watches"
                + " resumed on the restored etcd)\n%s", created).isZero();

        // B: kept, same bytes, reported as this cluster's orphan.
        await("vol-b reported as an orphan of this cluster").atMost(Duration.ofSeconds(60)).until(() ->
                orphanOwner(local.poolDir.resolve("vol-b.img")).filter("this-cluster"::equals).isPresent());
        assertThat(local.checksum("vol-b")).as("vol-b's data").isEqualTo(sumB);
        assertThat(Files.size(local.poolDir.resolve("vol-b.img"))).isEqualTo(16L << 20);

        // A: Ready with its data, never shrunk to the backup's size nor re-created.
        await("vol-a Ready again").atMost(Duration.ofSeconds(30)).until(() ->
                local.status("vol-a").filter(s -> s.phase() == VolumePhase.READY).isPresent());
        assertThat(local.checksum("vol-a")).as("vol-a's data").isEqualTo(sumA);
        assertThat(Files.size(local.poolDir.resolve("vol-a.img"))).as("vol-a not shrunk").isEqualTo(32L << 20);
        assertThat(ctl.ok("volume", "ls").out()).containsPattern("vol-a\\s+16Mi\\s+single\\s+Ready\\s+" + NODE + "\\s+files")
                .containsPattern("vol-c\\s+16Mi\\s+single\\s+Ready\\s+" + NODE + "\\s+files").doesNotContain("vol-b");

        // No second copy of anything, and the ledger charges exactly the placements etcd now has.
        assertThat(poolFiles()).containsExactly(".ferry-pool", "vol-a.img", "vol-b.img", "vol-c.img");
        await("the ledger charges vol-a and vol-c once each").atMost(Duration.ofSeconds(30)).until(() -> {
            Ledger ledger = Await.result(local.store.get(local.keys.ledger("files"), Ledger.class)).orElseThrow().value();
            return ledger.allocatedBytes() == local.placement("vol-a").orElseThrow().sizeBytes()
                    + local.placement("vol-c").orElseThrow().sizeBytes();
        });
        assertThat(local.placement("vol-b")).as("nothing placed vol-b again").isEmpty();
        assertThat(local.checksum("vol-b")).isEqualTo(sumB);
        assertThat(local.checksum("vol-a")).isEqualTo(sumA);
        // The controller held its decisions until every informer had listed the restored etcd, so no
        // mix of the lost intent (32Mi) and the restored placement grew the placement back.
        assertThat(local.placement("vol-a").orElseThrow().sizeBytes()).as("vol-a's restored placement").isEqualTo(16L << 20);
        assertThat(adminGet("/metrics")).containsPattern("ferry_controller_rewind_holds_total [1-9]")
                .contains("ferry_controller_rewind_waiting_informers 0.0");
        assertThat(adminGet("/readyz")).contains("\"ready\":true");
    }

    String adminGet(String path) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create(controller.adminUrl() + path)).build(), HttpResponse.BodyHandlers.ofString()).body();
    }

    Optional<String> orphanOwner(Path file) throws IOException {
        Result r = ctl.run("orphan", "ls", "--node", NODE, "-o", "json");
        if (r.code() != 0) {
            return Optional.empty();
        }
        for (JsonNode row : JSON.readTree(r.out())) {
            if (row.path("orphan").path("name").asText().equals(file.toString())) {
                return Optional.of(row.path("orphan").path("owner").asText());
            }
        }
        return Optional.empty();
    }
}
