package io.ferry.controller;

import io.ferry.model.Attachment;
import io.ferry.model.Placement;

import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Where volumes are and who uses them, indexed so that no decision scans all placements: volumes
 * per serving node, nodes holding each volume's work or status, spread groups' members, and
 * attachments per volume. Updated incrementally on each event and on the controller's own writes.
 */
final class VolumeIndex {

    private final Map<String, Set<String>> volumesByNode = new HashMap<>();
    /** Nodes holding a work item or a status of each volume: where its data is if its placement goes. */
    private final Map<String, Set<String>> nodesHolding = new HashMap<>();
    private final Map<String, Set<String>> spreadGroups = new HashMap<>();
    /** Attachments per volume: every converge asks for its volume's, so they must not be found by a scan. */
    private final Map<String, Map<String, Attachment>> attachmentsByVolume = new HashMap<>();

    Set<String> volumesOn(String node) {
        return volumesByNode.getOrDefault(node, Set.of());
    }

    /** Moves the volume from the node {@code before} was on to the one {@code after} is on (either may be null). */
    void placementChanged(Placement before, Placement after) {
        if (before != null) {
            Set<String> onNode = volumesByNode.get(before.node());
            if (onNode != null) {
                onNode.remove(before.volume());
            }
        }
        if (after != null) {
            volumesByNode.computeIfAbsent(after.node(), n -> new HashSet<>()).add(after.volume());
        }
    }

    /** Nodes with a work item or a status of the volume, whatever the placement says. */
    Set<String> nodesHolding(String volume) {
        return Collections.unmodifiableSet(nodesHolding.getOrDefault(volume, Set.of()));
    }

    void holding(String node, String volume, boolean holds) {
        if (holds) {
            nodesHolding.computeIfAbsent(volume, v -> new TreeSet<>()).add(node);
        } else {
            Set<String> holding = nodesHolding.get(volume);
            if (holding != null && holding.remove(node) && holding.isEmpty()) {
                nodesHolding.remove(volume);
            }
        }
    }

    Set<String> spreadGroupMembers(String group) {
        return spreadGroups.getOrDefault(group, Set.of());
    }

    void spreadGroupChanged(String volume, String before, String after) {
        if (before != null && !before.equals(after)) {
            Set<String> members = spreadGroups.get(before);
            if (members != null) {
                members.remove(volume);
                if (members.isEmpty()) {
                    spreadGroups.remove(before);
                }
            }
        }
        if (after != null) {
            spreadGroups.computeIfAbsent(after, g -> new HashSet<>()).add(volume);
        }
    }

    List<Attachment> attachmentsOf(String volume) {
        Map<String, Attachment> byNode = attachmentsByVolume.get(volume);
        return byNode == null ? List.of() : List.copyOf(byNode.values());
    }

    /**
     * Volumes attached to {@code node}: how it reaches them depends on its registration. A scan, but
     * only when a registration changes, which is rare.
     */
    Set<String> attachedTo(String node) {
        Set<String> volumes = new HashSet<>();
        attachmentsByVolume.forEach((volume, byNode) -> {
            if (byNode.containsKey(node)) {
                volumes.add(volume);
            }
        });
        return volumes;
    }

    void attached(Attachment attachment) {
        attachmentsByVolume.computeIfAbsent(attachment.volume(), k -> new TreeMap<>()).put(attachment.node(), attachment);
    }

    void detached(String volume, String node) {
        Map<String, Attachment> byNode = attachmentsByVolume.get(volume);
        if (byNode != null) {
            byNode.remove(node);
            if (byNode.isEmpty()) {
                attachmentsByVolume.remove(volume);
            }
        }
    }
}
