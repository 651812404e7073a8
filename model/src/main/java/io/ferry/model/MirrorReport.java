package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonValue;

import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * What the consumer's md array says of a mirror, key {@code <prefix>/mirror-health/<vol>/<node>},
 * written by the CSI node plugin of the node where the mirror is assembled whenever a leg's state
 * changes, and removed when it unstages the volume. The controller reads it to finish a move: the old
 * leg is retired only once this report shows the new leg in sync (docs/layouts.md, "Live migration").
 * Operators read it in {@code ferryctl volume describe}.
 *
 * @param arrayUuid        the array's UUID as the parts record holds it: a report of another array is ignored
 * @param legs             one per member of the parts record when the report was made, in its order
 * @param syncAction       md's {@code sync_action} ({@code idle}, {@code resync}, {@code recover}, ...)
 * @param syncPercent      the running sync's progress, 0-100; -1 when none runs
 * @param rateKibPerSecond the running sync's rate as md measures it; 0 when none runs
 */
public record MirrorReport(int schemaVersion, String volume, String node, String arrayUuid, List<Leg> legs,
                           String syncAction, double syncPercent, long rateKibPerSecond, Instant observedAt)
        implements KeyNamed {

    /** A leg's state in the array, as md has it. */
    public enum LegState {
        IN_SYNC, REBUILDING, FAULTY,
        /** The leg's device is on the node but is no member of the array. */
        OUT,
        /** The leg has no device on the node (its node down, or its connection given up). */
        ABSENT;

        @JsonValue
        public String value() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }

        @JsonCreator
        static LegState fromJson(String value) {
            for (LegState s : values()) {
                if (s.value().equals(value)) {
                    return s;
                }
            }
            throw new ValidationException("legs[].state", "legs[].state: " + Names.quote(value)
                    + " is not one of in-sync, rebuilding, faulty, out, absent");
        }
    }

    public record Leg(String part, LegState state) {
        public Leg {
            Check.required(part, "legs[].part");
            Check.required(state, "legs[].state");
        }

        @JsonCreator
        static Leg fromJson(@JsonProperty("part") String part, @JsonProperty("state") LegState state) {
            return new Leg(part, state);
        }
    }

    public MirrorReport {
        Schema.check(schemaVersion);
        Check.field("volume", Check.required(volume, "volume"), Names::volumeName);
        Check.field("node", Check.required(node, "node"), Names::nodeName);
        Check.required(arrayUuid, "arrayUuid");
        legs = Check.list(legs, "legs", PartNames.MAX_INDEX, (leg, path) -> {
            boolean ours = PartNames.parse(leg.part()).map(p -> p.volume().equals(volume)).orElse(false);
            if (!ours) {
                throw new ValidationException("legs", path + ".part: " + Names.quote(leg.part()) + " is not a part of "
                        + volume);
            }
            return leg;
        });
        Check.token(syncAction, "syncAction", 32);
        Check.range(syncPercent, -1, 100, "syncPercent");
        Check.nonNegative(rateKibPerSecond, "rateKibPerSecond");
        Check.required(observedAt, "observedAt");
    }

    @JsonCreator
    static MirrorReport fromJson(@JsonProperty("schemaVersion") Integer schemaVersion,
                                 @JsonProperty("volume") String volume,
                                 @JsonProperty("node") String node,
                                 @JsonProperty("arrayUuid") String arrayUuid,
                                 @JsonProperty("legs") List<Leg> legs,
                                 @JsonProperty("syncAction") String syncAction,
                                 @JsonProperty("syncPercent") Double syncPercent,
                                 @JsonProperty("rateKibPerSecond") Long rateKibPerSecond,
                                 @JsonProperty("observedAt") Instant observedAt) {
        return new MirrorReport(Schema.orDefault(schemaVersion), volume, node, arrayUuid, legs, syncAction,
                Check.orDefault(syncPercent, -1.0), Check.orDefault(rateKibPerSecond, 0L), observedAt);
    }

    public static MirrorReport of(String volume, String node, String arrayUuid, List<Leg> legs, String syncAction,
                                  double syncPercent, long rateKibPerSecond, Instant observedAt) {
        return new MirrorReport(Schema.CURRENT_VERSION, volume, node, arrayUuid, legs, syncAction, syncPercent,
                rateKibPerSecond, observedAt);
    }

    /** Whether {@code part} is in sync in the array, by this report. */
    public boolean inSync(String part) {
        return legs.stream().anyMatch(l -> l.part().equals(part) && l.state() == LegState.IN_SYNC);
    }

    /** The same observation, ignoring when it was made and the rate: whether a new report says anything new. */
    public boolean sameLegs(MirrorReport other) {
        return other != null && legs.equals(other.legs) && arrayUuid.equals(other.arrayUuid)
                && Objects.equals(syncAction, other.syncAction);
    }

    @Override
    public List<String> keyNames() {
        return List.of(volume, node);
    }
}
