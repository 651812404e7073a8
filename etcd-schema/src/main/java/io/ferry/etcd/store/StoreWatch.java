package io.ferry.etcd.store;

/** An open watch; closing it stops its deliveries (one already under way may still arrive). */
public interface StoreWatch extends AutoCloseable {
    @Override
    void close();
}
