package io.ferry.etcd.store;

/**
 * One change a watch saw. For a put, the entry is the key's new value and revisions; for a delete,
 * its value is empty and its mod revision is the revision of the deletion.
 */
public record KeyChange(Kind kind, RawEntry entry) {
    public enum Kind { PUT, DELETE }

    public static KeyChange deleted(String key, long revision) {
        return new KeyChange(Kind.DELETE, new RawEntry(key, new byte[0], 0, revision, 0, 0));
    }
}
