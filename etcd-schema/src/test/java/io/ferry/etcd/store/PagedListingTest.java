package io.ferry.etcd.store;

import io.etcd.jetcd.ByteSequence;
import io.grpc.Status;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The arithmetic and error reading behind paged listings and every etcd request, without an etcd. */
class PagedListingTest {

    @Test
    void firstPageAsksForTheKeyLimitAndLaterPagesForAboutEightMebibytes() {
        assertThat(PagedListing.nextPageLimit(10, 1_000)).isEqualTo(PagedListing.LIST_PAGE);
        // 1 MiB values: eight of them fill a page.
        assertThat(PagedListing.nextPageLimit(4, 4L << 20)).isEqualTo(8);
        // A value larger than the target still lists, one per page.
        assertThat(PagedListing.nextPageLimit(1, 64L << 20)).isEqualTo(1);
        assertThat(PagedListing.nextPageLimit(0, 0)).isEqualTo(PagedListing.LIST_PAGE);
    }

    @Test
    void onlyTheClientsInboundLimitCountsAsAResponseTooLarge() {
        Throwable tooLarge = Status.RESOURCE_EXHAUSTED
                .withDescription("gRPC message exceeds maximum size 67108864: 70000000").asRuntimeException();
        Throwable quota = Status.RESOURCE_EXHAUSTED.withDescription("etcdserver: mvcc: database space exceeded")
                .asRuntimeException();
        assertThat(PagedListing.responseTooLarge(tooLarge)).isTrue();
        assertThat(PagedListing.responseTooLarge(quota)).isFalse();
        assertThat(PagedListing.responseTooLarge(Status.UNAVAILABLE.asRuntimeException())).isFalse();
    }

    @Test
    void rangeEndIsTheFirstKeyAfterThePrefix() {
        assertThat(EtcdRequests.rangeEnd("/ferry/a").toString(StandardCharsets.UTF_8)).isEqualTo("/ferry/b");
        assertThat(EtcdRequests.rangeEnd("a\u00ff").getBytes()).containsExactly('a', (byte) 0xc3, (byte) 0xc0);
        assertThat(EtcdRequests.rangeEnd(new String(new byte[0], StandardCharsets.UTF_8)).getBytes())
                .containsExactly(0);
        assertThat(EtcdRequests.bytes("k")).isEqualTo(ByteSequence.from("k", StandardCharsets.UTF_8));
    }

    @Test
    void aRequestThatTimesOutSaysWhichOperationAndHowLongItWaited() {
        EtcdRequests requests = new EtcdRequests(Duration.ofMillis(20));
        var pending = requests.call(new CompletableFuture<String>(), "get /ferry/volumes/v1")
                .toCompletionStage().toCompletableFuture();
        assertThatThrownBy(() -> pending.get(5, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class)
                .cause().isInstanceOf(EtcdUnavailableException.class)
                .hasMessage("etcd did not answer 'get /ferry/volumes/v1' within 20 ms");
    }

    @Test
    void aFailedRequestCarriesEtcdsMessageUnwrapped() {
        EtcdRequests requests = new EtcdRequests(Duration.ofSeconds(5));
        CompletableFuture<String> failed = new CompletableFuture<>();
        failed.completeExceptionally(new IllegalStateException("etcdserver: permission denied"));
        var outcome = requests.call(failed, "put /ferry/ledger/p").toCompletionStage().toCompletableFuture();
        assertThatThrownBy(() -> outcome.get(5, TimeUnit.SECONDS))
                .cause().isInstanceOf(EtcdUnavailableException.class)
                .hasMessage("etcd request 'put /ferry/ledger/p' failed: etcdserver: permission denied");
    }
}
