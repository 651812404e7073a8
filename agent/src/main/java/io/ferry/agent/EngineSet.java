package io.ferry.agent;

import io.ferry.agent.engine.LvmEngine;
import io.ferry.agent.engine.VolumeEngine;
import io.ferry.model.Engine;
import io.ferry.runtime.exec.CommandRunner;

import java.util.EnumMap;
import java.util.Map;

/** The engines beyond the file engine; each reports itself unavailable where its tools are missing. */
final class EngineSet {
    private EngineSet() {
    }

    static Map<Engine, VolumeEngine> optional(AgentOptions options, CommandRunner runner, AgentMetrics metrics) {
        Map<Engine, VolumeEngine> engines = new EnumMap<>(Engine.class);
        engines.put(Engine.LVM, LvmEngine.of(Engine.LVM, new CountingCommandRunner(runner, "lvm", metrics),
                options.cluster()));
        engines.put(Engine.LVM_THIN, LvmEngine.of(Engine.LVM_THIN, new CountingCommandRunner(runner, "lvm-thin",
                metrics), options.cluster()));
        return engines;
    }
}
