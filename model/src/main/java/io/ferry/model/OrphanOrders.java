package io.ferry.model;

import java.time.Instant;

/**
 * The rules orphan orders ({@link OrphanRemoval}, {@link OrphanAdoption}) and the agent's answers
 * to them ({@link OrphanRemovalResult}, {@link OrphanAdoptionResult}) share: removals and adoptions
 * are the same kind of order about the same orphans, so one place checks what they have in common.
 */
final class OrphanOrders {

    private OrphanOrders() {
    }

    /**
     * An order's fields as JSON holds them, read once for both kinds of order: each turns them into
     * itself, where its constructor checks them. {@code schemaVersion} is null when the value omits it.
     */
    record Fields(Integer schemaVersion, String id, String node, String object, String requestedBy,
            Instant requestedAt) {
    }

    /** An order: its id and node, the orphan it names, who asked and when; {@code verb} says what it orders. */
    static void checkOrder(String id, String node, String object, String requestedBy, Instant requestedAt, String verb) {
        checkNames(id, node, object);
        if (object.isBlank()) {
            throw new ValidationException("object", "object: must name the orphan to " + verb);
        }
        Check.text(requestedBy, "requestedBy", 253);
        Check.required(requestedAt, "requestedAt");
    }

    /** An answer: the order's names, its outcome and what the agent says of it. */
    static void checkAnswer(String id, String node, String object, OrphanRemovalOutcome outcome, String message) {
        checkNames(id, node, object);
        Check.required(outcome, "outcome");
        Check.text(Check.required(message, "message"), "message", 4096);
    }

    private static void checkNames(String id, String node, String object) {
        Check.field("id", Check.required(id, "id"), OrphanOrders::orderId);
        Check.field("node", Check.required(node, "node"), Names::nodeName);
        Check.text(Check.required(object, "object"), "object", 1024);
    }

    /** Order ids follow volume-name rules (they are key segments), with a message about orders. */
    static String orderId(String id) {
        if (!Names.isValidVolumeName(id)) {
            throw new ValidationException("id", "id: " + Names.quote(id) + " is not an order id: 1-63 lowercase"
                    + " letters, digits and '-', starting and ending with a letter or digit");
        }
        return id;
    }
}
