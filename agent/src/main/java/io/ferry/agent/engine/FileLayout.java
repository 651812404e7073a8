package io.ferry.agent.engine;

import io.ferry.model.Names;
import io.ferry.model.PoolConfig;

import java.nio.file.Path;

/**
 * Where a file pool keeps what: {@code <dir>/<volume>.img}, {@code <dir>/<snapshot>.snap},
 * hidden {@code .<name>.tmp} files for content being written, hidden {@code .spare-<n>} files
 * kept for reuse. The one place that knows these names.
 */
final class FileLayout {

    static final String VOLUME_SUFFIX = ".img";
    static final String SNAPSHOT_SUFFIX = ".snap";
    static final String TMP_SUFFIX = ".tmp";
    static final String SPARE_PREFIX = ".spare-";

    private FileLayout() {
    }

    static Path dir(PoolConfig pool) {
        return Path.of(pool.source().directory());
    }

    static Path volumeFile(PoolConfig pool, String volume) {
        return dir(pool).resolve(Names.volumeName(volume) + VOLUME_SUFFIX);
    }

    static Path snapshotFile(PoolConfig pool, String snapshot) {
        return dir(pool).resolve(Names.snapshotName(snapshot) + SNAPSHOT_SUFFIX);
    }

    static Path tmpFile(Path file) {
        return file.resolveSibling("." + file.getFileName() + TMP_SUFFIX);
    }

    static boolean isTmpName(String name) {
        return name.startsWith(".") && name.endsWith(TMP_SUFFIX);
    }

    static boolean isSpareName(String name) {
        return name.startsWith(SPARE_PREFIX);
    }

    /** The volume named by a file name, or null when it is not a volume file's name. */
    static String volumeOf(String fileName) {
        String volume = baseName(fileName, VOLUME_SUFFIX);
        return volume != null && Names.isValidVolumeName(volume) ? volume : null;
    }

    /** The snapshot named by a file name, or null when it is not a snapshot file's name. */
    static String snapshotOf(String fileName) {
        String snapshot = baseName(fileName, SNAPSHOT_SUFFIX);
        return snapshot != null && Names.isValidSnapshotName(snapshot) ? snapshot : null;
    }

    /** True for {@code .<x>.img.tmp} and {@code .<x>.snap.tmp}: the remains of an interrupted write. */
    static boolean isDataTmpName(String name) {
        if (!isTmpName(name)) {
            return false;
        }
        String inner = name.substring(1, name.length() - TMP_SUFFIX.length());
        return baseName(inner, VOLUME_SUFFIX) != null || baseName(inner, SNAPSHOT_SUFFIX) != null;
    }

    /** Serialises loop-device changes per pool directory. */
    static String lockKey(PoolConfig pool) {
        return "file:" + pool.source().directory();
    }

    private static String baseName(String file, String suffix) {
        return file.endsWith(suffix) && file.length() > suffix.length()
                ? file.substring(0, file.length() - suffix.length()) : null;
    }
}
