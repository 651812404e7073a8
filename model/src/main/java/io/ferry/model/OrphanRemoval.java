package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;

import java.time.Instant;
import java.util.List;

/**
 * An operator's explicit, durable order to remove one orphan from a node, key
 * {@code <prefix>/orphan-removals/<node>/<id>}, written by {@code ferryctl orphan rm} (or an
 * operator). The agent of {@code node} carries it out only if the object still exists, carries this
 * cluster's ownership marker and no work item or placement names it, and answers under
 * {@code <prefix>/nodes/<node>/orphan-removals/<id>} ({@link OrphanRemovalResult}). An order is
 * carried out at most once; writing it again under the same id does nothing.
 *
 * @param id          names the order; DNS-label rules like a volume name
 * @param object      the orphan's {@code name} exactly as the orphan report lists it
 * @param requestedBy who asked (free text, for the record)
 */
public record OrphanRemoval(int schemaVersion, String id, String node, String object, String requestedBy,
        Instant requestedAt) implements KeyNamed {

    public OrphanRemoval {
        Schema.check(schemaVersion);
        OrphanOrders.checkOrder(id, node, object, requestedBy, requestedAt, "remove");
    }

    @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
    static OrphanRemoval fromJson(OrphanOrders.Fields json) {
        return new OrphanRemoval(Schema.orDefault(json.schemaVersion()), json.id(), json.node(), json.object(),
                json.requestedBy(), json.requestedAt());
    }

    public static OrphanRemoval of(String id, String node, String object, String requestedBy, Instant requestedAt) {
        return new OrphanRemoval(Schema.CURRENT_VERSION, id, node, object, requestedBy, requestedAt);
    }

    @Override
    public List<String> keyNames() {
        return List.of(node, id);
    }
}
