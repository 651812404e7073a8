package io.ferry.runtime.informer;

import java.time.Duration;

/**
 * @param resyncInterval   how often the full prefix is listed again and compared with the cache,
 *                         repairing anything a watch lost; also when handlers hear {@code onSynced}
 * @param watchdogInterval how long a watch may stay silent before the informer asks etcd for a
 *                         progress notification, and, if that goes unanswered for another interval,
 *                         replaces the watch (jetcd's own watch can stall after leader loss)
 * @param maxBackoff       cap of the delay between attempts to re-establish a failed watch
 */
public record InformerOptions(Duration resyncInterval, Duration watchdogInterval, Duration maxBackoff) {

    public static InformerOptions defaults() {
        return new InformerOptions(Duration.ofMinutes(5), Duration.ofSeconds(10), Duration.ofSeconds(5));
    }

    public InformerOptions withResyncInterval(Duration value) {
        return new InformerOptions(value, watchdogInterval, maxBackoff);
    }

    public InformerOptions withWatchdogInterval(Duration value) {
        return new InformerOptions(resyncInterval, value, maxBackoff);
    }
}
