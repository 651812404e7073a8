package io.ferry.csi;

import io.ferry.model.Placement;
import io.ferry.model.Reach;
import io.ferry.model.VolumeProgress;
import io.ferry.model.VolumeStatus;

/**
 * A volume done for what a call waited for: where it lives, what its agent reports, and for a volume
 * served to a node how that node reaches it (null otherwise).
 */
record Ready(Placement placement, VolumeStatus status, Reach reach) {
    static Ready of(VolumeProgress.Done done) {
        return new Ready(done.placement(), done.status(), done.reach());
    }

    /** Whether the consumer uses the serving node's own device: on that node, or handed over on its machine. */
    boolean usesDevice() {
        return reach != null && !reach.needsExport() && status.devicePath() != null;
    }
}
