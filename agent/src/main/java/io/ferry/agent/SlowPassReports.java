package io.ferry.agent;

import io.vertx.core.AsyncResult;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;

import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

/**
 * Progress worth a status write only when it is slow: most passes finish within
 * {@link #REPORT_PROGRESS_AFTER}, and a status write before each cost every volume an etcd round
 * trip.
 */
final class SlowPassReports {

    static final Duration REPORT_PROGRESS_AFTER = Duration.ofMillis(250);

    private final NodeContext ctx;

    SlowPassReports(NodeContext ctx) {
        this.ctx = ctx;
    }

    /**
     * Runs a blocking pass and writes a progress status only when it outlasts
     * {@link #REPORT_PROGRESS_AFTER} while {@code worthReporting} holds. A report already on its way
     * is waited for, so it can never overwrite what the pass writes next.
     */
    <T> Future<T> run(AtomicBoolean worthReporting, Supplier<Future<Boolean>> report, Callable<T> pass) {
        Future<T> running = ctx.volumeRuntime().blocking(pass);
        Promise<T> done = Promise.promise();
        Handler<AsyncResult<T>> finish = result -> {
            if (result.succeeded()) {
                done.tryComplete(result.result());
            } else {
                done.tryFail(result.cause());
            }
        };
        long timer = ctx.vertx.setTimer(REPORT_PROGRESS_AFTER.toMillis(), id -> {
            if (running.isComplete() || !worthReporting.get()) {
                running.onComplete(finish);
            } else {
                report.get().onComplete(reported -> running.onComplete(finish));
            }
        });
        running.onComplete(result -> {
            if (ctx.vertx.cancelTimer(timer)) {
                finish.handle(result);
            }
        });
        return done.future();
    }
}
