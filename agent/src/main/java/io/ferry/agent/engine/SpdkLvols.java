package io.ferry.agent.engine;

import io.ferry.agent.engine.SpdkLvolNames.ParsedLvol;
import io.ferry.agent.spdk.SpdkClient;
import io.ferry.agent.spdk.SpdkException;
import io.ferry.model.PoolConfig;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * An lvstore's lvols as the SPDK engine reaches them by name over the target's socket: where an
 * lvol is ({@code <lvstore>/<lvol>}), whether it exists, what the lvstore holds, and a removal that
 * is done when the lvol is already gone. Which lvol is whose, and when one may go, is the engine's.
 */
final class SpdkLvols {

    private final SpdkClient client;

    SpdkLvols(SpdkClient client) {
        this.client = client;
    }

    static String lvstore(PoolConfig pool) {
        String lvs = pool.source().lvstore();
        if (lvs == null) {
            throw EngineException.permanent("pool " + pool.name() + " has no source.lvstore");
        }
        return lvs;
    }

    /** The bdev alias SPDK gives an lvol: {@code <lvstore>/<lvol>}. */
    static String alias(PoolConfig pool, String lvol) {
        return lvstore(pool) + "/" + lvol;
    }

    Optional<SpdkClient.Bdev> bdev(PoolConfig pool, String lvol) {
        List<SpdkClient.Bdev> found = client.getBdevs(alias(pool, lvol));
        return found.isEmpty() ? Optional.empty() : Optional.of(found.get(0));
    }

    /** Removes the lvol; one that is not there, or goes meanwhile, is removed already. */
    void delete(PoolConfig pool, String lvol) {
        if (bdev(pool, lvol).isEmpty()) {
            return;
        }
        try {
            client.deleteLvol(alias(pool, lvol));
        } catch (SpdkException e) {
            if (!e.notFound()) {
                throw e;
            }
        }
    }

    /** This lvstore's lvols (bdevs whose alias starts with {@code <lvstore>/}), by what their names say. */
    List<ParsedLvol> list(PoolConfig pool, Map<ParsedLvol, Long> sizes) {
        String lvsPrefix = lvstore(pool) + "/";
        List<ParsedLvol> found = new ArrayList<>();
        for (SpdkClient.Bdev b : client.getBdevs(null)) {
            for (String alias : b.aliases()) {
                if (alias.startsWith(lvsPrefix)) {
                    SpdkLvolNames.parse(alias.substring(lvsPrefix.length())).ifPresent(p -> {
                        found.add(p);
                        sizes.put(p, b.sizeBytes());
                    });
                }
            }
        }
        return found;
    }
}
