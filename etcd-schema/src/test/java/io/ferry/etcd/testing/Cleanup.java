package io.ferry.etcd.testing;

import java.util.ArrayList;
import java.util.List;

/**
 * A test's teardown: every step runs even when one before it failed, so that a failed stop does not
 * leave a mount or a loop device behind for the next test, and every failure is reported at the end.
 */
public final class Cleanup {

    /** One step of a teardown; whatever it throws is kept. */
    @FunctionalInterface
    public interface Step {
        void run() throws Exception;
    }

    private final List<Throwable> problems = new ArrayList<>();

    /** Runs {@code step} now; a failure (errors included: a failed check in a step) is kept for the end. */
    public void step(Step step) {
        try {
            step.run();
        } catch (Exception | Error e) {
            problems.add(e);
        }
    }

    /** Every failure so far, in the order the steps ran. */
    public List<Throwable> problems() {
        return List.copyOf(problems);
    }

    /** Adds a failure found outside a step, ahead of the others: it is the one the reader needs first. */
    public void problemFirst(Throwable problem) {
        problems.add(0, problem);
    }

    /** Throws the first failure with the others suppressed; returns when every step succeeded. */
    public void rethrow() throws Exception {
        if (problems.isEmpty()) {
            return;
        }
        Throwable first = problems.get(0);
        problems.subList(1, problems.size()).forEach(first::addSuppressed);
        if (first instanceof Exception e) {
            throw e;
        }
        throw (Error) first;
    }
}
