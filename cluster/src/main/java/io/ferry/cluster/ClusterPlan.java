package io.ferry.cluster;

import io.ferry.agent.AgentOptions;
import io.ferry.controller.ControllerOptions;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * What a cluster on one machine runs: its controllers, its agents and, optionally, one CSI endpoint
 * serving both modes. The one description {@code ferry up} reads whether it starts the components in
 * its own JVM ({@link LocalCluster#start(ClusterPlan, LocalCluster.Component)}) or as child
 * processes, so that the two ways cannot drift apart in what they start.
 *
 * @param csi null when no CSI endpoint is served
 */
public record ClusterPlan(List<ControllerOptions> controllers, List<AgentOptions> agents, Csi csi) {

    public ClusterPlan {
        controllers = List.copyOf(controllers);
        agents = List.copyOf(agents);
    }

    /**
     * The CSI endpoint: a Unix socket serving the controller and node services, the latter for
     * {@code node}.
     */
    public record Csi(Path socket, String node) {
        public Csi {
            Objects.requireNonNull(socket, "socket");
            Objects.requireNonNull(node, "node");
        }
    }
}
