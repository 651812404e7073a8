package io.ferry.agent.export;

import io.ferry.model.ExportSpec;
import io.ferry.model.FailureReason;
import io.ferry.model.HostSecret;
import io.ferry.model.NvmeAuth;

import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * What an exporter needs to require NVMe in-band authentication: the cluster's {@code nvmeAuth}
 * setting and the DH-HMAC-CHAP pairs the controller copied for this node
 * ({@code secrets/exports/<self>/}), looked up by the host NQN they were published for.
 */
public interface ExportSecrets {

    NvmeAuth mode();

    /** The pair of the host that connects with {@code hostNqn}, if this node has it. */
    Optional<HostSecret> forHost(String hostNqn);

    /**
     * The pair of every host the spec allows, for an exporter to look up before it changes anything
     * (a host is never admitted without its pair while authentication is on); empty when {@code auth}
     * is off.
     *
     * @throws NvmeAuthException ({@link FailureReason#NVME_AUTH_PENDING}) when a host's pair has not reached this node
     */
    default Map<String, HostSecret> pairsFor(String volume, ExportSpec spec, NvmeAuth auth) {
        Map<String, HostSecret> pairs = new TreeMap<>();
        if (auth.on()) {
            for (String host : spec.allowedHostNqns()) {
                pairs.put(host, forHost(host).orElseThrow(() -> new NvmeAuthException(
                        FailureReason.NVME_AUTH_PENDING, "volume " + volume + " waits for the NVMe authentication keys of"
                        + " host " + host + " (node " + spec.consumerNode() + "): nvmeAuth is " + auth.value()
                        + " and this node has no copy of that host's keys yet; its agent publishes them and the"
                        + " controller copies them here")));
            }
        }
        return pairs;
    }

    /** Authentication off: for tests of everything else, and targets that cannot do it. */
    static ExportSecrets off() {
        return new ExportSecrets() {
            @Override
            public NvmeAuth mode() {
                return NvmeAuth.OFF;
            }

            @Override
            public Optional<HostSecret> forHost(String hostNqn) {
                return Optional.empty();
            }
        };
    }
}
