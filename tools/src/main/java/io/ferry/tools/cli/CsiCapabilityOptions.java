package io.ferry.tools.cli;

import io.ferry.csi.v1.VolumeCapability;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** The block-or-mount part of a volume capability, shared by the commands that send one. */
final class CsiCapabilityOptions {
    @Option(names = "--block", description = "a raw block volume (default: a filesystem)")
    boolean block;
    @Option(names = "--fs-type", description = "ext4 or xfs (default: the volume's, else ext4)")
    String fsType;
    @Option(names = "--mount-flag", paramLabel = "FLAG", description = "mount option, e.g. noatime (repeatable)")
    List<String> mountFlags = new ArrayList<>();
    @Option(names = "--access-mode", paramLabel = "MODE",
            description = "single-node-writer (default), single-node-reader-only, single-node-single-writer, "
                    + "single-node-multi-writer, ...")
    String accessMode;

    VolumeCapability capability() {
        if (block && (fsType != null || !mountFlags.isEmpty())) {
            throw new CliException(ExitCodes.USAGE, "--block cannot go with --fs-type or --mount-flag");
        }
        VolumeCapability.Builder cap = VolumeCapability.newBuilder()
                .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(mode()));
        if (block) {
            cap.setBlock(VolumeCapability.BlockVolume.getDefaultInstance());
        } else {
            VolumeCapability.MountVolume.Builder mount = VolumeCapability.MountVolume.newBuilder().addAllMountFlags(mountFlags);
            if (fsType != null) {
                mount.setFsType(fsType);
            }
            cap.setMount(mount);
        }
        return cap.build();
    }

    private VolumeCapability.AccessMode.Mode mode() {
        if (accessMode == null) {
            return VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER;
        }
        String name = accessMode.strip().toUpperCase(Locale.ROOT).replace('-', '_');
        for (VolumeCapability.AccessMode.Mode m : VolumeCapability.AccessMode.Mode.values()) {
            if (m != VolumeCapability.AccessMode.Mode.UNRECOGNIZED && m != VolumeCapability.AccessMode.Mode.UNKNOWN
                    && m.name().equals(name)) {
                return m;
            }
        }
        List<String> known = new ArrayList<>();
        for (VolumeCapability.AccessMode.Mode m : VolumeCapability.AccessMode.Mode.values()) {
            if (m != VolumeCapability.AccessMode.Mode.UNRECOGNIZED && m != VolumeCapability.AccessMode.Mode.UNKNOWN) {
                known.add(m.name().toLowerCase(Locale.ROOT).replace('_', '-'));
            }
        }
        throw new CliException(ExitCodes.USAGE, "--access-mode " + accessMode + " is not one of " + String.join(", ", known));
    }
}
