package io.ferry.csi;

import io.ferry.etcd.store.BadValueException;
import io.ferry.model.SnapshotProgress;
import io.ferry.model.SnapshotStatus;
import io.ferry.model.ValidationException;
import io.ferry.model.VolumeProgress;
import io.ferry.runtime.exec.CommandFailedException;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.vertx.core.Future;
import java.util.concurrent.CompletionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Runs one unary CSI call: blocking code on the gRPC executor, every failure turned into the gRPC
 * status the CSI specification expects, and every wait bounded by the caller's deadline.
 */
final class Calls {

    private static final Logger log = LoggerFactory.getLogger(Calls.class);

    /** Used when the caller sets no deadline (csi-sanity and the sidecars always do). */
    static final Duration DEFAULT_BUDGET = Duration.ofMinutes(2);
    /** Kept back from the caller's deadline so that our own status reaches it before its timer fires. */
    private static final long MARGIN_NANOS = TimeUnit.MILLISECONDS.toNanos(200);

    private Calls() {
    }

    interface Body<T> {
        T run() throws Exception;
    }

    static <T> void unary(String method, StreamObserver<T> observer, Body<T> body) {
        T response;
        try {
            response = body.run();
        } catch (Throwable e) {
            StatusRuntimeException status = toStatus(e);
            if (status.getStatus().getCode() == Status.Code.INTERNAL || status.getStatus().getCode() == Status.Code.UNKNOWN) {
                log.warn("{} failed: {}", method, status.getStatus().getDescription(), e);
            } else {
                log.info("{}: {} {}", method, status.getStatus().getCode(), status.getStatus().getDescription());
            }
            observer.onError(status);
            return;
        }
        observer.onNext(response);
        observer.onCompleted();
    }

    static StatusRuntimeException toStatus(Throwable e) {
        Throwable cause = unwrap(e);
        if (cause instanceof StatusRuntimeException s) {
            return s;
        }
        if (cause instanceof ValidationException || cause instanceof BadValueException) {
            return Status.INVALID_ARGUMENT.withDescription(cause.getMessage()).asRuntimeException();
        }
        if (cause instanceof CommandFailedException c) {
            return Status.INTERNAL.withDescription(c.getMessage()).asRuntimeException();
        }
        if (cause instanceof TimeoutException) {
            return Status.DEADLINE_EXCEEDED.withDescription("timed out: " + cause.getMessage()).asRuntimeException();
        }
        if (cause instanceof CancellationException) {
            return Status.ABORTED.withDescription("the plugin is shutting down").asRuntimeException();
        }
        return Status.INTERNAL.withDescription(String.valueOf(cause)).withCause(cause).asRuntimeException();
    }

    private static Throwable unwrap(Throwable e) {
        Throwable t = e;
        while ((t instanceof ExecutionException || t instanceof CompletionException)
                && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    /** Time left for this call, less a small margin. */
    static Duration remaining() {
        Deadline deadline = Context.current().getDeadline();
        if (deadline == null) {
            return DEFAULT_BUDGET;
        }
        long nanos = deadline.timeRemaining(TimeUnit.NANOSECONDS) - MARGIN_NANOS;
        return Duration.ofNanos(Math.max(nanos, TimeUnit.MILLISECONDS.toNanos(10)));
    }

    /** Blocks for an etcd operation, within the call's deadline. */
    static <T> T await(Future<T> future) throws Exception {
        return await(future.toCompletionStage().toCompletableFuture(), "etcd request");
    }

    /** Blocks for a wait started with {@link ClusterView#await}, or similar. */
    static <T> T await(CompletableFuture<T> future, String what) throws Exception {
        try {
            return future.get(remaining().toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            future.cancel(false);
            throw Status.DEADLINE_EXCEEDED.withDescription("still waiting for " + what
                    + " when the call's deadline expired; calling again continues where this call stopped")
                    .asRuntimeException();
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof TimeoutException) {
                throw Status.DEADLINE_EXCEEDED.withDescription("still waiting for " + what
                        + " when the call's deadline expired; calling again continues where this call stopped")
                        .asRuntimeException();
            }
            if (cause instanceof Exception ex) {
                throw ex;
            }
            throw e;
        }
    }

    static StatusRuntimeException invalid(String message) {
        return Status.INVALID_ARGUMENT.withDescription(message).asRuntimeException();
    }

    static StatusRuntimeException notFound(String message) {
        return Status.NOT_FOUND.withDescription(message).asRuntimeException();
    }

    static StatusRuntimeException alreadyExists(String message) {
        return Status.ALREADY_EXISTS.withDescription(message).asRuntimeException();
    }

    static StatusRuntimeException failedPrecondition(String message) {
        return Status.FAILED_PRECONDITION.withDescription(message).asRuntimeException();
    }

    static StatusRuntimeException aborted(String message) {
        return Status.ABORTED.withDescription(message).asRuntimeException();
    }

    static StatusRuntimeException exhausted(String message) {
        return Status.RESOURCE_EXHAUSTED.withDescription(message).asRuntimeException();
    }

    static StatusRuntimeException unavailable(String message) {
        return Status.UNAVAILABLE.withDescription(message).asRuntimeException();
    }

    static StatusRuntimeException internal(String message) {
        return Status.INTERNAL.withDescription(message).asRuntimeException();
    }

    /** The gRPC answer to a request Ferry knows has failed: one mapping from failure category to code. */
    static StatusRuntimeException failed(VolumeProgress.Failed failed) {
        return switch (failed.reason().category()) {
            case INVALID -> invalid(failed.message());
            case PRECONDITION -> failedPrecondition(failed.message());
            case NO_CAPACITY -> exhausted(failed.message());
            case INTERNAL -> internal(failed.message());
        };
    }

    /**
     * Reads a progress outcome the way {@link ClusterView#await} wants it: present when done,
     * empty while in progress, and a known failure ends the wait at once with its code.
     */
    static Optional<VolumeProgress.Done> done(VolumeProgress.Outcome outcome) {
        if (outcome instanceof VolumeProgress.Failed f) {
            throw failed(f);
        }
        return outcome instanceof VolumeProgress.Done d ? Optional.of(d) : Optional.empty();
    }

    /** {@link #done} for a multi-part volume: present once every part is done, a failed part's failure at once. */
    static Optional<PartsProgress.Progress> done(PartsProgress.Progress progress) {
        VolumeProgress.Outcome pending = progress.pending();
        if (pending == null) {
            return Optional.of(progress);
        }
        done(pending);
        return Optional.empty();
    }

    /** {@link #done} for a snapshot: its status once cut, empty while in progress, a known failure at once. */
    static Optional<SnapshotStatus> cut(VolumeProgress.Outcome outcome) {
        if (outcome instanceof VolumeProgress.Failed f) {
            throw failed(f);
        }
        return outcome instanceof SnapshotProgress.Cut c ? Optional.of(c.status()) : Optional.empty();
    }

    static void require(boolean ok, String message) {
        if (!ok) {
            throw invalid(message);
        }
    }
}
