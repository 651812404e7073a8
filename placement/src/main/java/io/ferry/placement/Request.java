package io.ferry.placement;

import io.ferry.model.FailureDomainLevel;
import io.ferry.model.NodeRegistration;
import io.ferry.model.VolumeIntent;

import java.util.HashSet;
import java.util.Objects;
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
 * @param legs          how many legs of one volume are kept in distinct failure domains at the intent's
 *                      level, this one among them (1: a volume of one part); above 1 every pool must
 *                      show its domain, as a spread-group member must ({@link Scheduler#decideLegs})
 * @param consumerHash  derived: the hash of the intent's consumer node (0 without one), compared with
 *                      {@link Candidate#nodeHash()} before any name is read
 * @param takenHashes   derived: the hashes of {@code takenDomains}, likewise for the spread filter
 */
public record Request(VolumeIntent intent, String requiredPool, Set<String> takenDomains, NodeRegistration consumer,
                      int legs, int consumerHash, int[] takenHashes) {

    /** The derived components are always recomputed here, whatever a caller passes. */
    public Request {
        takenDomains = takenDomains == null ? Set.of() : Set.copyOf(takenDomains);
        consumerHash = intent.consumerNode() == null ? 0 : intent.consumerNode().hashCode();
        takenHashes = takenDomains.stream().mapToInt(String::hashCode).toArray();
    }

    public Request(VolumeIntent intent, String requiredPool, Set<String> takenDomains, NodeRegistration consumer) {
        this(intent, requiredPool, takenDomains, consumer, 1, 0, null);
    }

    public Request(VolumeIntent intent, String requiredPool, Set<String> takenDomains) {
        this(intent, requiredPool, takenDomains, null);
    }

    /** This request knowing its consumer node's registration. */
    public Request withConsumer(NodeRegistration registration) {
        return new Request(intent, requiredPool, takenDomains, registration, legs, 0, null);
    }

    /**
     * One leg of {@code legs}: the domains of the legs already placed are taken, as those of the
     * group's other members are.
     */
    Request forLeg(int legs, Set<String> otherLegDomains) {
        Set<String> taken = new HashSet<>(takenDomains);
        taken.addAll(otherLegDomains);
        return new Request(intent, requiredPool, taken, consumer, legs, 0, null);
    }

    public static Request of(VolumeIntent intent) {
        return new Request(intent, null, Set.of(), null);
    }

    /** Equal when the five given components are; the derived ones follow from them. */
    @Override
    public boolean equals(Object o) {
        return o instanceof Request r && intent.equals(r.intent) && Objects.equals(requiredPool, r.requiredPool)
                && takenDomains.equals(r.takenDomains) && Objects.equals(consumer, r.consumer) && legs == r.legs;
    }

    @Override
    public int hashCode() {
        return Objects.hash(intent, requiredPool, takenDomains, consumer, legs);
    }

    public long sizeBytes() {
        return intent.sizeBytes();
    }

    public boolean thin() {
        return intent.thin();
    }

    /** True when the volume's consumer would reach it over the network from this candidate. */
    public boolean remoteFrom(Candidate candidate) {
        return intent.consumerNode() != null && !candidate.isOn(intent.consumerNode(), consumerHash);
    }

    /** True when the candidate is on the volume's consumer node. */
    public boolean localTo(Candidate candidate) {
        return candidate.isOn(intent.consumerNode(), consumerHash);
    }

    /** Whether the candidate's domain at this request's spread level is one the group already uses. */
    boolean domainTaken(Candidate candidate, FailureDomainLevel level) {
        int hash = candidate.domainHash(level);
        for (int taken : takenHashes) {
            if (taken == hash) {
                return takenDomains.contains(candidate.domain(level));
            }
        }
        return false;
    }
}
