package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.time.Instant;

/**
 * The value a controller proposes in the etcd election under {@code <prefix>/controller/leader}
 * (each candidate's key is bound to its lease). Tells operators and tools which controller leads.
 *
 * @param identity     stable identity of the controller process, e.g. {@code ferry-controller-0@host-1}
 * @param adminAddress {@code host:port} of its admin HTTP endpoint, may be null
 * @param since        when it started campaigning with this value
 */
public record ControllerLeader(int schemaVersion, String identity, String adminAddress, Instant since) {

    public ControllerLeader {
        Schema.check(schemaVersion);
        Check.token(Check.required(identity, "identity"), "identity", 253);
        Addresses.hostPort(adminAddress, "adminAddress");
        Check.required(since, "since");
    }

    @JsonCreator
    static ControllerLeader fromJson(
            @JsonProperty("schemaVersion") Integer schemaVersion,
            @JsonProperty("identity") String identity,
            @JsonProperty("adminAddress") String adminAddress,
            @JsonProperty("since") Instant since) {
        return new ControllerLeader(Schema.orDefault(schemaVersion), identity, adminAddress, since);
    }

    public static ControllerLeader of(String identity, String adminAddress, Instant since) {
        return new ControllerLeader(Schema.CURRENT_VERSION, identity, adminAddress, since);
    }
}
