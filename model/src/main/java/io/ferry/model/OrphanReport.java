package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.time.Instant;
import java.util.List;

/**
 * Everything an agent found on its node that no work item accounts for, key
 * {@code <prefix>/nodes/<node>/orphans}, written by the agent after each inventory. The whole
 * list is rewritten each time; an empty list means nothing is orphaned.
 */
public record OrphanReport(int schemaVersion, String node, List<Orphan> orphans, Instant observedAt) implements KeyNamed {
    /** Bounded so that the value stays far below etcd's request limit. */
    public static final int MAX_ORPHANS = 1000;

    public OrphanReport {
        Schema.check(schemaVersion);
        Check.field("node", Check.required(node, "node"), Names::nodeName);
        orphans = Check.list(orphans, "orphans", MAX_ORPHANS, (o, f) -> o);
        Check.required(observedAt, "observedAt");
    }

    @JsonCreator
    static OrphanReport fromJson(
            @JsonProperty("schemaVersion") Integer schemaVersion,
            @JsonProperty("node") String node,
            @JsonProperty("orphans") List<Orphan> orphans,
            @JsonProperty("observedAt") Instant observedAt) {
        return new OrphanReport(Schema.orDefault(schemaVersion), node, orphans, observedAt);
    }

    public static OrphanReport of(String node, List<Orphan> orphans, Instant observedAt) {
        return new OrphanReport(Schema.CURRENT_VERSION, node, orphans, observedAt);
    }

    @Override
    public List<String> keyNames() {
        return List.of(node);
    }
}
