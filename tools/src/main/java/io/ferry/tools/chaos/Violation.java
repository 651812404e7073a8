package io.ferry.tools.chaos;

/**
 * Something the chaos run must never see: a failure Ferry reports for a request that can succeed, an
 * acknowledged write that reads back different, a device Ferry did not make.
 */
final class Violation extends Exception {
    Violation(String message) {
        super(message);
    }
}
