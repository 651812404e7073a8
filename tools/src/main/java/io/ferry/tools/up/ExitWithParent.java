package io.ferry.tools.up;

import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.Arrays;

/**
 * The entry point of every component JVM that {@code ferry up --processes} and the chaos run start:
 * {@code ExitWithParent <main class> <arguments...>} runs the component's own main class, and stops
 * the component when the process that started it is gone.
 *
 * <p>Why standard input: Linux's parent-death signal ({@code PR_SET_PDEATHSIG}) cannot be set from
 * Java, and polling the parent's pid races with pid reuse. {@link ProcessBuilder} gives every child
 * a pipe as its standard input whose only write end lives in the parent (the JDK closes every other
 * descriptor in the children it spawns, so no sibling holds a copy). When the parent exits, however
 * it exits (kill -9 included), the kernel closes that end and a read here returns end-of-file. The
 * components themselves never read standard input, so nothing else consumes it.
 *
 * <p>Only for children of a Ferry process: started with standard input at end-of-file already
 * (for example from /dev/null under systemd) the component would stop at once. Production runs the
 * main classes directly.
 */
public final class ExitWithParent {

    /** How long the component's own shutdown hooks get before the JVM is halted regardless. */
    static final long GRACE_MILLIS = 20_000;

    private ExitWithParent() {
    }

    public static void main(String[] args) throws Throwable {
        if (args.length == 0) {
            System.err.println("usage: ExitWithParent <main class> [arguments...]");
            System.exit(2);
        }
        watch(System.in, () -> {
            System.err.println("ferry: the process that started this component is gone (its pipe closed); stopping");
            Thread halt = new Thread(() -> {
                sleep(GRACE_MILLIS);
                Runtime.getRuntime().halt(143);
            }, "ferry-exit-with-parent-halt");
            halt.setDaemon(true);
            halt.start();
            // The same path as SIGTERM: the component's shutdown hooks stop it cleanly.
            System.exit(143);
        });
        Method main = Class.forName(args[0]).getMethod("main", String[].class);
        try {
            main.invoke(null, (Object) Arrays.copyOfRange(args, 1, args.length));
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    /** Reads {@code in} to its end on a daemon thread, then runs {@code onEnd}; a read error counts as the end. */
    static Thread watch(InputStream in, Runnable onEnd) {
        Thread watcher = new Thread(() -> {
            byte[] buffer = new byte[256];
            try {
                while (in.read(buffer) >= 0) {
                    // Nothing is ever written to the pipe; whatever arrives is discarded.
                }
            } catch (IOException e) {
                // A broken pipe means the same as its end: the writer is gone.
            }
            onEnd.run();
        }, "ferry-exit-with-parent");
        watcher.setDaemon(true);
        watcher.start();
        return watcher;
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
