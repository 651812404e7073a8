package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;

import java.time.Instant;
import java.util.List;

/**
 * An operator's explicit, durable order to take one orphan of this cluster back into Ferry's
 * records, key {@code <prefix>/orphan-adoptions/<node>/<id>}, written by {@code ferryctl orphan
 * adopt} (or an operator). The agent of {@code node} acts only on an object that still exists,
 * carries this cluster's ownership marker and that no work item or placement names; acting means
 * writing the volume's status on the node (pool and size), never touching the data. It answers
 * under {@code <prefix>/nodes/<node>/orphan-adoptions/<id>} ({@link OrphanAdoptionResult}), once.
 *
 * @param id          names the order; DNS-label rules like a volume name
 * @param object      the orphan's {@code name} exactly as the orphan report lists it
 * @param requestedBy who asked (free text, for the record)
 */
public record OrphanAdoption(int schemaVersion, String id, String node, String object, String requestedBy,
        Instant requestedAt) implements KeyNamed {

    public OrphanAdoption {
        Schema.check(schemaVersion);
        OrphanOrders.checkOrder(id, node, object, requestedBy, requestedAt, "adopt");
    }

    @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
    static OrphanAdoption fromJson(OrphanOrders.Fields json) {
        return new OrphanAdoption(Schema.orDefault(json.schemaVersion()), json.id(), json.node(), json.object(),
                json.requestedBy(), json.requestedAt());
    }

    public static OrphanAdoption of(String id, String node, String object, String requestedBy, Instant requestedAt) {
        return new OrphanAdoption(Schema.CURRENT_VERSION, id, node, object, requestedBy, requestedAt);
    }

    @Override
    public List<String> keyNames() {
        return List.of(node, id);
    }
}
