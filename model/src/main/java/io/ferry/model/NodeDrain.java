package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.time.Instant;
import java.util.List;

/**
 * An operator's request to empty a storage node before maintenance ({@code ferryctl node drain}),
 * key {@code <prefix>/config/drains/<node>}: while it exists, the controller moves the node's mirror
 * legs away, at most {@code maxParallelMoves} at a time, each by the live migration of a leg
 * (docs/layouts.md, "Node drain"). Removing it ({@code ferryctl node undrain}) starts no new move.
 *
 * @param pools            the node's pools that {@code ferryctl node drain} made unschedulable, so
 *                         that {@code undrain} makes schedulable again exactly those (a pool the operator
 *                         had made unschedulable before stays so)
 * @param maxParallelMoves how many legs may move away from the node at once, 1-16 (default 2): each
 *                         move copies a whole leg over the network and through the consumer
 */
public record NodeDrain(int schemaVersion, String node, List<String> pools, int maxParallelMoves,
                        Instant requestedAt) implements KeyNamed {

    public static final int DEFAULT_MAX_PARALLEL_MOVES = 2;
    public static final int MAX_PARALLEL_MOVES = 16;

    public NodeDrain {
        Schema.check(schemaVersion);
        Check.field("node", Check.required(node, "node"), Names::nodeName);
        pools = Check.list(pools, "pools", 1024, (pool, path) -> Check.field(path, pool, Names::poolName));
        Check.range(maxParallelMoves, 1, MAX_PARALLEL_MOVES, "maxParallelMoves");
    }

    @JsonCreator
    static NodeDrain fromJson(@JsonProperty("schemaVersion") Integer schemaVersion,
                              @JsonProperty("node") String node,
                              @JsonProperty("pools") List<String> pools,
                              @JsonProperty("maxParallelMoves") Integer maxParallelMoves,
                              @JsonProperty("requestedAt") Instant requestedAt) {
        return new NodeDrain(Schema.orDefault(schemaVersion), node, pools,
                Check.orDefault(maxParallelMoves, DEFAULT_MAX_PARALLEL_MOVES), requestedAt);
    }

    public static NodeDrain of(String node, List<String> pools, int maxParallelMoves, Instant requestedAt) {
        return new NodeDrain(Schema.CURRENT_VERSION, node, pools, maxParallelMoves, requestedAt);
    }

    @Override
    public List<String> keyNames() {
        return List.of(node);
    }
}
