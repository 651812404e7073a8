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
        // Called for every log call, disabled ones included: only a line that will be written is tagged.
        // (The effective level, not isEnabledFor, which would call the turbo filters again.)
        if (level == null || !level.isGreaterOrEqual(logger.getEffectiveLevel())) {
            return FilterReply.NEUTRAL;
        }
        LogContext.Tags tags = LogContext.current();
        if (tags != null) {
            LogContext.set(tags);
        }
        return FilterReply.NEUTRAL;
    }

    /** The filter installed last; a configuration reset stops it, which is what makes it installed again. */
    private static volatile LogbackContextFilter installed;

    static void install() {
        LogbackContextFilter current = installed;
        if (current != null && current.isStarted()) {
            return;
        }
        LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
        synchronized (LogbackContextFilter.class) {
            if (context.getTurboFilterList().stream().noneMatch(f -> f instanceof LogbackContextFilter && f.isStarted())) {
                LogbackContextFilter filter = new LogbackContextFilter();
                filter.setName("ferry-log-context");
                filter.start();
                context.addTurboFilter(filter);
                installed = filter;
            }
        }
    }
}
