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
 * @param hostNqn    the consumer's host NQN, the only host allowed on the export
 * @param capability how the CSI plugin published the volume (access type, filesystem and access
 *                   mode, e.g. {@code mount:ext4/SINGLE_NODE_WRITER}), so that a repeated publish
 *                   with another one is refused; opaque to everyone else, absent when written by
 *                   {@code ferryctl} or an older plugin
 */
public record Attachment(int schemaVersion, String volume, String node, String hostNqn, boolean readOnly,
        Instant createdAt, String capability) implements KeyNamed {

    public Attachment {
        Schema.check(schemaVersion);
        Check.field("volume", Check.required(volume, "volume"), Names::volumeName);
        Check.field("node", Check.required(node, "node"), Names::nodeName);
        Check.field("hostNqn", Check.required(hostNqn, "hostNqn"), Nqn::validate);
        Check.token(capability, "capability", 128);
    }

    @JsonCreator
    static Attachment fromJson(
            @JsonProperty("schemaVersion") Integer schemaVersion,
            @JsonProperty("volume") String volume,
            @JsonProperty("node") String node,
            @JsonProperty("hostNqn") String hostNqn,
            @JsonProperty("readOnly") Boolean readOnly,
            @JsonProperty("createdAt") Instant createdAt,
            @JsonProperty("capability") String capability) {
        return new Attachment(Schema.orDefault(schemaVersion), volume, node, hostNqn, Check.orDefault(readOnly, false),
                createdAt, capability);
    }

    public static Attachment of(String volume, String node, String hostNqn, boolean readOnly, Instant createdAt) {
        return new Attachment(Schema.CURRENT_VERSION, volume, node, hostNqn, readOnly, createdAt, null);
    }

    public Attachment withCapability(String value) {
        return new Attachment(schemaVersion, volume, node, hostNqn, readOnly, createdAt, value);
    }

    @Override
    public List<String> keyNames() {
        return List.of(volume, node);
    }
}
