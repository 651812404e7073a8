package io.ferry.controller;

import io.ferry.etcd.store.Versioned;
import io.ferry.model.GlobalConfig;
import io.ferry.model.Ledger;
import io.ferry.model.NodeRegistration;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolStatus;
import io.ferry.placement.Candidate;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * One {@link Candidate} per configured pool, kept current as its inputs change (config, status,
 * ledger, its node's registration, the remote volumes its node serves), so that a decision never
 * assembles them: iterating the candidates is the inner loop of every placement.
 */
final class CandidateIndex {

    /** Where a candidate's inputs are read from: the cluster state's caches. */
    interface Inputs {
        Optional<PoolConfig> poolConfig(String pool);

        Iterable<String> poolNames();

        Optional<Versioned<Ledger>> ledger(String pool);

        Optional<PoolStatus> poolStatus(String node, String pool);

        Optional<NodeRegistration> registration(String node);

        GlobalConfig globalConfig();
    }

    private final Inputs inputs;
    private final Map<String, Candidate> candidates = new HashMap<>();
    /** The same candidates as a list, rebuilt lazily: iterating it is the inner loop of every decision. */
    private List<Candidate> candidateList;
    private final Map<String, Integer> candidateIndex = new HashMap<>();
    private final Map<String, Set<String>> poolsByNode = new HashMap<>();
    private final Map<String, Integer> remoteServed = new HashMap<>();

    CandidateIndex(Inputs inputs) {
        this.inputs = inputs;
    }

    Iterable<Candidate> all() {
        if (candidateList == null) {
            candidateList = new ArrayList<>(candidates.values());
            candidateIndex.clear();
            for (int i = 0; i < candidateList.size(); i++) {
                candidateIndex.put(candidateList.get(i).pool(), i);
            }
        }
        return candidateList;
    }

    Optional<Candidate> get(String pool) {
        return Optional.ofNullable(candidates.get(pool));
    }

    /** The node's registration changed: each of its pools' candidates says whether it is up. */
    void nodeChanged(String node) {
        poolsByNode.getOrDefault(node, Set.of()).forEach(this::refresh);
    }

    void poolConfigChanged(String pool) {
        candidates.values().stream().filter(c -> c.pool().equals(pool)).findFirst()
                .ifPresent(old -> poolsByNode.getOrDefault(old.node(), new HashSet<>()).remove(pool));
        refresh(pool);
    }

    void rebuildAll() {
        candidates.clear();
        candidateList = null;
        poolsByNode.clear();
        for (String pool : inputs.poolNames()) {
            refresh(pool);
        }
    }

    void refresh(String pool) {
        Optional<PoolConfig> config = inputs.poolConfig(pool);
        if (config.isEmpty()) {
            Candidate gone = candidates.remove(pool);
            candidateList = null;
            if (gone != null) {
                poolsByNode.getOrDefault(gone.node(), new HashSet<>()).remove(pool);
            }
            return;
        }
        PoolConfig c = config.get();
        Versioned<Ledger> ledger = inputs.ledger(pool).orElse(null);
        put(pool, Candidate.of(c, inputs.poolStatus(c.node(), pool).orElse(null), inputs.registration(c.node()).orElse(null),
                ledger == null ? null : ledger.value(), ledger == null ? 0 : ledger.modRevision(),
                remoteServed.getOrDefault(c.node(), 0), inputs.globalConfig()));
        poolsByNode.computeIfAbsent(c.node(), n -> new HashSet<>()).add(pool);
    }

    /** A volume served to another node was placed on {@code node} ({@code +1}) or left it ({@code -1}). */
    void adjustRemote(String node, int delta) {
        int value = Math.max(0, remoteServed.getOrDefault(node, 0) + delta);
        remoteServed.put(node, value);
        for (String pool : poolsByNode.getOrDefault(node, Set.of())) {
            Candidate c = candidates.get(pool);
            if (c != null) {
                put(pool, c.withRemoteServed(value));
            }
        }
    }

    /** Ledger and status updates replace one element in place; only pool removal rebuilds the list. */
    private void put(String pool, Candidate candidate) {
        candidates.put(pool, candidate);
        if (candidateList == null) {
            return;
        }
        Integer at = candidateIndex.get(pool);
        if (at != null) {
            candidateList.set(at, candidate);
        } else {
            candidateIndex.put(pool, candidateList.size());
            candidateList.add(candidate);
        }
    }
}
