package io.ferry.tools.up;

import io.ferry.cluster.ClusterPlan;
import io.ferry.cluster.LocalCluster;
import io.ferry.csi.CsiEndpoint;
import io.ferry.csi.CsiServer;
import io.ferry.csi.NodeService;
import io.ferry.etcd.EtcdRoles;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.runtime.informer.InformerOptions;

/**
 * The CSI endpoint as a component of a {@link LocalCluster}: module {@code cluster} sits below
 * {@code csi} (so that csi's own ITs can use it), and the endpoint plugs in from here.
 */
public final class CsiComponent {
    private CsiComponent() {
    }

    /** The endpoint a {@link ClusterPlan} names: both services on its Unix socket. */
    public static LocalCluster.Component<CsiServer> serving(ClusterPlan.Csi csi) {
        return both(new CsiEndpoint.Unix(csi.socket()), csi.node());
    }

    /**
     * Both CSI services on {@code endpoint}, the node service for {@code node}. One endpoint serves both
     * modes, so it connects as the CSI controller, whose role includes every read of the node plugin's.
     */
    public static LocalCluster.Component<CsiServer> both(CsiEndpoint endpoint, String node) {
        return cluster -> new CsiServer(new CsiServer.Options(CsiServer.Mode.BOTH, endpoint,
                NodeService.Options.defaults(node), InformerOptions.defaults()),
                EtcdStore.connect(cluster.options(EtcdRoles.CSI_CONTROLLER)), true, cluster.runner()).start();
    }
}
