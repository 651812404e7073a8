package io.ferry.agent.engine;

import io.ferry.model.OrphanOwner;
import io.ferry.runtime.pool.VolumeFileMarker;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.Optional;

/**
 * The ownership marker of a file pool's volume, snapshot and spare files: the extended attribute
 * {@code user.ferry.cluster} holding the cluster id. An attribute belongs to the inode, so it
 * survives reboots, renames (a spare keeps it) and a copy of the directory made with
 * {@code cp --preserve=xattr}, and it cannot be separated from the file by accident the way a
 * marker file beside it could. ext4, XFS, btrfs and tmpfs (Linux 6.6 and later) support it.
 */
final class FileMarker {

    static final String ATTRIBUTE = VolumeFileMarker.ATTRIBUTE;

    private FileMarker() {
    }

    /** The cluster id the file is marked with; empty when it has none. */
    static Optional<String> read(Path file) {
        return VolumeFileMarker.read(file);
    }

    /** Whose file it is, seen from the cluster {@code cluster}. */
    static OrphanOwner owner(Path file, String cluster) {
        Optional<String> marked = read(file);
        if (marked.isEmpty()) {
            return OrphanOwner.UNMARKED;
        }
        return marked.get().equals(cluster) ? OrphanOwner.THIS_CLUSTER : OrphanOwner.OTHER_CLUSTER;
    }

    /** Marks the file as the cluster's. */
    static void write(Path file, String cluster) {
        UserDefinedFileAttributeView view = Files.getFileAttributeView(file, UserDefinedFileAttributeView.class);
        String refusal = file.getParent() + " is on a file system without user extended attributes, which file"
                + " pools need to mark their volumes as this cluster's (" + "user." + ATTRIBUTE + ")";
        if (view == null) {
            throw EngineException.permanent(refusal);
        }
        try {
            view.write(ATTRIBUTE, StandardCharsets.UTF_8.encode(cluster));
        } catch (IOException e) {
            throw EngineException.permanent(refusal + ": " + e.getMessage());
        }
    }

    /**
     * A volume or snapshot file a work item of this cluster names may be used only if it carries
     * this cluster's marker. One without any marker (made before cluster ids existed) is marked now,
     * once; one of another cluster is refused, and that refusal becomes the volume's status.
     */
    static void claim(Path file, String cluster, String what) {
        OrphanOwner owner = owner(file, cluster);
        if (owner == OrphanOwner.OTHER_CLUSTER) {
            throw EngineException.permanent(what + " (" + file + ") carries the ownership marker of another Ferry"
                    + " cluster (" + read(file).orElse("?") + "), not this one (" + cluster
                    + "); it is never adopted, changed or deleted here");
        }
        if (owner == OrphanOwner.UNMARKED) {
            write(file, cluster);
        }
    }
}
