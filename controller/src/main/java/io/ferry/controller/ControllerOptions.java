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
 */
public record ControllerOptions(String id, Duration leaseTtl, AdminOptions admin, InformerOptions informers,
                                RuntimeOptions runtime, Duration resyncInterval) {

    public static ControllerOptions defaults(String id) {
        return new ControllerOptions(id, Duration.ofSeconds(10), AdminOptions.loopback(7360), InformerOptions.defaults(),
                RuntimeOptions.defaults().withConcurrency(64), Duration.ofMinutes(5));
    }

    public ControllerOptions withLeaseTtl(Duration value) {
        return new ControllerOptions(id, value, admin, informers, runtime, resyncInterval);
    }

    public ControllerOptions withAdmin(AdminOptions value) {
        return new ControllerOptions(id, leaseTtl, value, informers, runtime, resyncInterval);
    }
}
