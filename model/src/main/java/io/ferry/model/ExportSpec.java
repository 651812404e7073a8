package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Set;

/**
 * How a volume must be exported to a remote consumer: over NVMe/TCP, to the listed host NQNs only
 * ({@code allow_any_host} is never used).
 *
 * @param consumerNode    node that consumes the volume
 * @param allowedHostNqns host NQNs allowed to connect; at least one
 * @param transport       only {@code tcp} for now (the default)
 */
public record ExportSpec(String consumerNode, Set<String> allowedHostNqns, String transport) {
    public static final String TCP = "tcp";

    public ExportSpec {
        Check.field("consumerNode", Check.required(consumerNode, "consumerNode"), Names::nodeName);
        allowedHostNqns = Check.sortedSet(allowedHostNqns, "allowedHostNqns", 64,
                (n, f) -> Check.field(f, n, Nqn::validate));
        if (allowedHostNqns.isEmpty()) {
            throw new ValidationException("allowedHostNqns", "allowedHostNqns: is empty; an export must allow at"
                    + " least the consumer's host NQN");
        }
        transport(transport);
    }

    @JsonCreator
    static ExportSpec fromJson(
            @JsonProperty("consumerNode") String consumerNode,
            @JsonProperty("allowedHostNqns") Set<String> allowedHostNqns,
            @JsonProperty("transport") String transport) {
        return new ExportSpec(consumerNode, allowedHostNqns, Check.orDefault(transport, TCP));
    }

    public static ExportSpec tcp(String consumerNode, Set<String> allowedHostNqns) {
        return new ExportSpec(consumerNode, allowedHostNqns, TCP);
    }

    static String transport(String transport) {
        if (!TCP.equals(Check.required(transport, "transport"))) {
            throw new ValidationException("transport", "transport: " + Names.quote(transport)
                    + " is not supported (allowed: tcp)");
        }
        return transport;
    }
}
