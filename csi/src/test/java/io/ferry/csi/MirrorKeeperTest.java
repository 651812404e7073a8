package io.ferry.csi;

import io.ferry.model.MirrorReport;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Predicate;

import static org.assertj.core.api.Assertions.assertThat;

/** The keeper's loop over a node's mirrors, against a stand-in for the node's devices and a clock of its own. */
class MirrorKeeperTest {

    static final String VOLUME = "db";
    static final String LEG = "db--p1";

    long now = 0;
    final KeyedLocks locks = new KeyedLocks();
    final FakeMirrors mirrors = new FakeMirrors();
    final MirrorKeeper keeper = new MirrorKeeper(mirrors, locks, () -> now);

    static MirrorHealth health(MirrorHealth.LegState leg1) {
        return new MirrorHealth("md127", List.of(new MirrorHealth.Leg("db--p0", "dm-0", MirrorHealth.LegState.IN_SYNC),
                new MirrorHealth.Leg(LEG, "nvme0n1", leg1)), "idle", -1, 0);
    }

    static final class FakeMirrors implements MirrorKeeper.Mirrors {
        final Set<String> staged = new HashSet<>(Set.of(VOLUME));
        final Map<String, MirrorHealth> health = new HashMap<>();
        final List<String> tried = new ArrayList<>();
        final List<Integer> heldWithInSync = new ArrayList<>();
        final List<MirrorReport> written = new ArrayList<>();
        final List<String> withdrawn = new ArrayList<>();
        RuntimeException failure;
        RuntimeException etcdFailure;

        @Override
        public Set<String> stagedMirrors() {
            return Set.copyOf(staged);
        }

        @Override
        public void forgetMirror(String volume) {
            staged.remove(volume);
        }

        @Override
        public Optional<MirrorHealth> mirrorHealth(String volume) {
            if (failure != null) {
                throw failure;
            }
            return Optional.ofNullable(health.get(volume));
        }

        @Override
        public List<MirrorArrays.Repair> repairMirror(String volume, MirrorHealth health, Predicate<String> mayTry) {
            List<MirrorArrays.Repair> done = new ArrayList<>();
            for (MirrorHealth.Leg leg : health.legs()) {
                if (leg.state() != MirrorHealth.LegState.IN_SYNC && mayTry.test(leg.part())) {
                    tried.add(leg.part());
                    done.add(new MirrorArrays.Repair(leg.part(), true, "re-add tried"));
                }
            }
            return done;
        }

        @Override
        public void holdLastLeg(String volume, MirrorHealth health) {
            heldWithInSync.add((int) health.inSync());
        }

        @Override
        public Optional<MirrorReport> mirrorReport(String volume, MirrorHealth health) {
            if (!volume.equals(VOLUME)) {
                return Optional.empty();
            }
            List<MirrorReport.Leg> legs = health.legs().stream().map(l -> new MirrorReport.Leg(l.part(),
                    MirrorReport.LegState.valueOf(l.state().name()))).toList();
            return Optional.of(MirrorReport.of(volume, "node-1", "4c3b2a19-8e7d-4f6a-9b5c-0d1e2f3a4b5c", legs,
                    health.syncAction(), health.progress() < 0 ? -1 : health.progress() * 100, health.rateKibPerSecond(),
                    Instant.EPOCH));
        }

        @Override
        public void writeReport(MirrorReport report) {
            if (etcdFailure != null) {
                throw etcdFailure;
            }
            written.add(report);
        }

        @Override
        public void withdrawReport(String volume) {
            if (etcdFailure != null) {
                throw etcdFailure;
            }
            withdrawn.add(volume);
        }
    }

    void after(Duration d) {
        now += d.toNanos();
    }

    @Test
    void aLegThatKeepsFailingIsTriedEverLessOftenUpToTheCap() {
        mirrors.health.put(VOLUME, health(MirrorHealth.LegState.FAULTY));

        keeper.checkAll();
        assertThat(mirrors.tried).as("the first try is at once").containsExactly(LEG);
        after(Duration.ofSeconds(29));
        keeper.checkAll();
        assertThat(mirrors.tried).hasSize(1);
        after(Duration.ofSeconds(1));
        keeper.checkAll();
        assertThat(mirrors.tried).as("30 s after the first").hasSize(2);
        after(Duration.ofSeconds(59));
        keeper.checkAll();
        assertThat(mirrors.tried).hasSize(2);
        after(Duration.ofSeconds(1));
        keeper.checkAll();
        assertThat(mirrors.tried).as("60 s after the second").hasSize(3);
        for (int i = 0; i < 10; i++) {
            after(MirrorKeeper.MAX_RETRY);
            keeper.checkAll();
        }
        assertThat(mirrors.tried).as("never waits longer than the cap").hasSize(13);
    }

    @Test
    void aLegBackInSyncStartsItsRetriesAfresh() {
        mirrors.health.put(VOLUME, health(MirrorHealth.LegState.FAULTY));
        keeper.checkAll();
        after(Duration.ofSeconds(30));
        keeper.checkAll();
        mirrors.health.put(VOLUME, health(MirrorHealth.LegState.IN_SYNC));
        keeper.checkAll();

        mirrors.health.put(VOLUME, health(MirrorHealth.LegState.FAULTY));
        keeper.checkAll();
        assertThat(mirrors.tried).as("lost again: tried at once").hasSize(3);
    }

    @Test
    void aVolumeBeingStagedOrUnstagedIsLeftForTheNextRound() {
        mirrors.health.put(VOLUME, health(MirrorHealth.LegState.FAULTY));
        try (KeyedLocks.Held ignored = locks.lock("volume:" + VOLUME)) {
            keeper.checkAll();
            assertThat(mirrors.tried).isEmpty();
        }
        keeper.checkAll();
        assertThat(mirrors.tried).containsExactly(LEG);
    }

    @Test
    void aVolumeWhoseArrayIsGoneIsForgotten() {
        keeper.checkAll();

        assertThat(mirrors.staged).isEmpty();
    }

    @Test
    void theLastLegInSyncIsHeldAndOneVolumesFailureDoesNotStopTheOthers() {
        mirrors.staged.add("other");
        mirrors.health.put(VOLUME, health(MirrorHealth.LegState.FAULTY));
        mirrors.health.put("other", health(MirrorHealth.LegState.IN_SYNC));
        keeper.checkAll();
        assertThat(mirrors.heldWithInSync).containsExactlyInAnyOrder(1, 2);

        mirrors.failure = new IllegalStateException("sysfs gone");
        keeper.checkAll();
        mirrors.failure = null;
        keeper.checkAll();
        assertThat(mirrors.heldWithInSync).hasSize(4);
    }

    @Test
    void tryLockTakesAFreeKeyAndPassesABusyOneOn() {
        Optional<KeyedLocks.Held> first = locks.tryLock("volume:x");
        assertThat(first).isPresent();
        assertThat(locks.tryLock("volume:x")).isEmpty();
        first.get().close();
        Optional<KeyedLocks.Held> again = locks.tryLock("volume:x");
        assertThat(again).as("the turn given up by the busy attempt does not hold the key").isPresent();
        again.get().close();
    }

    // ---- the report ----

    static MirrorHealth rebuilding(double progress) {
        return new MirrorHealth("md127", List.of(new MirrorHealth.Leg("db--p0", "dm-0", MirrorHealth.LegState.IN_SYNC),
                new MirrorHealth.Leg(LEG, "nvme0n1", MirrorHealth.LegState.REBUILDING)), "recover", progress, 20480);
    }

    @Test
    void theReportIsWrittenWhenTheLegsChangeAndNotRewrittenWhileTheyDoNot() {
        mirrors.health.put(VOLUME, health(MirrorHealth.LegState.IN_SYNC));
        keeper.checkAll();
        after(Duration.ofMinutes(5));
        keeper.checkAll();
        mirrors.health.put(VOLUME, health(MirrorHealth.LegState.FAULTY));
        keeper.checkAll();
        keeper.checkAll();

        assertThat(mirrors.written).extracting(r -> r.legs().get(1).state())
                .containsExactly(MirrorReport.LegState.IN_SYNC, MirrorReport.LegState.FAULTY);
    }

    @Test
    void aSyncsProgressIsRewrittenAtMostEveryTenSeconds() {
        mirrors.health.put(VOLUME, rebuilding(0.10));
        keeper.checkAll();
        after(Duration.ofSeconds(5));
        mirrors.health.put(VOLUME, rebuilding(0.20));
        keeper.checkAll();
        assertThat(mirrors.written).as("moved, but 5 s after the last write").hasSize(1);

        after(Duration.ofSeconds(5));
        keeper.checkAll();
        after(Duration.ofSeconds(30));
        keeper.checkAll();
        assertThat(mirrors.written).as("10 s on, then no further progress").extracting(MirrorReport::syncPercent)
                .containsExactly(10.0, 20.0);

        mirrors.health.put(VOLUME, health(MirrorHealth.LegState.IN_SYNC));
        keeper.checkAll();
        assertThat(mirrors.written).as("the sync's end is a change of the legs: at once").hasSize(3);
    }

    @Test
    void aReportEtcdDidNotTakeIsWrittenInTheNextRoundAndTheLegsAreStillLookedAfter() {
        mirrors.health.put(VOLUME, health(MirrorHealth.LegState.FAULTY));
        mirrors.etcdFailure = new IllegalStateException("etcd unavailable");
        keeper.checkAll();
        assertThat(mirrors.written).isEmpty();
        assertThat(mirrors.tried).containsExactly(LEG);

        mirrors.etcdFailure = null;
        keeper.checkAll();
        assertThat(mirrors.written).hasSize(1);
    }

    @Test
    void aForgottenMirrorsReportIsWithdrawnAndRetriedUntilEtcdConfirms() {
        mirrors.health.put(VOLUME, health(MirrorHealth.LegState.IN_SYNC));
        keeper.checkAll();
        mirrors.health.remove(VOLUME);
        mirrors.etcdFailure = new IllegalStateException("etcd unavailable");
        keeper.checkAll();
        assertThat(mirrors.staged).isEmpty();

        mirrors.etcdFailure = null;
        keeper.checkAll();
        keeper.checkAll();
        assertThat(mirrors.withdrawn).as("once confirmed, not again").containsExactly(VOLUME);
    }

    @Test
    void anUnstagedMirrorsReportIsWithdrawnAndWrittenAfreshWhenItIsStagedAgain() {
        mirrors.health.put(VOLUME, health(MirrorHealth.LegState.IN_SYNC));
        keeper.checkAll();
        mirrors.etcdFailure = new IllegalStateException("etcd unavailable");
        keeper.forget(VOLUME);
        assertThat(mirrors.staged).isEmpty();

        // Staged again before etcd came back: the pending withdrawal must not remove the new report.
        mirrors.etcdFailure = null;
        mirrors.staged.add(VOLUME);
        keeper.checkAll();

        assertThat(mirrors.withdrawn).isEmpty();
        assertThat(mirrors.written).as("the same legs, written again after the unstage").hasSize(2);
    }
}
