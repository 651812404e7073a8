package io.ferry.etcd.store;

import io.ferry.model.ValidationException;

/**
 * A stored value that does not decode or validate. Reported with the key so an operator can find
 * and fix it; retrying does not help until somebody rewrites the key.
 */
public final class BadValueException extends RuntimeException {
    private final String key;

    public BadValueException(String key, ValidationException cause) {
        super("bad value at " + key + ": " + cause.getMessage(), cause);
        this.key = key;
    }

    public String key() {
        return key;
    }

    @Override
    public synchronized ValidationException getCause() {
        return (ValidationException) super.getCause();
    }
}
