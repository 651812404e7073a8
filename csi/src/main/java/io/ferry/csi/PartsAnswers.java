package io.ferry.csi;

import io.ferry.csi.v1.VolumeCondition;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Placement;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeParts;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * What the CSI volume calls answer of a {@code linear} or {@code mirror} volume from its parts
 * (docs/layouts.md): whether the parts were placed for the intent a CreateVolume waits on, the one
 * node they share, the volume's condition, and that a part is no volume of the CO's. It exists so
 * that {@link VolumeCalls} and {@link VolumeAnswers} hold only what every volume shares; whether a
 * part is done stays {@link PartsProgress}'s rule, applied here and not repeated.
 */
final class PartsAnswers {

    private final PartsProgress.Records records;
    private final Function<String, Optional<Versioned<VolumeIntent>>> intents;

    /**
     * @param records the parts' records
     * @param intents a volume's intent with its revisions, by name
     */
    PartsAnswers(PartsProgress.Records records, Function<String, Optional<Versioned<VolumeIntent>>> intents) {
        this.records = records;
        this.intents = intents;
    }

    /** The answers as a whole-cluster {@link ClusterView} holds the parts. */
    static PartsAnswers of(ClusterView view) {
        return new PartsAnswers(PartsProgress.of(view), view::volumeVersioned);
    }

    /**
     * The parts of a multi-part volume are the controller's, not volumes of the CO's: CSI neither
     * lists them nor acts on them, and an id naming one is answered as an unknown volume.
     */
    static boolean isPart(VolumeIntent intent) {
        return intent.partOf() != null;
    }

    /**
     * Whether the volume whose intent was created at {@code createRevision} is created: the parts
     * record {@code recorded} (null when there is none) counts only once placed for that intent,
     * and until then the progress has no parts.
     */
    PartsProgress.Progress created(String name, long createRevision, VolumeParts recorded) {
        VolumeParts parts = recorded != null && placedFor(recorded, createRevision) ? recorded : null;
        return PartsProgress.created(name, records.scheduling(name).orElse(null), createRevision, parts, records);
    }

    /**
     * Whether {@code parts} were placed for the volume intent created at {@code createRevision}, not
     * for an earlier volume of that name: the controller writes the parts' intents with the parts
     * record, so each is newer than the volume's. The view's informers deliver at their own pace,
     * and a record of the deleted volume could otherwise outlive its intent here for a moment.
     */
    private boolean placedFor(VolumeParts parts, long createRevision) {
        return parts.partNames().stream().allMatch(part -> intents.apply(part)
                .filter(v -> v.createRevision() > createRevision && parts.volume().equals(v.value().partOf()))
                .isPresent());
    }

    /** The one node every part is placed on, or null when they are on several (or not all placed). */
    String sharedNode(VolumeParts parts) {
        Set<String> nodes = parts.partNames().stream().map(p -> records.placement(p).map(Placement::node).orElse(""))
                .collect(Collectors.toSet());
        return nodes.size() == 1 && !nodes.contains("") ? nodes.iterator().next() : null;
    }

    /**
     * The volume's condition: abnormal while any part is, each part judged by {@code partCondition}
     * as a single volume is.
     */
    VolumeCondition condition(VolumeParts parts, Function<String, VolumeCondition> partCondition) {
        List<String> abnormal = new ArrayList<>();
        for (String part : parts.partNames()) {
            VolumeCondition c = partCondition.apply(part);
            if (c.getAbnormal()) {
                abnormal.add("part " + part + ": " + c.getMessage());
            }
        }
        if (!abnormal.isEmpty()) {
            return VolumeCondition.newBuilder().setAbnormal(true).setMessage(String.join("; ", abnormal)).build();
        }
        // A leg joining by a move is an extra copy on its way, not one more part of the layout.
        Optional<VolumeParts.Part> joining = parts.joining();
        List<String> counted = parts.partNames().stream().filter(p -> joining.map(j -> !j.name().equals(p)).orElse(true))
                .toList();
        StringBuilder message = new StringBuilder().append(parts.layout()).append(" of ").append(counted.size())
                .append(" parts, served by ").append(counted.stream().map(this::node).toList());
        joining.ifPresent(j -> message.append("; leg ").append(j.name()).append(" on ").append(node(j.name()))
                .append(" joining to take over from ").append(j.movesFrom()));
        return VolumeCondition.newBuilder().setAbnormal(false).setMessage(message.toString()).build();
    }

    private String node(String part) {
        return records.placement(part).map(Placement::node).orElse("?");
    }
}
