package io.ferry.agent;

import io.ferry.etcd.store.Versioned;
import io.ferry.model.VolumeStatus;
import io.ferry.runtime.admin.AdminServer;
import io.vertx.core.Future;
import io.vertx.ext.web.Router;

import java.util.Comparator;
import java.util.List;
import java.util.Map;

/** Read-only {@code /api/v1} routes of the agent, answered from the informer caches. */
final class AdminApi {
    private AdminApi() {
    }

    static void install(Router router, NodeContext ctx, OrphanScanner orphans) {
        router.get("/api/v1/volumes").handler(AdminServer.json(rc -> Future.succeededFuture(volumes(ctx))));
        router.get("/api/v1/volumes/:volume").handler(AdminServer.json(rc ->
                Future.succeededFuture(ctx.volumeStatus(rc.pathParam("volume")).orElse(null))));
        router.get("/api/v1/pools").handler(AdminServer.json(rc -> Future.succeededFuture(
                ctx.ownPools().stream().map(p -> Map.of("config", p, "terminalFailures",
                        ctx.poolRuntime().terminalFailures().getOrDefault(p.name(), ""))).toList())));
        router.get("/api/v1/orphans").handler(AdminServer.json(rc -> Future.succeededFuture(
                orphans.lastReport() == null ? Map.of("orphans", List.of()) : orphans.lastReport())));
    }

    private static List<VolumeStatus> volumes(NodeContext ctx) {
        return ctx.volumeStatuses().values().stream().map(Versioned::value)
                .sorted(Comparator.comparing(VolumeStatus::volume)).toList();
    }
}
