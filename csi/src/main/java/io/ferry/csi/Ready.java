package io.ferry.csi;

import io.ferry.model.Placement;
import io.ferry.model.VolumeProgress;
import io.ferry.model.VolumeStatus;

/** A volume done for what a call waited for: where it lives and what its agent reports. */
record Ready(Placement placement, VolumeStatus status) {
    static Ready of(VolumeProgress.Done done) {
        return new Ready(done.placement(), done.status());
    }
}
