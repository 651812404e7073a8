package io.ferry.agent.export;

import io.ferry.model.ExportInfo;
import io.ferry.model.ExportSpec;

import java.util.Set;

/**
 * Exports volumes over NVMe-oF: one subsystem per volume, named {@code <nqnPrefix>:vol:<volume>},
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

    /** Names of the volumes that currently have a Ferry export on this host. */
    Set<String> exportedVolumes();

    /** An exporter for hosts that cannot export: local consumers still work. */
    static Exporter none(String why) {
        return new Exporter() {
            @Override
            public boolean available() {
                return false;
            }

            @Override
            public ExportInfo export(String volume, String devicePath, long sizeBytes, ExportSpec spec) {
                throw new IllegalStateException("volume " + volume + " must be exported to " + spec.consumerNode()
                        + ", but this node cannot export NVMe-oF: " + why);
            }

            @Override
            public void unexport(String volume) {
            }

            @Override
            public Set<String> exportedVolumes() {
                return Set.of();
            }
        };
    }
}
