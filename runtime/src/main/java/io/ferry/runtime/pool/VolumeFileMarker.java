package io.ferry.runtime.pool;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.Optional;

/**
 * The ownership marker of a file pool's volume, snapshot and spare files: the extended attribute
 * {@code user.ferry.cluster} holding the cluster id. Written by the agent; read by the agent before
 * it counts, reuses or removes a file, and by the CSI node plugin before it trusts a loop device
 * backed by one. One name, one reader.
 */
public final class VolumeFileMarker {

    /** Java adds the {@code user.} namespace itself. */
    public static final String ATTRIBUTE = "ferry.cluster";

    private VolumeFileMarker() {
    }

    /** The cluster id the file is marked with; empty when it has none or it cannot be read. */
    public static Optional<String> read(Path file) {
        UserDefinedFileAttributeView view = Files.getFileAttributeView(file, UserDefinedFileAttributeView.class);
        if (view == null) {
            return Optional.empty();
        }
        try {
            if (!view.list().contains(ATTRIBUTE)) {
                return Optional.empty();
            }
            ByteBuffer buffer = ByteBuffer.allocate(view.size(ATTRIBUTE));
            view.read(ATTRIBUTE, buffer);
            buffer.flip();
            return Optional.of(StandardCharsets.UTF_8.decode(buffer).toString());
        } catch (IOException e) {
            // Unsupported or unreadable: nothing proves the file is ours.
            return Optional.empty();
        }
    }
}
