package io.ferry.agent;

import io.ferry.agent.engine.LoopDevices;

import io.ferry.etcd.testing.Await;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.Engine;
import io.ferry.model.OrphanReport;
import io.ferry.model.Sizes;
import io.ferry.model.VolumePhase;
import io.ferry.model.WorkItem;
import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.CommandResult;
import io.ferry.runtime.exec.CommandRunner;
import io.ferry.runtime.exec.ProcessCommandRunner;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The agent dies in the middle of an operation (right after a real command took effect, before the
 * agent could record anything) and a new agent on the same node must end in the right state with
 * nothing duplicated or leaked.
 */
class CrashSafetyIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    @RegisterExtension
    final AgentHarness h = AgentHarness.withFilePool(etcd, "files");

    /** Runs commands for real, but freezes the worker right after the first matching one, like a kill. */
    static final class FreezeAfter implements CommandRunner {
        final CommandRunner real = new ProcessCommandRunner();
        final Predicate<List<String>> match;
        final CountDownLatch happened = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);

        FreezeAfter(Predicate<List<String>> match) {
            this.match = match;
        }

        @Override
        public CommandResult execute(Command command) {
            CommandResult result = real.execute(command);
            if (match.test(command.argv()) && happened.getCount() > 0) {
                happened.countDown();
                try {
                    release.await(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                throw new IllegalStateException("the process is dead");
            }
            return result;
        }
    }

    void crashWhen(FreezeAfter runner) throws InterruptedException {
        assertThat(runner.happened.await(30, TimeUnit.SECONDS)).as("the command ran").isTrue();
        h.crash();
        runner.release.countDown();
    }

    static WorkItem work(String volume, boolean thin, long generation) {
        return WorkItem.of(volume, AgentHarness.NODE, "files", Engine.FILE, 32 * Sizes.MIB, thin, generation, null,
                null);
    }

    @Test
    void aCrashAfterTheLoopDeviceWasAttachedEndsWithExactlyOneDevicePerVolume() throws Exception {
        // The crash point is a losetup command; the ioctls share everything after the attach with it.
        FreezeAfter runner = new FreezeAfter(argv -> argv.contains("--find"));
        h.start(runner, h.options().withLoopDevices(LoopDevices.Mechanism.LOSETUP));
        h.putWork(work("vol-1", true, 1));
        crashWhen(runner);
        assertThat(h.loops()).hasSize(1);
        assertThat(h.status("vol-1").map(s -> s.phase())).isNotEqualTo(Optional.of(VolumePhase.READY));

        h.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> h.status("vol-1")
                .filter(s -> s.phase() == VolumePhase.READY).isPresent());
        assertThat(h.loops()).hasSize(1);
        assertThat(h.status("vol-1").orElseThrow().devicePath()).isEqualTo(h.loops().get(0).device());
        assertThat(h.poolFiles()).containsExactly("vol-1.img");
    }

    @Test
    void aCrashWhileTheVolumeFileWasBeingWrittenLeavesNoTemporaryFileAndNoDuplicate() throws Exception {
        FreezeAfter runner = new FreezeAfter(argv -> argv.get(0).equals("fallocate"));
        h.start(runner, h.options());
        h.putWork(work("thick-1", false, 1));
        crashWhen(runner);
        assertThat(h.poolFiles()).containsExactly(".thick-1.img.tmp");

        h.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> h.status("thick-1")
                .filter(s -> s.phase() == VolumePhase.READY).isPresent());
        assertThat(h.poolFiles()).containsExactly("thick-1.img");
        assertThat(h.loops()).hasSize(1);
    }

    @Test
    void aCrashInTheMiddleOfADeleteIsFinishedByTheNextAgent() throws Exception {
        FreezeAfter runner = new FreezeAfter(argv -> argv.contains("--detach"));
        h.start(runner, h.options().withLoopDevices(LoopDevices.Mechanism.LOSETUP));
        h.putWork(work("gone-1", true, 1));
        await().atMost(Duration.ofSeconds(30)).until(() -> h.status("gone-1")
                .filter(s -> s.phase() == VolumePhase.READY).isPresent());
        h.orderDeletion("gone-1");
        crashWhen(runner);
        assertThat(h.loops()).isEmpty();
        assertThat(h.poolFiles()).containsExactly("gone-1.img");
        assertThat(h.status("gone-1")).isPresent();

        h.start();
        h.awaitDeletedAndWithdraw("gone-1");
        await().atMost(Duration.ofSeconds(30)).until(() -> h.status("gone-1").isEmpty());
        assertThat(h.poolFiles()).isEmpty();
        assertThat(h.loops()).isEmpty();
    }

    @Test
    void aCrashAfterTheVolumeWasRemovedAndBeforeTheAcknowledgementIsAcknowledgedByTheNextAgentAndNothingIsMadeAgain()
            throws Exception {
        FreezeAfter runner = new FreezeAfter(argv -> argv.contains("--detach"));
        h.start(runner, h.options().withLoopDevices(LoopDevices.Mechanism.LOSETUP));
        h.putWork(work("gone-2", true, 1));
        await().atMost(Duration.ofSeconds(30)).until(() -> h.status("gone-2")
                .filter(s -> s.phase() == VolumePhase.READY).isPresent());
        h.orderDeletion("gone-2");
        crashWhen(runner);
        // What the dead agent was about to do next: the file goes, and it dies before acknowledging.
        Files.delete(h.poolDir.resolve("gone-2.img"));
        assertThat(h.status("gone-2").orElseThrow().phase()).as("no acknowledgement: nothing may be released yet")
                .isEqualTo(VolumePhase.READY);

        h.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> h.status("gone-2")
                .filter(s -> s.phase() == VolumePhase.DELETED && s.observedGeneration() == 2).isPresent());
        assertThat(h.poolFiles()).isEmpty();
        assertThat(h.loops()).isEmpty();
    }

    @Test
    void aRestartedAgentAdoptsExistingVolumesWithoutRecreatingThem() throws Exception {
        h.start();
        for (int i = 0; i < 5; i++) {
            h.putWork(work("keep-" + i, true, 1));
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> h.loops().size() == 5);
        await().atMost(Duration.ofSeconds(30)).until(() -> IntStream.range(0, 5).allMatch(i ->
                h.status("keep-" + i).filter(s -> s.phase() == VolumePhase.READY).isPresent()));
        List<String> devices = h.loops().stream().map(l -> l.device()).sorted().toList();
        h.crash();

        RecordingRunner recording = new RecordingRunner();
        h.start(recording, h.options());
        await().atMost(Duration.ofSeconds(10)).until(() -> Boolean.TRUE.equals(
                Await.result(h.agent().idle())));
        assertThat(h.loops().stream().map(l -> l.device()).sorted().toList()).isEqualTo(devices);
        assertThat(recording.lines()).noneMatch(l -> l.contains("--find") || l.startsWith("cp ")
                || l.contains("--detach"));
    }

    @Test
    void orphansAreReportedAndKeptWhetherOrNotAPlacementStillNamesThem() throws Exception {
        h.start();
        h.putWork(work("orphan-1", true, 1));
        h.putWork(work("orphan-2", true, 1));
        await().atMost(Duration.ofSeconds(30)).until(() -> h.loops().size() == 2
                && h.status("orphan-1").isPresent() && h.status("orphan-2").isPresent());
        h.crash();
        // As if the controller's keys were lost while the node kept its files.
        Await.result(h.store.deletePrefix(h.keys.node(AgentHarness.NODE)));
        Await.result(h.store.deletePrefix(h.keys.work(AgentHarness.NODE)));
        Await.result(h.store.delete(h.keys.placement("orphan-1")));
        Await.result(h.store.putRaw(h.keys.placement("orphan-2"),
                "{}".getBytes(StandardCharsets.UTF_8)));

        h.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> Await.result(
                h.store.get(h.keys.orphans(AgentHarness.NODE), OrphanReport.class))
                .map(v -> v.value().orphans().stream().filter(o -> o.volumeTag().equals("orphan-2")
                        && o.reason().contains("placement") || o.volumeTag().equals("orphan-1")
                        && o.reason().contains("no placement")).count() == 2).orElse(false));
        // A few more scans: still nothing deleted.
        Thread.sleep(3 * h.options().orphanInterval().toMillis());
        assertThat(h.poolFiles()).containsExactly("orphan-1.img", "orphan-2.img");
        assertThat(h.loops()).hasSize(2);
    }

    static final class RecordingRunner implements CommandRunner {
        final CommandRunner real = new ProcessCommandRunner();
        final List<String> lines = new CopyOnWriteArrayList<>();

        @Override
        public CommandResult execute(Command command) {
            lines.add(command.display());
            return real.execute(command);
        }

        List<String> lines() {
            return List.copyOf(lines);
        }
    }
}
