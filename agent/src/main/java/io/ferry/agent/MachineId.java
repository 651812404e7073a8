package io.ferry.agent;

import io.ferry.model.NodeRegistration;
import io.ferry.model.ValidationException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The machine an agent runs on, as its registration names it ({@link NodeRegistration#machineId()}):
 * agents that name the same machine hand each other's volumes over as the device itself.
 *
 * <p>By default it is the running kernel's boot id ({@code /proc/sys/kernel/random/boot_id}). What
 * a handover needs is one kernel: the serving agent's loop device or LV must be the consumer's too.
 * The boot id is exactly that: every process and every container of one running kernel reads the
 * same value (procfs does not namespace it), so two agents of one {@code ferry up}, in one JVM or as
 * separate processes, agree, as do an agent pod and a CSI pod on one Kubernetes node. {@code
 * /etc/machine-id} was not chosen: it is copied with VM images and baked into container images,
 * so two machines can share it, and a container may not have it at all. A new boot id after a
 * reboot is harmless: the agents start again and register it. An operator may name the machine
 * instead ({@code --machine-id}); naming two machines alike only ever costs a failed stage, since
 * the consumer still verifies that the device is the volume's.
 */
public final class MachineId {

    private static final Logger log = LoggerFactory.getLogger(MachineId.class);
    static final Path BOOT_ID = Path.of("/proc/sys/kernel/random/boot_id");

    private MachineId() {
    }

    /**
     * The configured id when there is one, otherwise the boot id read from {@code bootIdFile}; null
     * (the registration then names no machine, and every consumer elsewhere gets an export) when
     * it cannot be read.
     */
    public static String resolve(String configured, Path bootIdFile) {
        if (configured != null) {
            return configured;
        }
        try {
            String id = Files.readString(bootIdFile, StandardCharsets.US_ASCII).strip();
            return NodeRegistration.checkMachineId(id);
        } catch (IOException | ValidationException e) {
            log.warn("cannot read the kernel's boot id from {} ({}): the registration names no machine, so no volume"
                    + " is handed over to or from another agent of this machine; give --machine-id to name it",
                    bootIdFile, e.getMessage());
            return null;
        }
    }
}
