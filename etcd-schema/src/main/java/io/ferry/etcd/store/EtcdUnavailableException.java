package io.ferry.etcd.store;

/** etcd could not be reached or did not answer in time; always worth retrying later. */
public final class EtcdUnavailableException extends RuntimeException {
    public EtcdUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
