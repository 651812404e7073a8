package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A request for a volume, key {@code <prefix>/volumes/<vol>}, written by the CSI controller,
 * {@code ferryctl} or an operator. The controller places it; raising {@code sizeBytes} later asks
 * for an expansion; setting {@code deletionRequested} asks for deletion (never delete the key
 * directly: the controller removes it once the volume is gone everywhere).
 *
 * @param name                volume name, equal to the key's last segment
 * @param sizeBytes           size, rounded up to a multiple of 4 MiB on construction (a striped volume's to
 *                            a multiple of its stripe count times 4 MiB); at most 1 PiB
 * @param thin                allocate space on write (default false)
 * @param engine              required engine, or null for any engine that can hold the volume
 * @param positionAdvice      relation to the consumer node (default {@code PreferLocal})
 * @param consumerNode        node that will use the volume; required for MustLocal and MustRemote
 * @param spreadGroup         volumes with the same spread group are kept in different failure domains
 * @param failureDomainLevel  granularity of that spreading (default {@code node})
 * @param poolSelector        labels a pool must carry (all of them)
 * @param nodeSelector        labels the pool's node registration must carry (all of them)
 * @param sourceSnapshot      create from this snapshot; exclusive with {@code sourceVolume}
 * @param sourceVolume        create as a clone of this volume; exclusive with {@code sourceSnapshot}
 * @param fsType              {@code ext4}, {@code xfs}, or null for a raw block volume / unspecified
 * @param mkfsOptions         extra mkfs arguments, each flag and its value as separate elements, from
 *                            {@link MkfsOptions}' allow-list for {@code fsType}; passed as arguments,
 *                            never through a shell
 * @param deletionRequested   the volume should be deleted
 * @param createdBy           free-form origin such as {@code csi} or {@code ferryctl}, may be null
 * @param createdAt           creation time, may be null for hand-written intents
 * @param recreateEmptyRequestedAt an operator's decision ({@code ferryctl volume recreate --empty}) to
 *                            replace this volume, found {@code Lost}, by a new, empty one where it was
 *                            placed; each distinct value is acted on once, and only while the volume is Lost
 * @param adoptFromNode       the volume already exists on this node, taken back by an operator's adoption order
 *                            ({@code ferryctl orphan adopt}): the controller never places it as a new volume, it
 *                            rebuilds the placement from that node's status of the volume, or waits for it
 * @param layout              how the volume is laid out over its parts (default {@code single}; docs/layouts.md)
 * @param parts               how many parts: 1 for {@code single} (the default); for {@code linear} at most
 *                            this many segments, 1-4 (default 2), as few as hold the volume; for {@code mirror}
 *                            2-3 legs (default 2)
 * @param partOf              set only on the intents the controller writes for the parts of a multi-part
 *                            volume: the volume this part belongs to; its name is then {@link PartNames#of}
 * @param lostParts           legs of this mirror an operator declared lost ({@code ferryctl volume replace-leg}):
 *                            the controller places a replacement for each that is still a member, and the
 *                            lost leg is deleted; listing a leg twice, or one already replaced, changes nothing
 * @param moveParts           legs of this mirror an operator asked to move ({@code ferryctl volume migrate}): the
 *                            controller places a new leg (on the named pool, or where the scheduler chooses) and
 *                            retires the old one once the consumer has it in sync; taking an entry out before
 *                            that gives the move up; an entry whose leg is no member any more changes nothing
 */
public record VolumeIntent(
        int schemaVersion,
        String name,
        long sizeBytes,
        boolean thin,
        Engine engine,
        PositionAdvice positionAdvice,
        String consumerNode,
        String spreadGroup,
        FailureDomainLevel failureDomainLevel,
        Map<String, String> poolSelector,
        Map<String, String> nodeSelector,
        String sourceSnapshot,
        String sourceVolume,
        String fsType,
        List<String> mkfsOptions,
        boolean deletionRequested,
        String createdBy,
        Instant createdAt,
        Instant recreateEmptyRequestedAt,
        String adoptFromNode,
        Layout layout,
        int parts,
        String partOf,
        @JsonInclude(JsonInclude.Include.NON_EMPTY) List<String> lostParts,
        @JsonInclude(JsonInclude.Include.NON_EMPTY) List<PartMove> moveParts) implements KeyNamed {

    /** Filesystems the CSI node plugin knows how to create and mount. */
    public static final Set<String> FS_TYPES = Set.of("ext4", "xfs");
    public static final int MAX_MKFS_OPTIONS = 16;

    public VolumeIntent {
        Schema.check(schemaVersion);
        Check.field("name", Check.required(name, "name"), Names::volumeName);
        sizeBytes = Sizes.volumeSize(sizeBytes);
        if (engine != null) {
            if (thin && !engine.thin()) {
                throw new ValidationException("thin", "thin: engine " + engine + " cannot hold thin volumes; use"
                        + " lvm-thin, spdk or file, or omit engine");
            }
            if (!thin && !engine.thick()) {
                throw new ValidationException("thin", "thin: engine " + engine + " holds only thin volumes; set"
                        + " \"thin\": true or choose another engine");
            }
        }
        Check.required(positionAdvice, "positionAdvice");
        Check.nullable("consumerNode", consumerNode, Names::nodeName);
        if (consumerNode == null
                && (positionAdvice == PositionAdvice.MUST_LOCAL || positionAdvice == PositionAdvice.MUST_REMOTE)) {
            throw new ValidationException("consumerNode", "consumerNode: is required when positionAdvice is "
                    + positionAdvice + ", because the advice is relative to the consumer node");
        }
        Check.nullable("spreadGroup", spreadGroup, Names::spreadGroupName);
        Check.required(failureDomainLevel, "failureDomainLevel");
        poolSelector = Check.labels(poolSelector, "poolSelector");
        nodeSelector = Check.labels(nodeSelector, "nodeSelector");
        Check.nullable("sourceSnapshot", sourceSnapshot, Names::snapshotName);
        Check.nullable("sourceVolume", sourceVolume, Names::volumeName);
        if (sourceSnapshot != null && sourceVolume != null) {
            throw new ValidationException("sourceVolume", "sourceVolume: cannot be combined with sourceSnapshot;"
                    + " a volume is created from at most one source");
        }
        if (name.equals(sourceVolume)) {
            throw new ValidationException("sourceVolume", "sourceVolume: a volume cannot be a clone of itself");
        }
        if (fsType != null && !FS_TYPES.contains(fsType)) {
            throw new ValidationException("fsType", "fsType: " + Names.quote(fsType) + " is not supported"
                    + " (allowed: ext4, xfs, or omit it for a raw block volume)");
        }
        mkfsOptions = Check.list(mkfsOptions, "mkfsOptions", MAX_MKFS_OPTIONS, MkfsOptions::element);
        if (!mkfsOptions.isEmpty() && fsType == null) {
            throw new ValidationException("mkfsOptions", "mkfsOptions: given without fsType; options need a"
                    + " filesystem to apply to");
        }
        MkfsOptions.check(fsType, mkfsOptions, "mkfsOptions");
        Check.text(createdBy, "createdBy", 253);
        Check.nullable("adoptFromNode", adoptFromNode, Names::nodeName);
        if (adoptFromNode != null && (sourceSnapshot != null || sourceVolume != null)) {
            throw new ValidationException("adoptFromNode", "adoptFromNode: an adopted volume exists already; it"
                    + " cannot also be made from a source");
        }
        Check.required(layout, "layout");
        LayoutRules.check(name, layout, parts, partOf, sourceSnapshot != null || sourceVolume != null, adoptFromNode != null);
        sizeBytes = LayoutRules.volumeSize(layout, parts, sizeBytes);
        lostParts = LayoutRules.lostParts(name, layout, lostParts);
        moveParts = LayoutRules.moveParts(name, layout, moveParts);
    }

    @JsonCreator
    static VolumeIntent fromJson(
            @JsonProperty("schemaVersion") Integer schemaVersion,
            @JsonProperty("name") String name,
            @JsonProperty("sizeBytes") @JsonDeserialize(using = SizeDeserializer.class) Long sizeBytes,
            @JsonProperty("thin") Boolean thin,
            @JsonProperty("engine") Engine engine,
            @JsonProperty("positionAdvice") PositionAdvice positionAdvice,
            @JsonProperty("consumerNode") String consumerNode,
            @JsonProperty("spreadGroup") String spreadGroup,
            @JsonProperty("failureDomainLevel") FailureDomainLevel failureDomainLevel,
            @JsonProperty("poolSelector") Map<String, String> poolSelector,
            @JsonProperty("nodeSelector") Map<String, String> nodeSelector,
            @JsonProperty("sourceSnapshot") String sourceSnapshot,
            @JsonProperty("sourceVolume") String sourceVolume,
            @JsonProperty("fsType") String fsType,
            @JsonProperty("mkfsOptions") List<String> mkfsOptions,
            @JsonProperty("deletionRequested") Boolean deletionRequested,
            @JsonProperty("createdBy") String createdBy,
            @JsonProperty("createdAt") Instant createdAt,
            @JsonProperty("recreateEmptyRequestedAt") Instant recreateEmptyRequestedAt,
            @JsonProperty("adoptFromNode") String adoptFromNode,
            @JsonProperty("layout") Layout layout,
            @JsonProperty("parts") Integer parts,
            @JsonProperty("partOf") String partOf,
            @JsonProperty("lostParts") List<String> lostParts,
            @JsonProperty("moveParts") List<PartMove> moveParts) {
        Layout l = Check.orDefault(layout, Layout.SINGLE);
        return new VolumeIntent(Schema.orDefault(schemaVersion), name, Check.required(sizeBytes, "sizeBytes"),
                Check.orDefault(thin, false), engine, Check.orDefault(positionAdvice, PositionAdvice.PREFER_LOCAL),
                consumerNode, spreadGroup, Check.orDefault(failureDomainLevel, FailureDomainLevel.NODE),
                poolSelector, nodeSelector, sourceSnapshot, sourceVolume, fsType, mkfsOptions,
                Check.orDefault(deletionRequested, false), createdBy, createdAt, recreateEmptyRequestedAt, adoptFromNode,
                l, Check.orDefault(parts, l.defaultParts()), partOf, lostParts, moveParts);
    }

    /**
     * The size a volume of {@code layout} over {@code parts} parts gets when {@code requested} bytes are
     * asked for: what its intent rounds the request up to.
     */
    public static long volumeSize(Layout layout, int parts, long requested) {
        return LayoutRules.volumeSize(layout, parts, requested);
    }

    /** This intent with deletion requested (the only way to delete a volume). */
    public VolumeIntent withDeletionRequested() {
        return toBuilder().deletionRequested(true).build();
    }

    /** This intent with the operator's request, made at {@code at}, to replace the lost volume by an empty one. */
    public VolumeIntent withRecreateEmptyRequested(Instant at) {
        return toBuilder().recreateEmptyRequestedAt(at).build();
    }

    /** This intent with {@code part} declared lost (kept once if it already was). */
    public VolumeIntent withLostPart(String part) {
        if (lostParts.contains(part)) {
            return this;
        }
        List<String> lost = new ArrayList<>(lostParts);
        lost.add(part);
        return toBuilder().lostParts(lost).build();
    }

    /**
     * This intent asking for {@code part} to move to {@code toPool} (null: anywhere the scheduler
     * chooses); an earlier request for the same leg is replaced.
     */
    public VolumeIntent withPartMove(String part, String toPool) {
        List<PartMove> moves = new ArrayList<>(moveParts.stream().filter(m -> !m.part().equals(part)).toList());
        moves.add(new PartMove(part, toPool));
        return toBuilder().moveParts(moves).build();
    }

    /** This intent without a request to move {@code part} (a move not done yet is given up). */
    public VolumeIntent withoutPartMove(String part) {
        return toBuilder().moveParts(moveParts.stream().filter(m -> !m.part().equals(part)).toList()).build();
    }

    /** The request to move {@code part}, if there is one. */
    public Optional<PartMove> partMove(String part) {
        return moveParts.stream().filter(m -> m.part().equals(part)).findFirst();
    }

    /** This intent with a new size (an expansion request when larger). */
    public VolumeIntent withSizeBytes(long newSizeBytes) {
        return toBuilder().sizeBytes(newSizeBytes).build();
    }

    public static Builder builder(String name, long sizeBytes) {
        return new Builder(name, sizeBytes);
    }

    public Builder toBuilder() {
        Builder b = new Builder(name, sizeBytes);
        b.thin = thin;
        b.engine = engine;
        b.positionAdvice = positionAdvice;
        b.consumerNode = consumerNode;
        b.spreadGroup = spreadGroup;
        b.failureDomainLevel = failureDomainLevel;
        b.poolSelector = poolSelector;
        b.nodeSelector = nodeSelector;
        b.sourceSnapshot = sourceSnapshot;
        b.sourceVolume = sourceVolume;
        b.fsType = fsType;
        b.mkfsOptions = mkfsOptions;
        b.deletionRequested = deletionRequested;
        b.createdBy = createdBy;
        b.createdAt = createdAt;
        b.recreateEmptyRequestedAt = recreateEmptyRequestedAt;
        b.adoptFromNode = adoptFromNode;
        b.layout = layout;
        b.parts = parts;
        b.partOf = partOf;
        b.lostParts = lostParts;
        b.moveParts = moveParts;
        return b;
    }

    /** Mutable builder; {@link #build()} validates. Not thread-safe. */
    public static final class Builder {
        private final String name;
        private long sizeBytes;
        private boolean thin;
        private Engine engine;
        private PositionAdvice positionAdvice = PositionAdvice.PREFER_LOCAL;
        private String consumerNode;
        private String spreadGroup;
        private FailureDomainLevel failureDomainLevel = FailureDomainLevel.NODE;
        private Map<String, String> poolSelector = Map.of();
        private Map<String, String> nodeSelector = Map.of();
        private String sourceSnapshot;
        private String sourceVolume;
        private String fsType;
        private List<String> mkfsOptions = List.of();
        private boolean deletionRequested;
        private String createdBy;
        private Instant createdAt;
        private Instant recreateEmptyRequestedAt;
        private String adoptFromNode;
        private Layout layout = Layout.SINGLE;
        private int parts = 1;
        private String partOf;
        private List<String> lostParts = List.of();
        private List<PartMove> moveParts = List.of();

        private Builder(String name, long sizeBytes) {
            this.name = name;
            this.sizeBytes = sizeBytes;
        }

        public Builder sizeBytes(long v) {
            sizeBytes = v;
            return this;
        }

        public Builder thin(boolean v) {
            thin = v;
            return this;
        }

        public Builder engine(Engine v) {
            engine = v;
            return this;
        }

        public Builder positionAdvice(PositionAdvice v) {
            positionAdvice = v;
            return this;
        }

        public Builder consumerNode(String v) {
            consumerNode = v;
            return this;
        }

        public Builder spreadGroup(String v) {
            spreadGroup = v;
            return this;
        }

        public Builder failureDomainLevel(FailureDomainLevel v) {
            failureDomainLevel = v;
            return this;
        }

        public Builder poolSelector(Map<String, String> v) {
            poolSelector = v;
            return this;
        }

        public Builder nodeSelector(Map<String, String> v) {
            nodeSelector = v;
            return this;
        }

        public Builder sourceSnapshot(String v) {
            sourceSnapshot = v;
            return this;
        }

        public Builder sourceVolume(String v) {
            sourceVolume = v;
            return this;
        }

        public Builder fsType(String v) {
            fsType = v;
            return this;
        }

        public Builder mkfsOptions(List<String> v) {
            mkfsOptions = v;
            return this;
        }

        public Builder deletionRequested(boolean v) {
            deletionRequested = v;
            return this;
        }

        public Builder createdBy(String v) {
            createdBy = v;
            return this;
        }

        public Builder createdAt(Instant v) {
            createdAt = v;
            return this;
        }

        public Builder recreateEmptyRequestedAt(Instant v) {
            recreateEmptyRequestedAt = v;
            return this;
        }

        public Builder adoptFromNode(String v) {
            adoptFromNode = v;
            return this;
        }

        /** Sets the layout and, unless {@link #parts} follows, its default part count. */
        public Builder layout(Layout v) {
            layout = v;
            parts = v == null ? parts : v.defaultParts();
            return this;
        }

        public Builder parts(int v) {
            parts = v;
            return this;
        }

        public Builder partOf(String v) {
            partOf = v;
            return this;
        }

        public Builder lostParts(List<String> v) {
            lostParts = v;
            return this;
        }

        public Builder moveParts(List<PartMove> v) {
            moveParts = v;
            return this;
        }

        public VolumeIntent build() {
            return new VolumeIntent(Schema.CURRENT_VERSION, name, sizeBytes, thin, engine, positionAdvice,
                    consumerNode, spreadGroup, failureDomainLevel, poolSelector, nodeSelector, sourceSnapshot,
                    sourceVolume, fsType, mkfsOptions, deletionRequested, createdBy, createdAt, recreateEmptyRequestedAt,
                    adoptFromNode, layout, parts, partOf, lostParts, moveParts);
        }
    }

    @Override
    public List<String> keyNames() {
        return List.of(name);
    }
}
