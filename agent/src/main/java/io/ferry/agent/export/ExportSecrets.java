package io.ferry.agent.export;

import io.ferry.model.HostSecret;
import io.ferry.model.NvmeAuth;

import java.util.Optional;

/**
 * What an exporter needs to require NVMe in-band authentication: the cluster's {@code nvmeAuth}
 * setting and the DH-HMAC-CHAP pairs the controller copied for this node
 * ({@code secrets/exports/<self>/}), looked up by the host NQN they were published for.
 */
public interface ExportSecrets {

    NvmeAuth mode();

    /** The pair of the host that connects with {@code hostNqn}, if this node has it. */
    Optional<HostSecret> forHost(String hostNqn);

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
