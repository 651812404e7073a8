package io.ferry.csi;

import org.junit.jupiter.api.Test;

import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;

class KeyedLocksTest {

    @Test
    void secondHolderWaitsForTheFirstAndKeysAreIndependent() throws Exception {
        KeyedLocks locks = new KeyedLocks();
        KeyedLocks.Held first = locks.acquire("volume:a").get();
        CompletableFuture<KeyedLocks.Held> second = locks.acquire("volume:a");
        KeyedLocks.Held other = locks.acquire("volume:b").get();
        assertThat(second).isNotDone();
        first.close();
        assertThat(second).isDone();
        second.get().close();
        other.close();
        assertThat(locks.size()).isZero();
    }
}
