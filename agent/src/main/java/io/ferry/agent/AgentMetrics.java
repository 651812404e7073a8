package io.ferry.agent;

import io.ferry.model.Engine;
import io.ferry.model.PoolStatus;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.ToDoubleFunction;

/**
 * The agent's own meters. Reconcile counts and latency come from the shared runtime; this adds
 * pool capacity, per-volume I/O read from {@code /sys/block/<dev>/stat} at scrape time, and
 * command failures by engine.
 */
public final class AgentMetrics {

    private final MeterRegistry registry;
    private final Path sysBlock;
    private final Map<String, PoolStatus> pools = new ConcurrentHashMap<>();
    private final Map<String, String> devices = new ConcurrentHashMap<>();
    private final Map<String, List<Meter>> deviceMeters = new ConcurrentHashMap<>();
    private final Set<String> lost = ConcurrentHashMap.newKeySet();

    public AgentMetrics(MeterRegistry registry, Path sysBlock) {
        this.registry = registry;
        this.sysBlock = sysBlock;
        Gauge.builder("ferry.agent.volumes.lost", lost, Set::size)
                .description("volumes created here before and no longer found (status Lost), waiting for their storage"
                        + " or an operator's decision").register(registry);
    }

    /** Whether the volume is currently reported Lost by this agent. */
    void volumeLost(String volume, boolean isLost) {
        if (isLost) {
            lost.add(volume);
        } else {
            lost.remove(volume);
        }
    }

    public MeterRegistry registry() {
        return registry;
    }

    void volumeCreated(Engine engine) {
        Counter.builder("ferry.agent.volumes.created").tag("engine", engine.value())
                .description("volumes this agent created").register(registry).increment();
    }

    void volumeDeleted() {
        Counter.builder("ferry.agent.volumes.deleted").description("volumes this agent removed")
                .register(registry).increment();
    }

    /** Counts a failed external command; the engine tag says which engine's tools failed. */
    public void commandFailed(String engine) {
        Counter.builder("ferry.agent.command.failures").tag("engine", engine)
                .description("external commands that failed or timed out").register(registry).increment();
    }

    void poolMeasured(PoolStatus status) {
        boolean fresh = pools.put(status.pool(), status) == null;
        if (fresh) {
            Tags tags = Tags.of("pool", status.pool());
            String pool = status.pool();
            Gauge.builder("ferry.agent.pool.capacity.bytes", pools, m -> value(m, pool, PoolStatus::capacityBytes))
                    .tags(tags).baseUnit("bytes").register(registry);
            Gauge.builder("ferry.agent.pool.free.bytes", pools, m -> value(m, pool, PoolStatus::freeBytes))
                    .tags(tags).baseUnit("bytes").register(registry);
            Gauge.builder("ferry.agent.pool.thin.data.percent", pools,
                    m -> value(m, pool, s -> s.thinDataPercent() == null ? Double.NaN : s.thinDataPercent()))
                    .tags(tags).register(registry);
            Gauge.builder("ferry.agent.pool.thin.metadata.percent", pools,
                    m -> value(m, pool, s -> s.thinMetadataPercent() == null ? Double.NaN : s.thinMetadataPercent()))
                    .tags(tags).register(registry);
            Gauge.builder("ferry.agent.pool.healthy", pools, m -> value(m, pool, s -> s.healthy() ? 1 : 0))
                    .tags(tags).register(registry);
        }
    }

    void poolRemoved(String pool) {
        pools.remove(pool);
    }

    private static double value(Map<String, PoolStatus> m, String pool,
            ToDoubleFunction<PoolStatus> f) {
        PoolStatus s = m.get(pool);
        return s == null ? Double.NaN : f.applyAsDouble(s);
    }

    /** Volume I/O counters from the kernel's block statistics, read when Prometheus scrapes. */
    void trackDevice(String volume, String devicePath) {
        if (devicePath == null || !devicePath.startsWith("/dev/")) {
            return;
        }
        String previous = devices.put(volume, devicePath);
        if (previous == null) {
            Tags tags = Tags.of("volume", volume);
            // Field positions in /sys/block/<dev>/stat: reads, merged, sectors read, ms, writes,
            // merged, sectors written, ... (Documentation/block/stat.rst).
            deviceMeters.put(volume, List.of(
                    Gauge.builder("ferry.agent.volume.read.ops", devices, m -> stat(m, volume, 0, 1)).tags(tags).register(registry),
                    Gauge.builder("ferry.agent.volume.read.bytes", devices, m -> stat(m, volume, 2, 512)).tags(tags).register(registry),
                    Gauge.builder("ferry.agent.volume.write.ops", devices, m -> stat(m, volume, 4, 1)).tags(tags).register(registry),
                    Gauge.builder("ferry.agent.volume.write.bytes", devices, m -> stat(m, volume, 6, 512)).tags(tags)
                            .register(registry)));
        }
    }

    void untrackDevice(String volume) {
        devices.remove(volume);
        // A deleted volume's gauges would otherwise stay, reporting NaN, for as long as the agent
        // runs. Removing them by reference: a registry search scans every meter, thousands here.
        List<Meter> meters = deviceMeters.remove(volume);
        if (meters != null) {
            meters.forEach(registry::remove);
        }
    }

    private double stat(Map<String, String> m, String volume, int field, long scale) {
        String device = m.get(volume);
        if (device == null) {
            return Double.NaN;
        }
        Path stat = sysBlock.resolve(resolveName(device)).resolve("stat");
        try {
            String[] fields = Files.readString(stat).trim().split("\\s+");
            return field < fields.length ? Long.parseLong(fields[field]) * (double) scale : Double.NaN;
        } catch (IOException | NumberFormatException e) {
            return Double.NaN;
        }
    }

    /** /dev/vg/lv is a symlink to /dev/dm-N; sysfs knows the latter name. */
    private static String resolveName(String device) {
        try {
            return Path.of(device).toRealPath().getFileName().toString();
        } catch (IOException e) {
            return Path.of(device).getFileName().toString();
        }
    }
}
