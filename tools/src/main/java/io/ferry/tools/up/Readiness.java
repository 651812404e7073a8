package io.ferry.tools.up;

import io.ferry.csi.CsiEndpoint;
import io.ferry.csi.v1.IdentityGrpc;
import io.ferry.csi.v1.ProbeRequest;
import io.ferry.csi.v1.ProbeResponse;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.ControllerLeader;
import io.ferry.model.NodeRegistration;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;

import io.vertx.core.Future;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * What {@code ferry up} has to see before it says "Ferry is up": its controller leads (its leader
 * record is the oldest in the election and was written after this start), every agent has
 * registered since this start, and the CSI endpoint answers a Probe as ready. Records written
 * before this start do not count: after a kill -9 an earlier run's records live on until their
 * leases expire, and would make a dead cluster look alive.
 *
 * @param controllerId  the identity this run's controller campaigns with
 * @param nodes         the agents' node names
 * @param csiSocket     the CSI endpoint's socket, or null when {@code ferry up} serves none
 * @param sinceRevision etcd's revision just before the components were started
 */
record Readiness(String controllerId, List<String> nodes, Path csiSocket, long sinceRevision) {

    /** Component name ({@code controller}, a node name, {@code csi}, or {@code etcd}) to why it is not up; empty when all are. */
    Map<String, String> problems(EtcdStore store) {
        Map<String, String> problems = new LinkedHashMap<>();
        try {
            controller(store).ifPresent(p -> problems.put("controller", p));
            for (String node : nodes) {
                Optional<Versioned<NodeRegistration>> registration = wait(store.get(store.keys().registration(node),
                        NodeRegistration.class));
                if (registration.isEmpty()) {
                    problems.put(node, "its agent has not registered");
                } else if (registration.get().modRevision() <= sinceRevision) {
                    problems.put(node, "only a registration from before this start is there (its lease has not expired yet)");
                }
            }
        } catch (Exception e) {
            problems.put("etcd", "does not answer: " + e);
        }
        if (csiSocket != null) {
            csi().ifPresent(p -> problems.put("csi", p));
        }
        return problems;
    }

    private Optional<String> controller(EtcdStore store) throws Exception {
        List<Versioned<ControllerLeader>> candidates = wait(store.list(store.keys().controllerLeader() + "/",
                ControllerLeader.class)).items();
        Optional<Versioned<ControllerLeader>> leader = candidates.stream().min(Comparator.comparingLong(Versioned::createRevision));
        if (leader.isEmpty()) {
            return Optional.of("no controller has taken the leadership");
        }
        if (leader.get().createRevision() <= sinceRevision) {
            return Optional.of(leader.get().value().identity() + " of an earlier run still holds the leadership until its"
                    + " lease expires");
        }
        if (!leader.get().value().identity().equals(controllerId)) {
            return Optional.of(leader.get().value().identity() + " leads, not this ferry up's controller");
        }
        return Optional.empty();
    }

    private Optional<String> csi() {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        ManagedChannel channel = new CsiEndpoint.Unix(csiSocket).channelBuilder(group).build();
        try {
            ProbeResponse probe = IdentityGrpc.newBlockingStub(channel).withDeadlineAfter(3, TimeUnit.SECONDS)
                    .probe(ProbeRequest.getDefaultInstance());
            // An unset ready field means ready (CSI spec).
            return !probe.hasReady() || probe.getReady().getValue() ? Optional.empty()
                    : Optional.of("unix://" + csiSocket + " answers Probe with ready=false");
        } catch (StatusRuntimeException e) {
            return Optional.of("unix://" + csiSocket + " does not answer Probe (" + e.getStatus().getCode() + ")");
        } finally {
            channel.shutdownNow();
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
    }

    private static <T> T wait(Future<T> future) throws Exception {
        return future.toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
    }
}
