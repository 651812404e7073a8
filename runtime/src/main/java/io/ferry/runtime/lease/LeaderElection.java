package io.ferry.runtime.lease;

import io.ferry.etcd.store.Store;
import io.ferry.etcd.store.Leadership;
import io.ferry.etcd.store.Transaction;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Optional;

/**
 * Campaigns for leadership under one election name through etcd's election service, on a lease
 * kept by a {@link LeaseSession}. Standbys wait in the campaign and take over within one lease TTL
 * of the leader's death.
 *
 * <p>Losing the lease means losing leadership: the listener hears {@code onDeposed} first, and the
 * candidate campaigns again on a new lease. Every write a leader makes should carry
 * {@link Transaction#requireLeadership(Leadership)}, so that even a leader that has not yet noticed
 * its loss cannot write.
 *
 * <p>Callbacks run on the Vert.x context that started the election.
 */
public final class LeaderElection implements AutoCloseable {

    /** What a candidate hears about its own state. */
    public interface Listener {
        void onElected(Leadership leadership);

        void onDeposed();
    }

    private static final Logger log = LoggerFactory.getLogger(LeaderElection.class);

    private final Vertx vertx;
    private final Store store;
    private final String electionName;
    private final String candidate;
    private final Duration ttl;
    private final Listener listener;
    private LeaseSession session;
    private volatile Leadership leadership;
    private volatile boolean closed;
    private long campaignEpoch;

    public LeaderElection(Vertx vertx, Store store, String electionName, String candidate, Duration ttl, Listener listener) {
        this.vertx = vertx;
        this.store = store;
        this.electionName = electionName;
        this.candidate = candidate;
        this.ttl = ttl;
        this.listener = listener;
    }

    /** Starts campaigning; completes once the first lease is held (not when elected). */
    public Future<Void> start() {
        return LeaseSession.open(vertx, store, ttl, this::campaign, this::leaseLost).map(s -> {
            session = s;
            campaign(s.leaseId());
            return null;
        });
    }

    public Optional<Leadership> leadership() {
        return Optional.ofNullable(leadership);
    }

    public boolean isLeader() {
        return leadership != null;
    }

    private void campaign(long leaseId) {
        if (closed) {
            return;
        }
        long epoch = ++campaignEpoch;
        Context context = vertx.getOrCreateContext();
        store.campaign(electionName, leaseId, candidate)
                .onComplete(ar -> context.runOnContext(v -> {
                    if (closed || epoch != campaignEpoch) {
                        return;
                    }
                    if (ar.failed()) {
                        log.warn("campaign for {} failed, retrying: {}", electionName, ar.cause().getMessage());
                        vertx.setTimer(1000, t -> {
                            if (epoch == campaignEpoch) {
                                campaign(session == null ? leaseId : session.leaseId());
                            }
                        });
                        return;
                    }
                    leadership = ar.result();
                    log.info("{} is now the leader of {}", candidate, electionName);
                    listener.onElected(leadership);
                }));
    }

    private void leaseLost() {
        campaignEpoch++;
        if (leadership != null) {
            leadership = null;
            log.warn("{} lost leadership of {}", candidate, electionName);
            listener.onDeposed();
        }
    }

    /** The current leader's candidate id, if any. */
    public Future<Optional<String>> currentLeader() {
        return store.electionLeader(electionName);
    }

    /** Steps down (if leader) and stops campaigning; revoking the lease hands over immediately. */
    @Override
    public void close() {
        closed = true;
        campaignEpoch++;
        boolean wasLeader = leadership != null;
        leadership = null;
        if (session != null) {
            session.revoke();
        }
        if (wasLeader) {
            listener.onDeposed();
        }
    }
}
