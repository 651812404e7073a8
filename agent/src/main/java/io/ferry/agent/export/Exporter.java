package io.ferry.agent.export;

import io.ferry.model.HostSecret;
import io.ferry.model.ExportInfo;
import io.ferry.model.ExportSpec;
import io.ferry.model.OrphanOwner;

import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Exports volumes over NVMe-oF: one subsystem per volume, named {@code <nqnPrefix>:<cluster id>:vol:<volume>}
 * (see {@link VolumeNqns} for the form of before cluster ids),
 * one namespace whose serial is derived from the volume name, only the listed host NQNs allowed.
 * Methods block and are idempotent, like the engines.
 */
public interface Exporter {

    /** True when this host can export (kernel nvmet's configfs is mounted, or SPDK answers). */
    boolean available();

    /**
     * Creates or corrects the export so that it matches {@code spec} exactly, and describes it.
     * {@code sizeBytes} is the volume's current size: a target that does not notice a grown device
     * by itself (kernel nvmet) uses it to tell connected hosts that the namespace grew.
     */
    ExportInfo export(String volume, String devicePath, long sizeBytes, ExportSpec spec);

    /** Removes the volume's export; absent means done. */
    void unexport(String volume);

    /**
     * A subsystem on this host with one of Ferry's NQN forms: the volume and the cluster its NQN
     * names ({@code cluster} null for the form of before cluster ids), and whose that makes it.
     */
    record Exported(String nqn, String volume, String cluster, OrphanOwner owner) {
    }

    /** Every subsystem on this host named like a Ferry export under this cluster's prefix, any cluster's. */
    List<Exported> exports();

    /**
     * Sets the DH-HMAC-CHAP pair of host {@code pair.hostNqn()} to {@code pair} wherever this target
     * already admits that host (a key rotation; a later export uses the pair {@link ExportSecrets}
     * gives it anyway). Connections already authenticated stay; the host's next (re)authentication
     * must use this pair. A target that authenticates nobody has nothing to set.
     *
     * @throws java.io.UncheckedIOException naming the file and the target's answer, never the keys
     */
    default void setHostPair(HostSecret pair) {
    }

    /** Names of the volumes with an export this agent may manage: this cluster's, or of before cluster ids. */
    default Set<String> exportedVolumes() {
        Set<String> volumes = new TreeSet<>();
        exports().stream().filter(e -> e.owner() != OrphanOwner.OTHER_CLUSTER).forEach(e -> volumes.add(e.volume()));
        return volumes;
    }

    /** An exporter for hosts that cannot export: local consumers still work. */
    static Exporter none(String why) {
        return new Exporter() {
            @Override
            public boolean available() {
                return false;
            }

            @Override
            public ExportInfo export(String volume, String devicePath, long sizeBytes, ExportSpec spec) {
                throw new ExportUnavailableException("volume " + volume + " must be exported to " + spec.consumerNode()
                        + ", but this node cannot export NVMe-oF: " + why);
            }

            @Override
            public void unexport(String volume) {
            }

            @Override
            public List<Exported> exports() {
                return List.of();
            }
        };
    }
}
