package io.ferry.runtime.informer;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Metrics;

/** The counters one informer keeps, tagged with what it follows. */
record InformerMeters(Counter decodeFailures, Counter watchRestarts, Counter relists, Counter rewinds) {

    static InformerMeters register(MeterRegistry registry, String path) {
        MeterRegistry meters = registry == null ? Metrics.globalRegistry : registry;
        return new InformerMeters(
                Counter.builder("ferry.informer.decode.failures")
                        .description("values under the prefix that failed to decode or validate and were skipped")
                        .tag("prefix", path).register(meters),
                Counter.builder("ferry.informer.watch.restarts")
                        .description("watches re-created after an error, end of stream or silence")
                        .tag("prefix", path).register(meters),
                Counter.builder("ferry.informer.relists")
                        .description("full listings of the prefix (start, compaction, resync)")
                        .tag("prefix", path).register(meters),
                Counter.builder("ferry.informer.rewinds")
                        .description("times etcd's revision was found behind the informer's (etcd restored from a backup)")
                        .tag("prefix", path).register(meters));
    }
}
