package io.ferry.controller;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.Leadership;
import io.ferry.etcd.store.Transaction;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.SchedulingPhase;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeParts;
import io.ferry.runtime.reconcile.ReconcileResult;
import io.vertx.core.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The deletion of a multi-part volume, and the one rule for when a part may be deleted: only with
 * its volume. {@link PartsStep} hands a volume here once its intent asks for deletion.
 */
final class PartsDeletion {

    private static final Logger log = LoggerFactory.getLogger(PartsDeletion.class);

    private final DecisionContext ctx;
    private final ClusterState state;
    private final FerryKeys keys;
    private final VolumeRecord record;
    private final DeleteStep delete;
    private final PartsStep step;

    PartsDeletion(DecisionContext ctx, VolumeRecord record, DeleteStep delete, PartsStep step) {
        this.ctx = ctx;
        this.state = ctx.state();
        this.keys = ctx.keys();
        this.record = record;
        this.delete = delete;
        this.step = step;
    }

    /**
     * Why the deletion of a part must not go on, or null when its volume asks for deletion or its
     * mirror retired it (an operator declared it lost, and the parts record names its replacement). A
     * part is otherwise deleted only with its volume: a part's intent marked by hand, or a volume whose
     * intent went missing (absence says nothing about the operator's wish), never destroys a part's data.
     */
    String partDeletionRefusal(VolumeIntent part) {
        if (state.retiredLeg(part.name())) {
            return null;
        }
        VolumeIntent owner = state.intent(part.partOf()).map(Versioned::value).orElse(null);
        if (owner != null && owner.deletionRequested()) {
            return null;
        }
        return "deletion of this part is refused: " + (owner == null
                ? "the intent of its volume " + part.partOf() + " is missing, which does not say it is to be deleted"
                : "its volume " + part.partOf() + " does not ask for deletion")
                + "; the part and its data are kept. A part is deleted only with its volume (set deletionRequested"
                + " on " + part.partOf() + ")";
    }

    /**
     * Deletes a multi-part volume: held while it is attached; then every part's intent asks for the
     * part's deletion (the usual protocol takes each part from there, each releasing its own ledger);
     * once no part's intent is left, the parts record, the volume's record and its intent go in one
     * transaction. Each write is idempotent and guarded, so a restart anywhere resumes from etcd.
     */
    Future<ReconcileResult> deleteParts(Leadership leader, Versioned<VolumeIntent> intent,
                                                Versioned<VolumeParts> parts) {
        String volume = intent.value().name();
        if (parts == null) {
            List<String> orphaned = step.partsWithoutRecord(volume);
            if (!orphaned.isEmpty()) {
                return record.writeScheduling(leader, volume, SchedulingPhase.DELETING, Map.of(), "the record of the"
                        + " volume's parts (parts/" + volume + ") is missing while parts of it exist: "
                        + String.join(", ", orphaned) + "; they are not deleted without it. Put the record back",
                        null, null, true).map(v -> ReconcileResult.done());
            }
            // Nothing was ever placed: only the records remain, as for a volume of one part.
            return delete.delete(leader, volume, intent, null);
        }
        List<VolumeIntent> toMark = new ArrayList<>();
        List<Versioned<VolumeIntent>> marked = new ArrayList<>();
        List<String> left = new ArrayList<>();
        for (String part : parts.value().allPartNames()) {
            Versioned<VolumeIntent> partIntent = state.intent(part).orElse(null);
            if (partIntent == null) {
                continue;
            }
            left.add(part);
            if (partIntent.value().deletionRequested()) {
                marked.add(partIntent);
            } else {
                toMark.add(partIntent.value().withDeletionRequested());
            }
        }
        String held = delete.deletionHeldBy(volume, !marked.isEmpty());
        if (held != null) {
            return record.writeScheduling(leader, volume, SchedulingPhase.DELETING, Map.of(), held, null, null, true)
                    .map(v -> ReconcileResult.done());
        }
        Future<Void> marking = step.restoreMissingIntents(leader, intent.value(), parts.value(), true);
        if (!toMark.isEmpty()) {
            marking = marking.compose(v -> markForDeletion(leader, intent, toMark));
        }
        if (!left.isEmpty() || !toMark.isEmpty()) {
            return marking.compose(v -> record.writeScheduling(leader, volume, SchedulingPhase.DELETING, Map.of(),
                    "waiting for its parts to be deleted: " + String.join(", ", left), null, null, true))
                    .map(v -> ReconcileResult.done());
        }
        return marking.compose(v -> removeVolume(leader, intent, parts));
    }

    /** Asks for the deletion of each part in one transaction, each guarded by the intent it was read at. */
    private Future<Void> markForDeletion(Leadership leader, Versioned<VolumeIntent> intent, List<VolumeIntent> toMark) {
        Transaction txn = ctx.store().txn().requireLeadership(leader)
                .requireModRevision(keys.volume(intent.value().name()), intent.modRevision());
        for (VolumeIntent part : toMark) {
            long revision = state.intent(part.name()).map(Versioned::modRevision).orElse(0L);
            txn.requireModRevision(keys.volume(part.name()), revision).put(keys.volume(part.name()), part);
        }
        return txn.commit().compose(outcome -> {
            if (!outcome.succeeded()) {
                ctx.metrics().conflict();
                return Future.failedFuture(new IllegalStateException("a part of " + intent.value().name()
                        + " changed while asking for the parts' deletion; retrying"));
            }
            toMark.forEach(part -> state.wroteIntent(part, outcome.revision()));
            return Future.succeededFuture();
        });
    }

    /**
     * The end of a multi-part volume's deletion: no part's intent, placement or data is left, so the
     * parts record, the volume's record and its intent go, guarded by those absences.
     */
    private Future<ReconcileResult> removeVolume(Leadership leader, Versioned<VolumeIntent> intent,
                                                 Versioned<VolumeParts> parts) {
        String volume = intent.value().name();
        Transaction txn = ctx.store().txn().requireLeadership(leader)
                .requireModRevision(keys.volume(volume), intent.modRevision())
                .requireModRevision(keys.volumeParts(volume), parts.modRevision())
                .delete(keys.volumeParts(volume))
                .delete(keys.volumeScheduling(volume))
                .delete(keys.volume(volume));
        for (String part : parts.value().allPartNames()) {
            txn.requireAbsent(keys.volume(part)).requireAbsent(keys.placement(part));
        }
        return txn.commit().compose(outcome -> {
            if (!outcome.succeeded()) {
                ctx.metrics().conflict();
                return Future.failedFuture(new IllegalStateException("volume " + volume
                        + " or one of its parts changed while removing it; retrying"));
            }
            state.removedParts(volume, outcome.revision());
            state.removedScheduling(keys.volumeScheduling(volume), outcome.revision());
            state.removedIntent(volume, outcome.revision());
            ctx.metrics().deleted();
            log.info("deleted {} volume {}: every part is gone", parts.value().layout(), volume);
            return Future.succeededFuture(ReconcileResult.done());
        });
    }
}
