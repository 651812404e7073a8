package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Set;

/**
 * An export as it exists on the serving node; what a consumer needs to connect.
 *
 * @param nqn             subsystem NQN ({@link Nqn#forVolume(String, String)})
 * @param transport       {@code tcp}
 * @param address         address to connect to (IP or host name)
 * @param port            NVMe/TCP port
 * @param serial          namespace serial number, by which the consumer finds its block device
 * @param allowedHostNqns host NQNs allowed to connect
 */
public record ExportInfo(String nqn, String transport, String address, int port, String serial,
        Set<String> allowedHostNqns) {

    public ExportInfo {
        Check.field("nqn", Check.required(nqn, "nqn"), Nqn::validate);
        ExportSpec.transport(transport);
        Addresses.host(Check.required(address, "address"), "address");
        Check.range(port, 1, 65535, "port");
        Check.token(Check.required(serial, "serial"), "serial", Nqn.SERIAL_LENGTH);
        allowedHostNqns = Check.sortedSet(allowedHostNqns, "allowedHostNqns", 64,
                (n, f) -> Check.field(f, n, Nqn::validate));
    }

    @JsonCreator
    static ExportInfo fromJson(
            @JsonProperty("nqn") String nqn,
            @JsonProperty("transport") String transport,
            @JsonProperty("address") String address,
            @JsonProperty("port") Integer port,
            @JsonProperty("serial") String serial,
            @JsonProperty("allowedHostNqns") Set<String> allowedHostNqns) {
        return new ExportInfo(nqn, Check.orDefault(transport, ExportSpec.TCP), address,
                Check.required(port, "port"), serial, allowedHostNqns);
    }

    public static ExportInfo tcp(String nqn, String address, int port, String serial, Set<String> allowedHostNqns) {
        return new ExportInfo(nqn, ExportSpec.TCP, address, port, serial, allowedHostNqns);
    }
}
