package io.ferry.csi;

import io.ferry.model.ExportInfo;
import io.ferry.model.PoolConfig;
import io.ferry.runtime.exec.CommandRunner;
import io.grpc.StatusRuntimeException;

import java.nio.file.Path;
import io.ferry.model.NvmeAuth;
import io.ferry.runtime.auth.HostKeyFile;

/**
 * The node plugin's rules for trusting a volume's device, for tools that hand a device to a bare
 * metal host (ferryctl attach): a local device must be what the pool's engine makes for that volume,
 * and a remote one the namespace of the volume's own subsystem with its own serial. One set of
 * rules, whoever attaches; a refusal is an {@link UntrustedDeviceException} naming the mismatch.
 */
public final class HostDevices {

    private final DeviceVerifier verifier;
    private final NvmeConnector connector;

    private HostDevices(CommandRunner runner, Path sysRoot, Path devRoot, Path authKeys) {
        this.verifier = new DeviceVerifier(runner, sysRoot, devRoot);
        this.connector = new NvmeConnector(runner, sysRoot, verifier, NvmeConnector.Options.defaults().withAuthKeys(authKeys));
    }

    public static HostDevices onThisHost(CommandRunner runner) {
        return onThisHost(runner, Path.of(HostKeyFile.DEFAULT_PATH));
    }

    /** @param authKeys this host's DH-HMAC-CHAP pair, used when the cluster requires authentication */
    public static HostDevices onThisHost(CommandRunner runner, Path authKeys) {
        return new HostDevices(runner, Path.of("/sys"), Path.of("/dev"), authKeys);
    }

    /** A device refused, or an NVMe connection that did not show the volume's namespace. */
    public static final class UntrustedDeviceException extends RuntimeException {
        UntrustedDeviceException(StatusRuntimeException cause) {
            super(cause.getStatus().getDescription(), cause);
        }
    }

    /**
     * The device of a volume served by this host's node, checked against what its pool's engine makes
     * for that volume in the cluster {@code cluster} (null while the cluster's id is not known).
     */
    public Path local(String volume, PoolConfig pool, String devicePath, String cluster) {
        try {
            return verifier.local(volume, pool, devicePath, cluster);
        } catch (StatusRuntimeException e) {
            throw new UntrustedDeviceException(e);
        }
    }

    /**
     * Connects to the volume's export (unless already connected) after checking that it is the
     * subsystem and serial Ferry derives for the volume, and returns the namespace device.
     */
    public Path connect(String volume, String nqnPrefix, String cluster, ExportInfo export, String hostNqn,
            NvmeAuth auth) throws InterruptedException {
        try {
            verifier.export(volume, nqnPrefix, cluster, export);
            return connector.connect(export, hostNqn, auth);
        } catch (StatusRuntimeException e) {
            throw new UntrustedDeviceException(e);
        }
    }

    /** Disconnects every controller of the subsystem; nothing to do when none is connected. */
    public void disconnect(String nqn) {
        try {
            connector.disconnect(nqn);
        } catch (StatusRuntimeException e) {
            throw new UntrustedDeviceException(e);
        }
    }
}
