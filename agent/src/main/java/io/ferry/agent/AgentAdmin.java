package io.ferry.agent;

import io.ferry.runtime.admin.AdminOptions;
import io.ferry.runtime.admin.AdminServer;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;

import java.util.function.BooleanSupplier;

/**
 * The agent's admin endpoint: health, metrics and the agent's API, and a readiness that names what
 * the agent still waits for (the cluster id, its registration held in etcd, the first sync of its
 * informers). Without an admin port there is no server, and the agent registers no admin address.
 */
final class AgentAdmin {

    private final AgentOptions options;
    private final NodeContext ctx;
    private final BooleanSupplier registered;
    private final AdminServer server;

    /** @param registered whether etcd holds the node's registration on this agent's lease */
    AgentAdmin(Vertx vertx, AgentOptions options, PrometheusMeterRegistry registry, NodeContext ctx, OrphanScanner orphans,
            BooleanSupplier registered) {
        this.options = options;
        this.ctx = ctx;
        this.registered = registered;
        if (options.adminPort() < 0) {
            this.server = null;
            return;
        }
        this.server = new AdminServer(vertx, new AdminOptions(options.adminHost(), options.adminPort(), null), registry,
                this::readiness);
        AdminApi.install(server.router(), ctx, orphans);
    }

    Future<Void> start() {
        return server == null ? Future.succeededFuture() : server.start().mapEmpty();
    }

    /** The port it listens on, or -1. */
    int port() {
        return server == null ? -1 : server.port();
    }

    /** What the registration announces as the node's admin address; null without one. */
    String registeredAddress() {
        return port() < 0 ? null : NodeRegistrations.adminAddress(options.adminHost(), port());
    }

    Future<Void> close() {
        return server == null ? Future.succeededFuture() : server.close();
    }

    private AdminServer.Readiness readiness() {
        if (ctx.cluster() == null) {
            return new AdminServer.Readiness(false, "waiting for the cluster id at " + ctx.keys.clusterIdentity()
                    + " (created by the first controller or ferry up)");
        }
        if (!registered.getAsBoolean()) {
            return new AdminServer.Readiness(false, "the registration " + ctx.keys.registration(ctx.node)
                    + " is not in etcd with this agent's lease (yet)");
        }
        if (!ctx.work().synced() || !ctx.pools().synced()) {
            return new AdminServer.Readiness(false, "informers are not synced with etcd");
        }
        return new AdminServer.Readiness(true, "registered as " + ctx.node);
    }
}
