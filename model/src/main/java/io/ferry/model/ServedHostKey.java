package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.time.Instant;

/**
 * A storage node's report that its target serves a consumer host's pair
 * ({@code <prefix>/nodes/<storage>/served-keys/<consumer>}): every host entry it has for that host
 * carries generation {@code generation}, and every export it makes from now on does. Never the keys.
 */
public record ServedHostKey(int schemaVersion, String consumer, long generation, Instant servedSince) {

    public ServedHostKey {
        Schema.check(schemaVersion);
        Check.field("consumer", Check.required(consumer, "consumer"), Names::nodeName);
        if (generation < 1) {
            throw new ValidationException("generation", "generation: " + generation + " is not a generation (1 or more)");
        }
        Check.required(servedSince, "servedSince");
    }

    @JsonCreator
    static ServedHostKey fromJson(
            @JsonProperty("schemaVersion") Integer schemaVersion,
            @JsonProperty("consumer") String consumer,
            @JsonProperty("generation") Long generation,
            @JsonProperty("servedSince") Instant servedSince) {
        return new ServedHostKey(Schema.orDefault(schemaVersion), consumer, Check.orDefault(generation, 0L), servedSince);
    }

    public static ServedHostKey of(String consumer, long generation, Instant servedSince) {
        return new ServedHostKey(Schema.CURRENT_VERSION, consumer, generation, servedSince);
    }
}
