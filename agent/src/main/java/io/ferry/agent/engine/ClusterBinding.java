package io.ferry.agent.engine;

/**
 * The cluster id an engine marks what it creates with, and checks before it adopts or removes
 * anything. Unknown until the agent has read it: until then every engine refuses work, because
 * without the id nothing can be told to be this cluster's.
 */
final class ClusterBinding {

    private volatile String id;

    void bind(String clusterId) {
        this.id = clusterId;
    }

    /** The id, or a transient failure while the agent does not know it yet. */
    String require() {
        String known = id;
        if (known == null) {
            throw EngineException.transientFailure("this agent does not know its cluster id yet; nothing is created,"
                    + " adopted or deleted until it does");
        }
        return known;
    }
}
