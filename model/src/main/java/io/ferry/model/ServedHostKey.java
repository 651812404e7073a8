package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.time.Instant;

/**
 * A storage node's report that its target serves a consumer host's pair
 * ({@code <prefix>/nodes/<storage>/served-keys/<consumer>}): every host entry it has for that host
 * carries the controller key of generation {@code generation} and the host key of generation
 * {@code hostKeyGeneration} (the same, but half-way through a rotation; absent in JSON: the same),
 * and every export it makes from now on does. Never the keys.
 */
public record ServedHostKey(int schemaVersion, String consumer, long generation, long hostKeyGeneration,
                            Instant servedSince) {

    public ServedHostKey {
        Schema.check(schemaVersion);
        Check.field("consumer", Check.required(consumer, "consumer"), Names::nodeName);
        if (generation < 1) {
            throw new ValidationException("generation", "generation: " + generation + " is not a generation (1 or more)");
        }
        if (hostKeyGeneration < 1 || hostKeyGeneration > generation) {
            throw new ValidationException("hostKeyGeneration", "hostKeyGeneration: " + hostKeyGeneration
                    + " is not a generation from 1 to generation (" + generation + ")");
        }
        Check.required(servedSince, "servedSince");
    }

    @JsonCreator
    static ServedHostKey fromJson(
            @JsonProperty("schemaVersion") Integer schemaVersion,
            @JsonProperty("consumer") String consumer,
            @JsonProperty("generation") Long generation,
            @JsonProperty("hostKeyGeneration") Long hostKeyGeneration,
            @JsonProperty("servedSince") Instant servedSince) {
        long g = Check.orDefault(generation, 0L);
        return new ServedHostKey(Schema.orDefault(schemaVersion), consumer, g, Check.orDefault(hostKeyGeneration, g),
                servedSince);
    }

    /** A whole pair of one generation. */
    public static ServedHostKey of(String consumer, long generation, Instant servedSince) {
        return new ServedHostKey(Schema.CURRENT_VERSION, consumer, generation, generation, servedSince);
    }

    /** What a target serves once it has set {@code pair}. */
    public static ServedHostKey of(HostSecret pair, Instant servedSince) {
        return new ServedHostKey(Schema.CURRENT_VERSION, pair.node(), pair.generation(), pair.hostKeyGeneration(),
                servedSince);
    }

    /** Whether the target serves at least the controller key of {@code g}. */
    public boolean servesCtrlKeyOf(long g) {
        return generation >= g;
    }

    /** Whether the target serves the whole pair of {@code g} (or a later one). */
    public boolean servesPairOf(long g) {
        return hostKeyGeneration >= g;
    }
}
