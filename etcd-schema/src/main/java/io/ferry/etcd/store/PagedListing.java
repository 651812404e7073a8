package io.ferry.etcd.store;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.options.GetOption;
import io.ferry.etcd.EtcdClients;
import io.grpc.Status;
import io.vertx.core.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static io.ferry.etcd.store.EtcdRequests.bytes;
import static io.ferry.etcd.store.EtcdRequests.rangeEnd;
import static io.ferry.etcd.store.EtcdRequests.raw;

/**
 * Lists a prefix in pages pinned to the first page's revision, so the result is one snapshot even
 * when writers are busy, without asking etcd for one unbounded response.
 *
 * <p>Pages are bounded by bytes as well as keys. etcd can only limit a range by key count, so the
 * first page asks for {@link #LIST_PAGE} keys (small values, the usual case, list in one or few
 * round trips); each later page is sized from the bytes per key seen so far to about
 * {@link #LIST_PAGE_TARGET_BYTES}; and a page the client refuses as too large is asked again,
 * from the same key at the same revision, for half as many keys. Only a single value larger
 * than the client's inbound limit fails the listing, naming the key it starts from.
 */
final class PagedListing {

    // Logged under the store's name: operators filter on it, and which class pages is no concern of theirs.
    private static final Logger log = LoggerFactory.getLogger(EtcdStore.class);

    /** Most keys in one listing page: keeps single responses small even with 100,000 placements. */
    static final int LIST_PAGE = 2000;

    /**
     * Bytes a listing page aims at once the values' size is known: a few MiB keeps each response
     * well inside {@link EtcdClients#MAX_INBOUND_BYTES} even when values vary in size.
     */
    static final long LIST_PAGE_TARGET_BYTES = 8L << 20;

    private final KV kv;
    private final EtcdRequests requests;

    PagedListing(KV kv, EtcdRequests requests) {
        this.kv = kv;
        this.requests = requests;
    }

    Future<Store.RawListing> list(String prefix) {
        List<RawEntry> acc = new ArrayList<>();
        return listPage(prefix, bytes(prefix), 0, LIST_PAGE, acc).map(rev -> new Store.RawListing(rev, acc));
    }

    private Future<Long> listPage(String prefix, ByteSequence from, long revision, int limit, List<RawEntry> acc) {
        GetOption.Builder opt = GetOption.builder()
                .withRange(rangeEnd(prefix))
                .withLimit(limit)
                .withSortField(GetOption.SortTarget.KEY)
                .withSortOrder(GetOption.SortOrder.ASCEND);
        if (revision > 0) {
            opt.withRevision(revision);
        }
        return requests.call(kv.get(from, opt.build()), "list " + prefix).compose(resp -> {
            long rev = revision > 0 ? revision : resp.getHeader().getRevision();
            List<KeyValue> kvs = resp.getKvs();
            long pageBytes = 0;
            for (KeyValue entry : kvs) {
                acc.add(raw(entry));
                pageBytes += entry.getKey().size() + entry.getValue().size();
            }
            if (!resp.isMore() || kvs.isEmpty()) {
                return Future.succeededFuture(rev);
            }
            // Continue right after the last key of this page: the key plus a zero byte.
            byte[] last = kvs.get(kvs.size() - 1).getKey().getBytes();
            byte[] next = new byte[last.length + 1];
            System.arraycopy(last, 0, next, 0, last.length);
            return listPage(prefix, ByteSequence.from(next), rev, nextPageLimit(kvs.size(), pageBytes), acc);
        }, err -> {
            if (!responseTooLarge(err)) {
                return Future.failedFuture(err);
            }
            if (limit == 1) {
                return Future.failedFuture(new EtcdUnavailableException("etcd request 'list " + prefix + "' failed:"
                        + " the first value from key " + from.toString(StandardCharsets.UTF_8) + " on is larger than"
                        + " the client accepts (" + EtcdClients.MAX_INBOUND_BYTES + " bytes)", err));
            }
            log.debug("listing {}: a page of {} keys from {} is too large, asking for {}", prefix, limit,
                    from.toString(StandardCharsets.UTF_8), limit / 2);
            return listPage(prefix, from, revision, limit / 2, acc);
        });
    }

    /** Keys to ask for next so that a page holds about {@link #LIST_PAGE_TARGET_BYTES}. */
    static int nextPageLimit(int keys, long bytes) {
        long perKey = Math.max(1, bytes / Math.max(1, keys));
        return (int) Math.max(1, Math.min(LIST_PAGE, LIST_PAGE_TARGET_BYTES / perKey));
    }

    /** The client refused a response over its inbound limit (not etcd refusing the request). */
    static boolean responseTooLarge(Throwable err) {
        Status status = Status.fromThrowable(err);
        return status.getCode() == Status.Code.RESOURCE_EXHAUSTED && status.getDescription() != null
                && status.getDescription().contains("exceeds maximum size");
    }
}
