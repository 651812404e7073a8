package io.ferry.etcd.store;

import java.nio.charset.StandardCharsets;
import java.util.Objects;

/** A key and its undecoded bytes as etcd returned them; the informer decodes these itself. */
public record RawEntry(String key, byte[] value, long createRevision, long modRevision, long version, long leaseId) {
    public RawEntry {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(value, "value");
    }

    public String valueAsString() {
        return new String(value, StandardCharsets.UTF_8);
    }
}
