package io.ferry.runtime.logging;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.turbo.TurboFilter;
import ch.qos.logback.core.spi.FilterReply;
import org.slf4j.LoggerFactory;
import org.slf4j.Marker;

/**
 * Copies the tags of the work the logging thread runs for ({@link LogContext#current}) into the
 * MDC just before Logback makes the event, which reads the MDC on this same thread. Off Vert.x it
 * leaves the MDC alone (a CSI call set it itself). Never filters anything out.
 *
 * <p>Installed once per Logback context, from code rather than from each logback.xml, so that no
 * configuration can forget it; a configuration reset (rare: Ferry does not rescan its logback.xml)
 * drops it until the next reconcile runtime is built.
 */
final class LogbackContextFilter extends TurboFilter {

    @Override
    public FilterReply decide(Marker marker, Logger logger, Level level, String format, Object[] params, Throwable t) {
        LogContext.Tags tags = LogContext.current();
        if (tags != null) {
            LogContext.set(tags);
        }
        return FilterReply.NEUTRAL;
    }

    static void install() {
        LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
        synchronized (LogbackContextFilter.class) {
            if (context.getTurboFilterList().stream().noneMatch(f -> f instanceof LogbackContextFilter)) {
                LogbackContextFilter filter = new LogbackContextFilter();
                filter.setName("ferry-log-context");
                filter.start();
                context.addTurboFilter(filter);
            }
        }
    }
}
