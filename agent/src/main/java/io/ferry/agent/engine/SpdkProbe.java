package io.ferry.agent.engine;

import io.ferry.agent.spdk.SpdkClient;
import io.ferry.agent.spdk.SpdkException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.LongSupplier;

/** Whether the SPDK target is there to use, asked at most once per probe interval. */
final class SpdkProbe {

    private final SpdkClient client;
    private final Path socket;
    private final Duration probeInterval;
    private final LongSupplier nanoClock;
    private volatile boolean lastProbe;
    private volatile long lastProbeAt;
    private volatile boolean probed;

    SpdkProbe(SpdkClient client, Path socket, Duration probeInterval, LongSupplier nanoClock) {
        this.client = client;
        this.socket = socket;
        this.probeInterval = probeInterval;
        this.nanoClock = nanoClock;
    }

    /**
     * True when the socket exists and the target answers {@code spdk_get_version}. The answer is
     * cached for the probe interval, because the agent asks before every reconcile.
     */
    boolean available() {
        long now = nanoClock.getAsLong();
        if (probed && now - lastProbeAt < probeInterval.toNanos()) {
            return lastProbe;
        }
        boolean ok;
        if (socket == null || !Files.exists(socket)) {
            ok = false;
        } else {
            try {
                client.getVersion();
                ok = true;
            } catch (SpdkException e) {
                ok = false;
            }
        }
        lastProbe = ok;
        lastProbeAt = now;
        probed = true;
        return ok;
    }
}
