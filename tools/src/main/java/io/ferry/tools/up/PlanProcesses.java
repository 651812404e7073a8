package io.ferry.tools.up;

import io.ferry.agent.AgentOptions;
import io.ferry.cluster.ClusterPlan;
import io.ferry.controller.ControllerOptions;
import io.ferry.etcd.EtcdRoles;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * The child processes that run a {@link ClusterPlan}, in its order (controllers, agents, the CSI
 * endpoint): what {@code ferry up --processes} and the chaos run start, from the same description
 * {@code ferry up} runs in its own JVM.
 */
public final class PlanProcesses {
    private PlanProcesses() {
    }

    /**
     * @param etcdAs the etcd a component of the given role connects to, as its own user when
     *               authentication is on
     */
    public static List<ComponentProcess> of(ClusterPlan plan, Function<String, ComponentProcess.Etcd> etcdAs, Path logs,
            List<String> jvmOptions) {
        List<ComponentProcess> processes = new ArrayList<>();
        int i = 0;
        for (ControllerOptions controller : plan.controllers()) {
            i++;
            String name = plan.controllers().size() == 1 ? "controller" : "controller-" + i;
            ComponentProcess.Etcd etcd = etcdAs.apply(EtcdRoles.CONTROLLER);
            processes.add(controller.leaseTtl().equals(ControllerOptions.defaults(controller.id()).leaseTtl())
                    ? ComponentProcess.controller(name, controller.id(), controller.admin().port(), etcd, logs, jvmOptions)
                    : ComponentProcess.controller(name, controller.id(), controller.admin().port(),
                            (int) controller.leaseTtl().toSeconds(), etcd, logs, jvmOptions));
        }
        for (AgentOptions agent : plan.agents()) {
            processes.add(ComponentProcess.agent(agent.node(), agent.adminPort(), agent.labels(), agent.stateDir(),
                    etcdAs.apply(EtcdRoles.agentRoleName(agent.node())), logs, jvmOptions));
        }
        if (plan.csi() != null) {
            processes.add(ComponentProcess.csi("csi", plan.csi().socket(), plan.csi().node(),
                    etcdAs.apply(EtcdRoles.CSI_CONTROLLER), logs, jvmOptions));
        }
        return processes;
    }
}
