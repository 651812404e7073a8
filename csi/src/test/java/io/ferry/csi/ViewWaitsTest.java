package io.ferry.csi;

import io.ferry.etcd.store.Versioned;
import io.ferry.runtime.informer.InformerHandler;
import io.grpc.Status;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The view's waits, driven by hand instead of by informers. */
class ViewWaitsTest {

    private final ViewWaits waits = new ViewWaits();

    @Test
    void aWaitCompletesOnTheFirstChangeAfterWhichItsConditionHolds() throws Exception {
        AtomicReference<String> state = new AtomicReference<>();
        var result = waits.await(() -> Optional.ofNullable(state.get()), Duration.ofSeconds(5));
        assertThat(result).isNotDone();
        state.set("ready");
        InformerHandler<String> handler = waits.wake();
        handler.onUpsert(new Versioned<>("k", "v", 1, 1, 1, 0), null);
        assertThat(result.get(1, TimeUnit.SECONDS)).isEqualTo("ready");
        assertThat(waits.changesReceived()).isEqualTo(1);
    }

    @Test
    void aConditionThatThrowsEndsItsWaitWithThatFailure() {
        var result = waits.await(() -> {
            throw Status.NOT_FOUND.withDescription("volume v1 does not exist").asRuntimeException();
        }, Duration.ofSeconds(5));
        assertThatThrownBy(() -> result.get(1, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                .hasMessageContaining("volume v1 does not exist");
    }

    @Test
    void aWaitEndsAtItsTimeoutAndWhenTheViewCloses() {
        var timed = waits.await(Optional::empty, Duration.ofMillis(20));
        assertThatThrownBy(() -> timed.get(5, TimeUnit.SECONDS)).hasCauseInstanceOf(TimeoutException.class);
        var pending = waits.await(Optional::empty, Duration.ofSeconds(30));
        waits.cancelAll();
        assertThatThrownBy(() -> pending.get(1, TimeUnit.SECONDS)).isInstanceOf(CancellationException.class);
    }
}
