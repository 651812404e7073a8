package io.ferry.agent;

import io.ferry.agent.engine.LvmEngine;
import io.ferry.agent.engine.SpdkEngine;
import io.ferry.agent.engine.VolumeEngine;
import io.ferry.agent.spdk.SpdkClient;
import io.ferry.model.Engine;
import io.ferry.runtime.exec.CommandRunner;

import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;

/** The engines beyond the file engine; each reports itself unavailable where its tools are missing. */
final class EngineSet {
    static final Duration SPDK_CALL_TIMEOUT = Duration.ofSeconds(30);
    static final Duration SPDK_PROBE_INTERVAL = Duration.ofSeconds(15);

    private EngineSet() {
    }

    static Map<Engine, VolumeEngine> optional(AgentOptions options, CommandRunner runner, AgentMetrics metrics) {
        Map<Engine, VolumeEngine> engines = new EnumMap<>(Engine.class);
        engines.put(Engine.LVM, LvmEngine.of(Engine.LVM, new CountingCommandRunner(runner, "lvm", metrics),
                options.cluster()));
        engines.put(Engine.LVM_THIN, LvmEngine.of(Engine.LVM_THIN, new CountingCommandRunner(runner, "lvm-thin",
                metrics), options.cluster()));
        // Offered only when --spdk-socket is set, the socket exists and spdk_get_version answers
        // (probed at most every SPDK_PROBE_INTERVAL).
        engines.put(Engine.SPDK, new SpdkEngine(new SpdkClient(options.spdkSocket(), SPDK_CALL_TIMEOUT),
                options.spdkSocket(), SPDK_PROBE_INTERVAL));
        return engines;
    }
}
