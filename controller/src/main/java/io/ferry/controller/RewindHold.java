package io.ferry.controller;

import io.ferry.runtime.informer.Informer;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.AsyncResult;
import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The one rule for an etcd restored from a backup: from the moment any of the controller's informers
 * finds that etcd went back in time until every one of them has listed the restored etcd as the
 * truth, the controller decides nothing.
 *
 * <p>Why: the informers notice the rewind one prefix at a time, and a decision taken in between
 * reads the restored history under one prefix and the lost one under another. A volume grown after
 * the backup had its restored placement grown back to the size of the intent the controller still
 * remembered; with the intent still remembered but the placement already gone, the controller would
 * place the volume again, empty, possibly on another node.
 *
 * <p>While it holds, {@link #held()} says why; the controller withholds its leadership from the
 * reconcilers (no decision starts) and its transactions are refused before they reach etcd (one
 * decided just before cannot land). Every informer is asked to list again as the truth, those that
 * have not noticed the rewind too. When the last has, the controller is told ({@code released}) and
 * reconciles everything once. An informer that cannot list (etcd down again) keeps the hold: holding
 * is safe, deciding is not; a warning every {@link #WARNING_INTERVAL} and the readiness say which
 * informers it waits for.
 *
 * <p>Confined to the controller's context, except {@link #held()}, which any thread may call.
 */
final class RewindHold {

    private static final Logger log = LoggerFactory.getLogger(RewindHold.class);
    static final Duration WARNING_INTERVAL = Duration.ofSeconds(30);

    /** What the hold is waiting for; null while the controller decides. Read by the admin server's thread. */
    private record Holding(String cause, Instant since, List<String> waitingFor) {
    }

    private final Vertx vertx;
    private final List<Informer<?>> informers;
    private final Clock clock;
    private final Runnable released;
    private final Counter holds;
    private final Set<String> waiting = new LinkedHashSet<>();
    /** Counts holds, so that a listing finishing late cannot end a later hold. */
    private long round;
    private long warningTimer = -1;
    private volatile Holding holding;

    RewindHold(Vertx vertx, List<Informer<?>> informers, MeterRegistry registry, Clock clock, Runnable released) {
        this.vertx = vertx;
        this.informers = List.copyOf(informers);
        this.clock = clock;
        this.released = released;
        this.holds = Counter.builder("ferry.controller.rewind.holds")
                .description("times the controller held its decisions because etcd went back in time (restored from a backup)")
                .register(registry);
        Gauge.builder("ferry.controller.rewind.waiting.informers", this, h -> {
                    Holding now = h.holding;
                    return now == null ? 0 : now.waitingFor().size();
                })
                .description("informers the controller waits for to list a restored etcd before it decides again (0: deciding)")
                .register(registry);
        this.informers.forEach(i -> i.addRewindListener(this::rewound));
    }

    /** Why the controller decides nothing now, or empty when it may decide. */
    Optional<String> held() {
        Holding now = holding;
        if (now == null) {
            return Optional.empty();
        }
        long seconds = Duration.between(now.since(), clock.instant()).toSeconds();
        return Optional.of("holding decisions: etcd was restored from a backup (" + now.cause() + "), waiting for "
                + now.waitingFor().size() + " of " + informers.size() + " informers to list it again ("
                + String.join(", ", now.waitingFor()) + ") for " + seconds + " s");
    }

    boolean holding() {
        return holding != null;
    }

    private void rewound(Informer<?> informer, long etcdRevision, long informerRevision) {
        if (waiting.contains(informer.prefix())) {
            // Already asked to list again; the listing it has just started counts.
            return;
        }
        List<Informer<?>> ask;
        if (waiting.isEmpty()) {
            round++;
            holds.increment();
            String cause = informer.prefix() + " saw revision " + informerRevision + ", etcd is at " + etcdRevision;
            holding = new Holding(cause, clock.instant(), List.of());
            log.warn("etcd went back in time ({}): holding every decision until all {} informers have listed the"
                    + " restored etcd", cause, informers.size());
            warningTimer = vertx.setPeriodic(WARNING_INTERVAL.toMillis(), t -> held().ifPresent(why ->
                    log.warn("{}; an informer that cannot list (etcd unreachable?) keeps the hold", why)));
            ask = informers;
        } else {
            // It had listed already in this hold and found etcd went back again since.
            ask = List.of(informer);
        }
        long thisRound = round;
        ask.forEach(i -> waiting.add(i.prefix()));
        publish();
        for (Informer<?> i : ask) {
            i.listAgainAsTruth().onComplete(ar -> listed(thisRound, i, ar));
        }
    }

    private void listed(long inRound, Informer<?> informer, AsyncResult<Void> outcome) {
        if (inRound != round || !waiting.contains(informer.prefix())) {
            return;
        }
        if (outcome.failed()) {
            // Only a closed informer fails its listing: the controller is stopping.
            log.debug("informer on {} closed while the controller held its decisions", informer.prefix());
            return;
        }
        waiting.remove(informer.prefix());
        if (!waiting.isEmpty()) {
            publish();
            return;
        }
        long millis = Duration.between(holding.since(), clock.instant()).toMillis();
        holding = null;
        vertx.cancelTimer(warningTimer);
        log.info("every informer has listed the restored etcd ({} ms after the rewind was found); deciding again,"
                + " starting with every volume and snapshot", millis);
        released.run();
    }

    private void publish() {
        Holding now = holding;
        holding = new Holding(now.cause(), now.since(), List.copyOf(waiting));
    }
}
