package io.ferry.model;

import java.util.List;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.time.Instant;

/**
 * A volume published to a consumer node (CSI ControllerPublish), key
 * {@code <prefix>/attachments/<vol>/<node>}, written by the CSI controller or {@code ferryctl}. The
 * controller turns it into the export of the volume's work item; deleting the key unpublishes.
 *
 * @param hostNqn the consumer's host NQN, the only host allowed on the export
 */
public record Attachment(int schemaVersion, String volume, String node, String hostNqn, boolean readOnly,
        Instant createdAt) implements KeyNamed {

    public Attachment {
        Schema.check(schemaVersion);
        Check.field("volume", Check.required(volume, "volume"), Names::volumeName);
        Check.field("node", Check.required(node, "node"), Names::nodeName);
        Check.field("hostNqn", Check.required(hostNqn, "hostNqn"), Nqn::validate);
    }

    @JsonCreator
    static Attachment fromJson(
            @JsonProperty("schemaVersion") Integer schemaVersion,
            @JsonProperty("volume") String volume,
            @JsonProperty("node") String node,
            @JsonProperty("hostNqn") String hostNqn,
            @JsonProperty("readOnly") Boolean readOnly,
            @JsonProperty("createdAt") Instant createdAt) {
        return new Attachment(Schema.orDefault(schemaVersion), volume, node, hostNqn, Check.orDefault(readOnly, false),
                createdAt);
    }

    public static Attachment of(String volume, String node, String hostNqn, boolean readOnly, Instant createdAt) {
        return new Attachment(Schema.CURRENT_VERSION, volume, node, hostNqn, readOnly, createdAt);
    }

    @Override
    public List<String> keyNames() {
        return List.of(volume, node);
    }
}
