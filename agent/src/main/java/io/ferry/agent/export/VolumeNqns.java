package io.ferry.agent.export;

import io.ferry.model.Nqn;
import io.ferry.model.OrphanOwner;

import java.util.List;
import java.util.Optional;

/**
 * The subsystem NQNs this agent's cluster gives a volume, shared by both targets so that they
 * name, find and remove exports alike. Current exports carry the cluster id; an export made
 * before cluster ids ({@link Nqn#legacyForVolume}) is served under its old name until the volume is
 * unexported, so that hosts connected across an upgrade keep their path.
 */
record VolumeNqns(String prefix, String cluster) {

    VolumeNqns {
        Nqn.validatePrefix(prefix);
    }

    String current(String volume) {
        return Nqn.forVolume(prefix, cluster, volume);
    }

    String legacy(String volume) {
        return Nqn.legacyForVolume(prefix, volume);
    }

    /** Every name a subsystem of this volume may have here, the current one first. */
    List<String> all(String volume) {
        return List.of(current(volume), legacy(volume));
    }

    /** The export a subsystem NQN stands for, if it has one of Ferry's forms under this prefix. */
    Optional<Exporter.Exported> exported(String nqn) {
        return Nqn.parse(prefix, nqn).map(n -> new Exporter.Exported(nqn, n.volume(), n.cluster(), n.cluster() == null
                ? OrphanOwner.UNMARKED : n.cluster().equals(cluster) ? OrphanOwner.THIS_CLUSTER : OrphanOwner.OTHER_CLUSTER));
    }
}
