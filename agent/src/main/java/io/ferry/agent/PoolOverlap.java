package io.ferry.agent;

import io.ferry.model.Engine;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolSource;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Two pools of one node that draw on the same storage would each report all of it, and the
 * scheduler would promise its bytes twice; file pools in the same or nested directories would also
 * claim each other's files. Such a pool is refused, and so is the other, so that neither wins by
 * timing.
 */
final class PoolOverlap {

    private PoolOverlap() {
    }

    /** Why {@code pool} overlaps another of {@code nodePools}, or empty when it draws on storage of its own. */
    static Optional<String> find(PoolConfig pool, List<PoolConfig> nodePools) {
        for (PoolConfig other : nodePools) {
            if (other.name().equals(pool.name()) || !other.node().equals(pool.node())) {
                continue;
            }
            String reason = overlap(pool, other);
            if (reason != null) {
                return Optional.of(reason + " of pool " + other.name());
            }
        }
        return Optional.empty();
    }

    private static String overlap(PoolConfig pool, PoolConfig other) {
        PoolSource mine = pool.source();
        PoolSource theirs = other.source();
        return switch (pool.engine()) {
            case FILE -> other.engine() == Engine.FILE && nested(mine.directory(), theirs.directory())
                    ? "directory " + mine.directory() + " overlaps " + theirs.directory()
                            + "; every file pool needs a directory of its own"
                    : null;
            // A thick pool measures its volume group's free extents, which a thin pool's data LV in
            // the same group has already taken: the two do not count the same bytes.
            case LVM -> other.engine() == Engine.LVM && Objects.equals(mine.volumeGroup(), theirs.volumeGroup())
                    ? "volume group " + mine.volumeGroup() + " is already the volume group"
                    : null;
            case LVM_THIN -> other.engine() == Engine.LVM_THIN
                    && Objects.equals(mine.volumeGroup(), theirs.volumeGroup())
                    && Objects.equals(mine.thinPool(), theirs.thinPool())
                    ? "thin pool " + mine.volumeGroup() + "/" + mine.thinPool() + " is already the thin pool"
                    : null;
            case SPDK -> other.engine() == Engine.SPDK && Objects.equals(mine.lvstore(), theirs.lvstore())
                    ? "lvstore " + mine.lvstore() + " is already the lvstore"
                    : null;
        };
    }

    private static boolean nested(String a, String b) {
        String x = withSlash(a);
        String y = withSlash(b);
        return x.startsWith(y) || y.startsWith(x);
    }

    private static String withSlash(String directory) {
        return directory.endsWith("/") ? directory : directory + "/";
    }
}
