package io.ferry.agent.export;

import static io.ferry.agent.export.ConfigfsFiles.clearSecret;
import static io.ferry.agent.export.ConfigfsFiles.writeIfDifferent;
import static io.ferry.agent.export.ConfigfsFiles.writeSecretIfDifferent;

import io.ferry.model.FailureReason;
import io.ferry.model.HostSecret;
import io.ferry.model.NvmeAuth;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * DH-HMAC-CHAP on nvmet's {@code hosts/<nqn>} entries. With {@code nvmeAuth} on (the cluster's
 * default), a host is linked into a subsystem's {@code allowed_hosts} only after its entry carries
 * its pair: {@code dhchap_key} (what the host proves), in bidirectional mode {@code dhchap_ctrl_key}
 * (what the target proves back), {@code dhchap_hash} {@value #DHCHAP_HASH} and
 * {@code dhchap_dhgroup} {@value #DHCHAP_DHGROUP}.
 *
 * <p>The group is {@code null} (no Diffie-Hellman exchange) because the pair is the secret that
 * matters here: an ephemeral DH exchange adds forward secrecy for the session key that only
 * secure channel concatenation (TLS over NVMe/TCP, which Ferry does not set up) would use, at the
 * cost of a modular exponentiation per queue and per reconnect, and it needs {@code dh_generic} on
 * both ends. nvmet checks keys only when a host (re)authenticates, so writing a new pair on an
 * existing entry keeps live connections. Without the pair the export waits
 * ({@link FailureReason#NVME_AUTH_PENDING}); on a kernel built without
 * {@code CONFIG_NVME_TARGET_AUTH} (no {@code dhchap_key} attribute) it fails
 * ({@link FailureReason#NVME_AUTH_UNSUPPORTED}). Either way nothing is linked without
 * authentication.
 */
final class NvmetHostAuth {

    static final String DHCHAP_HASH = "hmac(sha256)";
    static final String DHCHAP_DHGROUP = "null";

    private NvmetHostAuth() {
    }

    /** Whether configfs gave the entry its DH-HMAC-CHAP attributes, which it does when the kernel can authenticate. */
    static boolean canAuthenticate(Path hostDir) {
        return Files.exists(hostDir.resolve("dhchap_key"));
    }

    /** @throws NvmeAuthException ({@link FailureReason#NVME_AUTH_UNSUPPORTED}) on a kernel that cannot authenticate */
    static void requireAuth(String volume, Path hostDir) {
        if (!canAuthenticate(hostDir)) {
            throw new NvmeAuthException(FailureReason.NVME_AUTH_UNSUPPORTED, "volume " + volume + " cannot be exported:"
                    + " the cluster requires NVMe in-band authentication (nvmeAuth in config/global) and this"
                    + " node's kernel target has no " + hostDir.resolve("dhchap_key") + " (built without"
                    + " CONFIG_NVME_TARGET_AUTH); nothing was exported. Run a kernel with it, or set \"nvmeAuth\": \"off\""
                    + " in config/global to export without authentication");
        }
    }

    /**
     * Takes the keys off the host's entry, as {@code nvmeAuth} {@code off} asks: nvmet demands
     * authentication from a host whose entry carries a key, whatever the subsystem, so keys left from
     * a time authentication was on would refuse the host's next connections, which come without
     * keys. Live connections stay (keys are checked only at authentication).
     */
    static void clearPair(Path hostDir) {
        if (canAuthenticate(hostDir)) {
            clearSecret(hostDir.resolve("dhchap_key"));
            clearSecret(hostDir.resolve("dhchap_ctrl_key"));
        }
    }

    /**
     * Writes the host's pair on its entry. Hash and group go first: the kernel uses them with the key
     * at the next authentication. A changed key takes effect at each host's next (re)authentication
     * only; live connections stay. Unidirectional mode leaves a controller key there alone: the
     * target answers with it only when a host asks (a host given one), and then it is the right one.
     */
    static void setPair(Path hostDir, HostSecret pair, NvmeAuth auth) {
        writeIfDifferent(hostDir.resolve("dhchap_hash"), DHCHAP_HASH);
        writeIfDifferent(hostDir.resolve("dhchap_dhgroup"), DHCHAP_DHGROUP);
        writeSecretIfDifferent(hostDir.resolve("dhchap_key"), pair.hostKey());
        if (auth == NvmeAuth.BIDIRECTIONAL) {
            writeSecretIfDifferent(hostDir.resolve("dhchap_ctrl_key"), pair.ctrlKey());
        }
    }
}
