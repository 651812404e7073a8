package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * An operator's request to move one leg of a mirror to another pool while the volume stays in use
 * ({@code ferryctl volume migrate}, {@code moveParts} in the volume's intent): the controller places a
 * new leg, the consumer adds it to the running array and rebuilds it, and only then is the old leg
 * retired and deleted (docs/layouts.md, "Live migration").
 *
 * @param part   the leg to move, {@code <volume>--p<index>}
 * @param toPool the pool to move it to; null lets the scheduler choose, by the rules a new leg is placed by
 */
public record PartMove(String part, @JsonInclude(JsonInclude.Include.NON_NULL) String toPool) {

    public PartMove {
        Check.required(part, "moveParts[].part");
        Check.nullable("moveParts[].toPool", toPool, Names::poolName);
    }

    @JsonCreator
    static PartMove fromJson(@JsonProperty("part") String part, @JsonProperty("toPool") String toPool) {
        return new PartMove(part, toPool);
    }
}
