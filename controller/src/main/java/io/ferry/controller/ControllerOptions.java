package io.ferry.controller;

import io.ferry.runtime.informer.InformerOptions;
import io.ferry.runtime.reconcile.RuntimeOptions;
import io.ferry.runtime.admin.AdminOptions;

import java.time.Duration;

/**
 * @param id        this controller's identity in the election (host and process by default)
 * @param leaseTtl  how long a dead leader keeps leadership; a standby takes over within about this long
 * @param admin     admin HTTP settings, or null for no admin endpoint (tests, embedded use)
 * @param resyncInterval how often every volume and snapshot is reconciled again even without events
 * @param eventRetention how long lifecycle events are kept at least (they go by {@code 7/6} of it)
 */
public record ControllerOptions(String id, Duration leaseTtl, AdminOptions admin, InformerOptions informers,
                                RuntimeOptions runtime, Duration resyncInterval, Duration eventRetention) {

    public static final Duration DEFAULT_EVENT_RETENTION = Duration.ofHours(1);

    public ControllerOptions {
        if (eventRetention == null || eventRetention.compareTo(Duration.ofSeconds(6)) < 0) {
            throw new IllegalArgumentException("event retention must be at least 6 s, got " + eventRetention);
        }
    }

    public ControllerOptions(String id, Duration leaseTtl, AdminOptions admin, InformerOptions informers,
                             RuntimeOptions runtime, Duration resyncInterval) {
        this(id, leaseTtl, admin, informers, runtime, resyncInterval, DEFAULT_EVENT_RETENTION);
    }

    public static ControllerOptions defaults(String id) {
        return new ControllerOptions(id, Duration.ofSeconds(10), AdminOptions.loopback(7360), InformerOptions.defaults(),
                RuntimeOptions.defaults().withConcurrency(64), Duration.ofMinutes(5));
    }

    public ControllerOptions withLeaseTtl(Duration value) {
        return new ControllerOptions(id, value, admin, informers, runtime, resyncInterval, eventRetention);
    }

    public ControllerOptions withAdmin(AdminOptions value) {
        return new ControllerOptions(id, leaseTtl, value, informers, runtime, resyncInterval, eventRetention);
    }

    public ControllerOptions withEventRetention(Duration value) {
        return new ControllerOptions(id, leaseTtl, admin, informers, runtime, resyncInterval, value);
    }
}
