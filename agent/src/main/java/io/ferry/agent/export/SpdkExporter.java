package io.ferry.agent.export;

import io.ferry.agent.spdk.SpdkClient;
import io.ferry.agent.spdk.SpdkException;
import io.ferry.model.ExportInfo;
import io.ferry.model.ExportSpec;
import io.ferry.model.Nqn;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.BooleanSupplier;

/**
 * NVMe/TCP exports of SPDK lvols through the SPDK target's own NVMe-oF subsystems.
 *
 * <p>Per volume: subsystem {@code <prefix>:<cluster id>:vol:<vol>} (the NQN and serial {@link NvmetExporter}
 * uses, from {@link Nqn}), model {@code Ferry}, created with {@code allow_any_host=false}; one
 * {@code nvmf_subsystem_add_host} per allowed host and {@code nvmf_subsystem_remove_host} for any
 * other; namespace 1 backed by the lvol's bdev; a TCP listener on the node's data address and the
 * export port. The subsystem is read ({@code nvmf_get_subsystems}) before anything is written, so a
 * repeat after a crash only adds what is missing. Unexport is {@code nvmf_delete_subsystem} when the
 * subsystem exists (SPDK answers a missing one with a generic "Invalid parameters", so absence is
 * checked first, not inferred from the error).
 */
public final class SpdkExporter implements Exporter {

    static final String MODEL = "Ferry";
    static final int NSID = 1;

    private final SpdkClient client;
    private final VolumeNqns nqns;
    private final String address;
    private final int port;
    private final BooleanSupplier available;

    /** {@code available} is the SPDK engine's liveness probe (socket present and answering). */
    public SpdkExporter(SpdkClient client, String nqnPrefix, String cluster, String address, int port,
            BooleanSupplier available) {
        this.client = client;
        this.nqns = new VolumeNqns(nqnPrefix, cluster);
        this.address = address;
        this.port = port;
        this.available = available;
    }

    @Override
    public boolean available() {
        return available.getAsBoolean();
    }

    /**
     * {@code bdev} is the lvol's bdev name or alias ({@code <lvstore>/<lvol>}), not a device path.
     * {@code sizeBytes} is not needed: SPDK tells connected hosts itself when an lvol grows.
     */
    @Override
    public ExportInfo export(String volume, String bdev, long sizeBytes, ExportSpec spec) {
        // One listing answers both names: an export of before cluster ids keeps its name.
        List<SpdkClient.Subsystem> listed = client.subsystems();
        Optional<SpdkClient.Subsystem> existing = find(listed, nqns.legacy(volume));
        String nqn = existing.isPresent() ? nqns.legacy(volume) : nqns.current(volume);
        if (existing.isEmpty()) {
            existing = find(listed, nqn);
        }
        String serial = Nqn.serialForVolume(volume);
        if (bdev == null) {
            throw new IllegalArgumentException("volume " + volume + " has no SPDK bdev to export");
        }
        List<SpdkClient.Bdev> found = client.getBdevs(bdev);
        if (found.isEmpty()) {
            throw new IllegalStateException("cannot export volume " + volume + ": bdev " + bdev
                    + " does not exist in the SPDK target");
        }
        SpdkClient.Bdev target = found.get(0);

        if (existing.isEmpty()) {
            client.createSubsystem(nqn, serial, MODEL);
            existing = find(nqn);
        }
        SpdkClient.Subsystem sub = existing.orElseThrow(() -> new IllegalStateException(
                "SPDK created subsystem " + nqn + " but nvmf_get_subsystems does not list it"));
        // Access control first: the host list is what keeps everyone else out.
        if (sub.allowAnyHost()) {
            client.setAllowAnyHost(nqn, false);
        }
        for (String host : spec.allowedHostNqns()) {
            if (!sub.hosts().contains(Nqn.validate(host))) {
                client.addHost(nqn, host);
            }
        }
        for (String host : sub.hosts()) {
            if (!spec.allowedHostNqns().contains(host)) {
                client.removeHost(nqn, host);
            }
        }

        String current = sub.namespaces().get(NSID);
        boolean sameBdev = current != null && (current.equals(target.name()) || current.equals(bdev)
                || target.aliases().contains(current));
        if (current != null && !sameBdev) {
            client.removeNamespace(nqn, NSID);
        }
        if (!sameBdev) {
            client.addNamespace(nqn, bdev, NSID);
        }
        if (!sub.listeners().contains(address + ":" + port)) {
            client.addListener(nqn, address, port);
        }
        return ExportInfo.tcp(nqn, address, port, serial, spec.allowedHostNqns());
    }

    @Override
    public void unexport(String volume) {
        List<SpdkClient.Subsystem> listed = client.subsystems();
        for (String nqn : nqns.all(volume)) {
            if (find(listed, nqn).isEmpty()) {
                continue;
            }
            try {
                client.deleteSubsystem(nqn);
            } catch (SpdkException e) {
                // Gone between the look and the delete is still gone.
                if (find(nqn).isPresent()) {
                    throw e;
                }
            }
        }
    }

    @Override
    public List<Exported> exports() {
        List<Exported> exports = new ArrayList<>();
        for (SpdkClient.Subsystem s : client.subsystems()) {
            nqns.exported(s.nqn()).ifPresent(exports::add);
        }
        return exports;
    }

    private Optional<SpdkClient.Subsystem> find(String nqn) {
        return find(client.subsystems(), nqn);
    }

    private static Optional<SpdkClient.Subsystem> find(List<SpdkClient.Subsystem> listed, String nqn) {
        return listed.stream().filter(s -> s.nqn().equals(nqn)).findFirst();
    }
}
