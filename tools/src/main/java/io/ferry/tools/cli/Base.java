package io.ferry.tools.cli;

import io.ferry.etcd.ClusterIdentities;
import io.ferry.etcd.store.BadValueException;
import io.ferry.model.ClusterIdentity;
import io.ferry.model.GlobalConfig;
import io.ferry.model.NodeRegistration;
import java.util.ArrayList;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.KeyChange;
import io.ferry.etcd.store.StoreWatch;
import io.ferry.etcd.store.WatchListener;
import io.ferry.etcd.store.Versioned;
import io.vertx.core.Future;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/** Shared plumbing of ferryctl's commands: the store, the output, blocking on futures, waiting. */
abstract class Base implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    FerryCtl root() {
        return (FerryCtl) spec.root().userObject();
    }

    EtcdStore store() {
        return root().store();
    }

    FerryKeys keys() {
        return store().keys();
    }

    Output out() {
        return root().output();
    }

    static <T> T await(Future<T> future) {
        try {
            return future.toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            Throwable cause = FerryCtl.unwrap(e);
            if (cause instanceof RuntimeException re) {
                throw re;
            }
            throw new CliException(ExitCodes.FAILED, String.valueOf(cause.getMessage()));
        } catch (TimeoutException e) {
            throw new CliException(ExitCodes.ETCD_UNAVAILABLE, "etcd did not answer within 60 s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException(ExitCodes.FAILED, "interrupted");
        }
    }

    <T> List<Versioned<T>> list(String prefix, Class<T> type) {
        var listing = await(store().list(prefix, type));
        listing.badValues().forEach(this::warn);
        return listing.items();
    }

    /** Values of one kind under a prefix that holds several (such as a node's keys). */
    <T> List<Versioned<T>> listOf(String prefix, FerryKeys.Kind kind, Class<T> type) {
        List<Versioned<T>> result = new ArrayList<>();
        for (var raw : await(store().listRaw(prefix)).entries()) {
            if (keys().parse(raw.key()).map(ref -> ref.kind() == kind).orElse(false)) {
                try {
                    result.add(store().decode(raw, type));
                } catch (BadValueException e) {
                    warn(e);
                }
            }
        }
        return result;
    }

    void warn(Exception e) {
        root().err().println("warning: " + e.getMessage());
        root().err().flush();
    }

    /**
     * Values under a prefix by the last name in their key, and the names whose values do not decode,
     * with the reason: a value typed by hand that nothing can act on is shown, not skipped.
     */
    record Named<T>(Map<String, T> values, Map<String, String> invalid) {
    }

    <T> Named<T> byNameWithInvalid(String prefix, Class<T> type) {
        var listing = await(store().list(prefix, type));
        Map<String, T> values = new HashMap<>();
        Map<String, String> invalid = new HashMap<>();
        listing.items().forEach(v -> keys().parse(v.key()).ifPresent(ref -> values.put(ref.name(), v.value())));
        listing.badValues().forEach(bad -> keys().parse(bad.key())
                .ifPresent(ref -> invalid.put(ref.name(), bad.getCause().getMessage())));
        return new Named<>(values, invalid);
    }

    /** The cluster-wide settings, or their defaults when nobody has written them. */
    GlobalConfig globalConfig() {
        return await(store().get(keys().globalConfig(), GlobalConfig.class)).map(Versioned::value)
                .orElseGet(GlobalConfig::defaults);
    }

    /** This cluster's id ({@code <prefix>/config/cluster}), or null before anybody made it. */
    /** A node's registration, or empty when its agent is not registered (or never was). */
    Optional<NodeRegistration> registration(String node) {
        return await(store().get(keys().registration(node), NodeRegistration.class))
                .map(Versioned::value);
    }

    String clusterId() {
        return await(ClusterIdentities.read(store())).map(ClusterIdentity::id).orElse(null);
    }

    /** Values under a prefix keyed by the last name in their key. */
    <T> Map<String, T> byName(String prefix, Class<T> type) {
        Map<String, T> result = new HashMap<>();
        for (Versioned<T> v : list(prefix, type)) {
            keys().parse(v.key()).ifPresent(ref -> result.put(ref.name(), v.value()));
        }
        return result;
    }

    /**
     * Re-checks a condition until it yields a result or the timeout passes. A CLI waits for one
     * object at a time, so a short, growing poll interval costs etcd next to nothing.
     */
    static <T> T waitFor(Duration timeout, String what, Supplier<T> check) {
        long deadline = System.nanoTime() + timeout.toNanos();
        long sleep = 50;
        while (true) {
            T result = check.get();
            if (result != null) {
                return result;
            }
            if (System.nanoTime() > deadline) {
                throw new CliException(ExitCodes.TIMEOUT, "timed out after " + timeout.toSeconds() + " s waiting for " + what);
            }
            try {
                Thread.sleep(sleep);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new CliException(ExitCodes.FAILED, "interrupted while waiting for " + what);
            }
            sleep = Math.min(500, sleep * 2);
        }
    }

    /** Sizes for people: the largest binary unit, at most one decimal (exact sizes are in -o json). */
    static String size(long bytes) {
        if (bytes <= 0) {
            return "0";
        }
        String[] units = {"B", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
        double value = bytes;
        int unit = 0;
        while (value >= 1024 && unit < units.length - 1) {
            value /= 1024;
            unit++;
        }
        String number = value >= 100 || value == Math.floor(value) ? String.valueOf(Math.round(value))
                : String.format(Locale.ROOT, "%.1f", value);
        return number + (unit == 0 ? "" : units[unit]);
    }

    static String orDash(Object value) {
        return value == null ? "-" : String.valueOf(value);
    }

    static Map<String, String> labels(List<String> pairs) {
        Map<String, String> result = new HashMap<>();
        if (pairs == null) {
            return result;
        }
        for (String pair : pairs) {
            for (String item : pair.split(",")) {
                if (item.isBlank()) {
                    continue;
                }
                int eq = item.indexOf('=');
                if (eq <= 0) {
                    throw new CliException(ExitCodes.USAGE, "label \"" + item + "\" must look like key=value");
                }
                result.put(item.substring(0, eq).trim(), item.substring(eq + 1).trim());
            }
        }
        return result;
    }

    /**
     * Follows every change under {@code prefix} after {@code afterRevision}, handing each to
     * {@code printed} (which says whether it printed something), until {@code count} were printed
     * (0: until interrupted). A watch that ends with an error (etcd gone) is exit 6. The one watch
     * loop of {@code watch} and {@code events -w}.
     */
    int follow(String prefix, long afterRevision, int count, Predicate<KeyChange> printed) throws InterruptedException {
        CountDownLatch done = new CountDownLatch(1);
        AtomicInteger seen = new AtomicInteger();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        StoreWatch watch = store().watch(prefix, afterRevision + 1, new WatchListener() {
            @Override
            public void onChanges(long revision, List<KeyChange> changes) {
                for (KeyChange change : changes) {
                    if (count > 0 && seen.get() >= count) {
                        return;
                    }
                    if (printed.test(change) && count > 0 && seen.incrementAndGet() >= count) {
                        done.countDown();
                    }
                }
            }

            @Override
            public void onError(Throwable error) {
                failure.compareAndSet(null, error);
                done.countDown();
            }

            @Override
            public void onCompleted() {
                // Closing the watch below ends it too: only an end before that is etcd's doing.
                if (done.getCount() > 0) {
                    failure.compareAndSet(null, new IllegalStateException("etcd closed the watch"));
                    done.countDown();
                }
            }
        });
        try {
            done.await();
        } finally {
            watch.close();
        }
        if (failure.get() != null) {
            throw new CliException(ExitCodes.ETCD_UNAVAILABLE, "the watch on " + prefix + " ended: " + failure.get().getMessage()
                    + " (is etcd still running?)");
        }
        return ExitCodes.OK;
    }
}
