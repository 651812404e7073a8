package io.ferry.controller;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.Leadership;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Ledger;
import io.ferry.model.LedgerSums;
import io.ferry.model.Placement;
import io.ferry.model.SnapshotScheduling;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

/**
 * Keeps every pool's ledger equal to what it accounts for: the sizes of the placements on the pool
 * and of the snapshots charged to it. The ledger is the one record that can be re-derived, so a
 * ledger removed or edited by hand is recomputed rather than trusted (it decides whether the pool
 * takes more volumes) and the difference is reported: logged, counted in
 * {@code ferry_controller_ledger_corrections_total}, and shown with the pool in {@code /api/v1/pools}.
 *
 * <p>A placement removed by hand while its volume still exists leaves the pool's ledger counting
 * bytes no placement names; the audit then lowers the ledger, and the rebuilt placement raises it
 * again. In between, the agent's own report of the pool's free space still keeps the scheduler from
 * promising the bytes the volume occupies (see {@code Filters}). Rebuilding a placement therefore never
 * charges the ledger itself: the bytes are counted once, here.
 *
 * <p>Cheap in the usual case: the caches are compared first, and only a pool whose cached ledger
 * disagrees is recomputed from a fresh listing. The write is guarded by the ledger's revision read
 * before that listing, so a placement committed meanwhile (which always moves the ledger too) makes
 * the audit lose its race instead of undoing the placement's charge. Runs in the serial lane.
 */
final class LedgerAudit {

    private static final Logger log = LoggerFactory.getLogger(LedgerAudit.class);

    /** What the audit last changed in a pool's ledger, for the admin API. */
    record Correction(Instant at, long fromBytes, int fromVolumes, long toBytes, int toVolumes, String reason) {
    }

    private final DecisionContext ctx;
    private final SerialLane lane;
    private final ClusterState state;
    private final FerryKeys keys;
    private final Map<String, Correction> corrections = new HashMap<>();

    LedgerAudit(DecisionContext ctx, SerialLane lane) {
        this.ctx = ctx;
        this.lane = lane;
        this.state = ctx.state();
        this.keys = ctx.keys();
    }

    Optional<Correction> lastCorrection(String pool) {
        return Optional.ofNullable(corrections.get(pool));
    }

    /** Compares every pool's cached ledger with its cached placements; recomputes those that differ. */
    Future<Void> auditAll() {
        if (ctx.leadership().get().isEmpty()) {
            return Future.succeededFuture();
        }
        Map<String, Ledger> expected = expected(state.watchedPlacements(), state.watchedRecords().stream()
                .map(Versioned::value).filter(SnapshotScheduling.class::isInstance).map(SnapshotScheduling.class::cast)
                .toList());
        TreeSet<String> pools = new TreeSet<>(expected.keySet());
        state.watchedLedgers().forEach(l -> pools.add(l.value().pool()));
        Future<Void> chain = Future.succeededFuture();
        for (String pool : pools) {
            Ledger actual = state.ledger(pool).map(Versioned::value).orElse(null);
            if (!agrees(actual, expected.get(pool))) {
                chain = chain.compose(v -> lane.submit(() -> recompute(pool)));
            } else if (actual != null && expected.get(pool) == null && state.poolConfig(pool).isEmpty()) {
                chain = chain.compose(v -> lane.submit(() -> removeLedgerOfRemovedPool(pool)));
            }
        }
        return chain;
    }

    /**
     * A pool's config is removed only while nothing is placed on it, which leaves an empty ledger
     * behind; it is removed too, guarded so that a pool added again under that name, or a charge
     * committed meanwhile, keeps it.
     */
    private Future<Void> removeLedgerOfRemovedPool(String pool) {
        Optional<Leadership> leader = ctx.leadership().get();
        Versioned<Ledger> ledger = state.ledger(pool).orElse(null);
        if (leader.isEmpty() || ledger == null || ledger.value().allocatedBytes() != 0 || ledger.value().volumeCount() != 0) {
            return Future.succeededFuture();
        }
        return ctx.store().txn().requireLeadership(leader.get())
                .requireModRevision(keys.ledger(pool), ledger.modRevision())
                .requireAbsent(keys.poolConfig(pool))
                .delete(keys.ledger(pool))
                .commit().map(outcome -> {
                    if (outcome.succeeded()) {
                        log.info("ledger of removed pool {} removed", pool);
                    }
                    return null;
                });
    }

    private static boolean agrees(Ledger actual, Ledger expected) {
        return LedgerSums.agrees(actual, expected);
    }

    private static Map<String, Ledger> expected(Iterable<Versioned<Placement>> placements, Iterable<SnapshotScheduling> snapshots) {
        List<Placement> values = new ArrayList<>();
        placements.forEach(v -> values.add(v.value()));
        return LedgerSums.expected(values, snapshots);
    }

    /** The ledger key as read: absent, unreadable (value null) or a ledger, with its revision. */
    private record Read(boolean present, Ledger value, long modRevision) {
    }

    /** Recomputes one pool's ledger from etcd itself, not the caches, and writes it if it differs. */
    private Future<Void> recompute(String pool) {
        Optional<Leadership> leader = ctx.leadership().get();
        if (leader.isEmpty()) {
            return Future.succeededFuture();
        }
        String ledgerKey = keys.ledger(pool);
        // The ledger first: a commit between this read and the write below moves its revision.
        return ctx.store().getRaw(ledgerKey).map(raw -> raw.map(r -> {
            try {
                return new Read(true, ctx.store().decode(r, Ledger.class).value(), r.modRevision());
            } catch (RuntimeException e) {
                log.warn("ledger {} is unreadable ({}); recomputing it from the placements", ledgerKey, e.getMessage());
                return new Read(true, null, r.modRevision());
            }
        }).orElse(new Read(false, null, 0))).compose(ledger -> ctx.store().list(keys.placements(), Placement.class).compose(placements ->
                ctx.store().list(keys.snapshotSchedulings(), SnapshotScheduling.class).compose(snapshots -> {
                    if (!placements.badValues().isEmpty() || !snapshots.badValues().isEmpty()) {
                        log.warn("ledger of {} not recomputed: {} placement(s) or snapshot record(s) do not decode,"
                                + " so the sum would be wrong", pool, placements.badValues().size() + snapshots.badValues().size());
                        return Future.<Void>succeededFuture();
                    }
                    Ledger expected = expected(placements.items(), snapshots.items().stream().map(Versioned::value).toList())
                            .getOrDefault(pool, Ledger.empty(pool));
                    boolean fine = ledger.present() ? ledger.value() != null && agrees(ledger.value(), expected)
                            : agrees(null, expected);
                    return fine ? Future.<Void>succeededFuture() : write(leader.get(), pool, ledger, expected);
                })));
    }

    private Future<Void> write(Leadership leader, String pool, Read ledger, Ledger expected) {
        return ctx.store().txn().requireLeadership(leader)
                .requireModRevision(keys.ledger(pool), ledger.modRevision())
                .put(keys.ledger(pool), expected)
                .commit().map(outcome -> {
                    if (!outcome.succeeded()) {
                        // A commit moved the ledger meanwhile; the next audit looks again.
                        ctx.metrics().conflict();
                        return null;
                    }
                    state.wroteLedger(expected, outcome.revision());
                    Ledger actual = ledger.value();
                    String reason = !ledger.present() ? "missing" : actual == null ? "unreadable" : "inconsistent";
                    long fromBytes = actual == null ? 0 : actual.allocatedBytes();
                    int fromVolumes = actual == null ? 0 : actual.volumeCount();
                    corrections.put(pool, new Correction(ctx.clock().instant(), fromBytes, fromVolumes, expected.allocatedBytes(),
                            expected.volumeCount(), reason));
                    ctx.metrics().ledgerCorrected(pool, expected.allocatedBytes() - fromBytes);
                    log.warn("ledger of pool {} was {} ({} bytes in {} volumes); recomputed from the placements and snapshots:"
                                    + " {} bytes in {} volumes (difference {} bytes, {} volumes)", pool, reason, fromBytes, fromVolumes,
                            expected.allocatedBytes(), expected.volumeCount(), expected.allocatedBytes() - fromBytes,
                            expected.volumeCount() - fromVolumes);
                    return null;
                });
    }
}
