package io.ferry.model;

import java.util.List;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;

/**
 * What one node must converge for one volume, key {@code <prefix>/work/<node>/volumes/<vol>},
 * written by the controller leader. The agent creates the volume if missing, grows it to
 * {@code sizeBytes}, exports it as {@code export} says (or withdraws the export when null), and
 * reports {@code generation} back as {@code observedGeneration}.
 *
 * <p>Deletion is only ever this explicit, durable order: the controller rewrites the work item
 * with {@code deletionRequested} and a new generation, the agent removes the volume and its status,
 * and the controller then deletes the work item together with the placement. A work item that is
 * simply missing (an operator's {@code etcdctl del}, an etcd restored from an old backup) deletes
 * nothing: the agent keeps the volume and reports it as an orphan.
 *
 * @param source content to create the volume from, null for an empty volume
 * @param export NVMe/TCP export for a remote consumer; null when the consumer is local or not yet
 *               attached
 * @param mustExist the volume was created before (the placement's first-creation record): if the agent
 *               does not find it, it is lost and reported so, never created again
 * @param emptySinceGeneration the generation at which an operator replaced a lost volume by a new, empty
 *               one; the agent's own records of the volume older than it no longer count (0: none)
 */
public record WorkItem(
        int schemaVersion,
        String volume,
        String node,
        String pool,
        Engine engine,
        long sizeBytes,
        boolean thin,
        long generation,
        VolumeSource source,
        ExportSpec export,
        boolean deletionRequested,
        boolean mustExist,
        long emptySinceGeneration) implements KeyNamed {

    public WorkItem {
        Schema.check(schemaVersion);
        Check.field("volume", Check.required(volume, "volume"), Names::volumeName);
        Check.field("node", Check.required(node, "node"), Names::nodeName);
        Check.field("pool", Check.required(pool, "pool"), Names::poolName);
        Check.required(engine, "engine");
        Check.positive(sizeBytes, "sizeBytes");
        Check.positive(generation, "generation");
        if (export != null && export.consumerNode().equals(node)) {
            throw new ValidationException("export", "export: consumer " + node + " is the serving node itself;"
                    + " local consumers use the device directly");
        }
        Check.nonNegative(emptySinceGeneration, "emptySinceGeneration");
        if (emptySinceGeneration > generation) {
            throw new ValidationException("emptySinceGeneration", "emptySinceGeneration: " + emptySinceGeneration
                    + " is after the work item's generation " + generation);
        }
    }

    @JsonCreator
    static WorkItem fromJson(
            @JsonProperty("schemaVersion") Integer schemaVersion,
            @JsonProperty("volume") String volume,
            @JsonProperty("node") String node,
            @JsonProperty("pool") String pool,
            @JsonProperty("engine") Engine engine,
            @JsonProperty("sizeBytes") @JsonDeserialize(using = SizeDeserializer.class) Long sizeBytes,
            @JsonProperty("thin") Boolean thin,
            @JsonProperty("generation") Long generation,
            @JsonProperty("source") VolumeSource source,
            @JsonProperty("export") ExportSpec export,
            @JsonProperty("deletionRequested") Boolean deletionRequested,
            @JsonProperty("mustExist") Boolean mustExist,
            @JsonProperty("emptySinceGeneration") Long emptySinceGeneration) {
        return new WorkItem(Schema.orDefault(schemaVersion), volume, node, pool, engine,
                Check.required(sizeBytes, "sizeBytes"), Check.orDefault(thin, false),
                Check.required(generation, "generation"), source, export, Check.orDefault(deletionRequested, false),
                Check.orDefault(mustExist, false), Check.orDefault(emptySinceGeneration, 0L));
    }

    public static WorkItem of(String volume, String node, String pool, Engine engine, long sizeBytes, boolean thin,
            long generation, VolumeSource source, ExportSpec export) {
        return new WorkItem(Schema.CURRENT_VERSION, volume, node, pool, engine, sizeBytes, thin, generation, source,
                export, false, false, 0);
    }

    /** This work item with the placement's record of the volume's creation (see {@link Placement#mustExist()}). */
    public WorkItem withCreationRecord(boolean mustExistNow, long emptySince) {
        return new WorkItem(schemaVersion, volume, node, pool, engine, sizeBytes, thin, generation, source, export,
                deletionRequested, mustExistNow, emptySince);
    }

    /** The order to delete this volume, at {@code newGeneration}: no export, nothing to create. */
    public WorkItem deletion(long newGeneration) {
        return new WorkItem(schemaVersion, volume, node, pool, engine, sizeBytes, thin, newGeneration, null, null, true,
                mustExist, emptySinceGeneration);
    }

    @Override
    public List<String> keyNames() {
        return List.of(node, volume);
    }
}
