package io.ferry.agent;

import io.ferry.model.Condition;
import io.ferry.model.FailureReason;
import io.ferry.model.ProgressReason;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeStatus;
import io.ferry.model.WorkItem;
import io.vertx.core.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.Optional;

/**
 * How the agent reads and writes one volume's status: the last one it wrote (else the watch's),
 * a phase with its Ready condition that keeps what is known of the volume, and a typed failure.
 */
final class VolumeStatuses {

    private static final Logger log = LoggerFactory.getLogger(VolumeStatuses.class);

    private final NodeContext ctx;
    private final StatusWriter statuses;

    VolumeStatuses(NodeContext ctx, StatusWriter statuses) {
        this.ctx = ctx;
        this.statuses = statuses;
    }

    /**
     * A volume's status as this agent last wrote it, else as the watch has it. The dependents of a
     * volume found again are retried right after its Ready is written, before the watch brings that
     * back: the cache's Lost would fail them again, for good (a terminal SourceLost).
     */
    static Optional<VolumeStatus> latestStatus(NodeContext ctx, StatusWriter statuses, String volume) {
        Optional<VolumeStatus> written = statuses.last(ctx.keys.volumeStatus(ctx.node, volume));
        return written.isPresent() ? written : ctx.volumeStatus(volume);
    }

    /**
     * Whether a status records a volume that was created: it had a size (only a created volume has
     * one) or was already found lost. A {@code Deleted} status belongs to a previous volume of the name.
     */
    static boolean wasCreated(VolumeStatus status) {
        return status.phase() == VolumePhase.LOST
                || status.phase() != VolumePhase.DELETED && status.sizeBytes() > 0;
    }

    Optional<VolumeStatus> current(String volume) {
        return latestStatus(ctx, statuses, volume);
    }

    /** A Failed status whose Ready condition is the typed failure for the work item's generation, attempts counted on. */
    Future<Boolean> failed(WorkItem item, FailureReason reason, String message) {
        Optional<VolumeStatus> previous = current(item.volume());
        String text = StatusMessages.truncate(message);
        return write(item.volume(), VolumePhase.FAILED, previous, text, Condition.failedAgain(Condition.READY,
                reason, text, item.generation(), conditionsOf(previous)));
    }

    static Condition progressing(WorkItem item) {
        return Condition.progress(Condition.READY, ProgressReason.PROGRESSING, null, item.generation());
    }

    static List<Condition> conditionsOf(Optional<VolumeStatus> status) {
        return status.map(VolumeStatus::conditions).orElse(List.of());
    }

    /** Writes a phase with its Ready condition, keeping what is known of the volume (device, size, export, generation). */
    Future<Boolean> write(String volume, VolumePhase phase, Optional<VolumeStatus> previous,
            String message, Condition ready) {
        VolumeStatus p = previous.orElse(null);
        String pool = ctx.workItem(volume).map(WorkItem::pool).orElse(p == null ? null : p.pool());
        VolumeStatus next = VolumeStatus.of(volume, ctx.node, pool, phase, p == null ? null : p.devicePath(),
                p == null ? 0 : p.sizeBytes(), p == null ? null : p.export(), p == null ? 0 : p.observedGeneration(),
                StatusMessages.truncate(message), Clock.now()).withReady(ready);
        return statuses.volume(ctx.keys.volumeStatus(ctx.node, volume), next, ctx.volumeStatus(volume))
                .recover(err -> {
                    log.warn("cannot write the status of volume {}: {}", volume, err.getMessage());
                    return Future.failedFuture(err);
                });
    }
}
