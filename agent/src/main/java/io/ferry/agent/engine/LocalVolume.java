package io.ferry.agent.engine;

/**
 * A volume as it exists on this node.
 *
 * @param name       the Ferry volume name
 * @param sizeBytes  the size the engine reports (file length, LV size, lvol size)
 * @param devicePath local block device through which the volume is used; null when the volume
 *                   exists but is not attached (a file without its loop device, an inactive LV)
 */
public record LocalVolume(String name, long sizeBytes, String devicePath) {
}
