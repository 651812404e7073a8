package io.ferry.placement;

import io.ferry.model.VolumeIntent;

import java.util.Set;

/**
 * One volume to place.
 *
 * @param requiredPool  the pool the volume must land on (a clone or a volume from a snapshot lives
 *                      with its source), or null
 * @param takenDomains  failure domains already used by other volumes of the intent's spread group,
 *                      at the intent's level
 */
public record Request(VolumeIntent intent, String requiredPool, Set<String> takenDomains) {

    public Request {
        takenDomains = takenDomains == null ? Set.of() : Set.copyOf(takenDomains);
    }

    public static Request of(VolumeIntent intent) {
        return new Request(intent, null, Set.of());
    }

    public long sizeBytes() {
        return intent.sizeBytes();
    }

    public boolean thin() {
        return intent.thin();
    }

    /** True when the volume's consumer would reach it over the network from this candidate. */
    public boolean remoteFrom(Candidate candidate) {
        return intent.consumerNode() != null && !intent.consumerNode().equals(candidate.node());
    }
}
