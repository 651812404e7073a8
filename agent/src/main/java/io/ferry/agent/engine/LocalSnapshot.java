package io.ferry.agent.engine;

import java.time.Instant;

/**
 * A snapshot as it exists on this node.
 *
 * @param sourceVolume the volume it was cut from, when the engine can tell (null otherwise)
 * @param createdAt    when it was cut, when the engine can tell (null otherwise)
 */
public record LocalSnapshot(String name, String sourceVolume, long sizeBytes, Instant createdAt) {
}
