package io.ferry.placement;

import io.ferry.model.NodeRegistration;
import io.ferry.model.VolumeIntent;

import java.util.Set;

/**
 * One volume to place.
 *
 * @param requiredPool  the pool the volume must land on (a clone or a volume from a snapshot lives
 *                      with its source), or null
 * @param takenDomains  failure domains already used by other volumes of the intent's spread group,
 *                      at the intent's level
 * @param consumer      the registration of the intent's consumer node, or null (none named, or it is
 *                      not registered): it tells whether a candidate shares the consumer's machine
 */
public record Request(VolumeIntent intent, String requiredPool, Set<String> takenDomains, NodeRegistration consumer) {

    public Request {
        takenDomains = takenDomains == null ? Set.of() : Set.copyOf(takenDomains);
    }

    public Request(VolumeIntent intent, String requiredPool, Set<String> takenDomains) {
        this(intent, requiredPool, takenDomains, null);
    }

    /** This request knowing its consumer node's registration. */
    public Request withConsumer(NodeRegistration registration) {
        return new Request(intent, requiredPool, takenDomains, registration);
    }

    public static Request of(VolumeIntent intent) {
        return new Request(intent, null, Set.of(), null);
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
