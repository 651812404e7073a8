package io.ferry.runtime.logging;

import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.internal.ContextInternal;
import org.slf4j.ILoggerFactory;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * What every log line says about the work it belongs to: the SLF4J MDC keys {@value #NODE} (the
 * node whose agent or plugin logs it) and {@value #ID} (the volume, snapshot or pool being worked
 * on), printed by every logback pattern as {@code %X{node}} and {@code %X{id}}, so that
 * {@code grep vol-x} over every process's log tells that volume's story.
 *
 * <p>Why not plain MDC: MDC is thread-local, and a reconcile is not a thread. It runs on a Vert.x
 * event loop shared with every other key, and its steps after an await (an etcd answer, a blocking
 * command's result, a timer) run as separate callbacks, interleaved with other keys' callbacks on
 * the same thread. An MDC set when the reconcile starts is gone, or worse, another key's, by then.
 * So the reconcile runtime runs each reconcile on its own duplicated Vert.x context
 * ({@link #forWork}), which Vert.x carries into every continuation (etcd completions, timers,
 * {@code executeBlocking} workers) created from it, and a Logback turbo filter
 * ({@link LogbackContextFilter}), called on the logging thread before any event is made, copies
 * that context's tags into the MDC. A small logger wrapper was the alternative, but it would tag
 * only lines logged through it, not those of engines, exporters and the store. Code that is not
 * on Vert.x (the CSI gRPC threads) sets the MDC directly for the duration of a call ({@link #open}).
 */
public final class LogContext {

    public static final String NODE = "node";
    public static final String ID = "id";

    /** Key of the tags in a duplicated context's local data; only this class reads or writes it. */
    private static final Object KEY = new Object();

    private LogContext() {
    }

    /** The node and object a piece of work is about; either may be null. */
    public record Tags(String node, String id) {
    }

    /**
     * A context of its own for one piece of work on {@code root}'s event loop, carrying {@code tags}
     * into every continuation started from it. Also makes sure the turbo filter is installed.
     */
    public static ContextInternal forWork(Context root, Tags tags) {
        if (LOGBACK) {
            // Referenced only here, so the class (a Logback subclass) is never loaded without Logback.
            LogbackContextFilter.install();
        }
        ContextInternal dup = ((ContextInternal) root).duplicate();
        dup.localContextData().put(KEY, tags);
        return dup;
    }

    /**
     * The tags of the work the current thread runs for: null off Vert.x, and {@link #NONE} on a
     * Vert.x context that belongs to no piece of work (informers, timers of the runtime itself).
     */
    static Tags current() {
        Context c = Vertx.currentContext();
        if (c == null) {
            return null;
        }
        // Only duplicated contexts are asked: a root context's local data is shared by all its work.
        if (c instanceof ContextInternal ci && ci.isDuplicate()) {
            Object tags = ci.localContextData().get(KEY);
            if (tags instanceof Tags t) {
                return t;
            }
        }
        return NONE;
    }

    static final Tags NONE = new Tags(null, null);

    /**
     * Sets the tags in this thread's MDC until the returned scope is closed, which puts back what was
     * there. For code that runs a whole call on one thread (a CSI request).
     */
    public static Scope open(Tags tags) {
        String node = MDC.get(NODE);
        String id = MDC.get(ID);
        set(tags);
        return () -> set(new Tags(node, id));
    }

    /** A scope of {@link #open}: closing it never throws. */
    public interface Scope extends AutoCloseable {
        @Override
        void close();
    }

    /** Puts the tags in this thread's MDC, removing a key whose tag is null. */
    static void set(Tags tags) {
        put(NODE, tags.node());
        put(ID, tags.id());
    }

    private static void put(String key, String value) {
        if (value == null) {
            MDC.remove(key);
        } else if (!value.equals(MDC.get(key))) {
            MDC.put(key, value);
        }
    }

    /** Whether SLF4J is bound to Logback, the only backend whose events the filter can tag. */
    private static final boolean LOGBACK = logback();

    private static boolean logback() {
        ILoggerFactory factory = LoggerFactory.getILoggerFactory();
        return factory.getClass().getName().equals("ch.qos.logback.classic.LoggerContext");
    }
}
