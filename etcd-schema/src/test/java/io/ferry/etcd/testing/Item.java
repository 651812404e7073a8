package io.ferry.etcd.testing;

import io.ferry.model.ValidationException;

/** A minimal stored value for store and informer tests; rejects negative counts like real records do. */
public record Item(int schemaVersion, String name, long count) {
    public Item {
        if (count < 0) {
            throw new ValidationException("count", "count: " + count + " is negative");
        }
    }

    public static Item of(String name, long count) {
        return new Item(1, name, count);
    }
}
