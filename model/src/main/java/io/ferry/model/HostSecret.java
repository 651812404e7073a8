package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.time.Instant;

/**
 * A consumer host's DH-HMAC-CHAP pair, as its owner publishes it at {@code <prefix>/secrets/hosts/<node>}
 * and as the controller copies it to each storage node that exports to that node
 * ({@code <prefix>/secrets/exports/<storage node>/<node>}). The consumer generated the pair and
 * keeps it in its state directory; everything else only copies it.
 *
 * @param node       the consumer node (the last name of both keys; readers compare)
 * @param hostNqn    the host NQN the consumer connects with: the target sets the pair on that
 *                   NQN's {@code hosts/} entry
 * @param generation counts the pair's replacements, from 1; it is the generation of {@code ctrlKey}
 * @param hostKeyGeneration the generation of {@code hostKey}: {@code generation}, except half-way
 *                   through a key rotation ({@link HostKeyStep}), when the targets are to serve the
 *                   new controller key with the old host key (absent in JSON: {@code generation})
 * @param hostKey    what the host proves to the target ({@code dhchap_key} on the target,
 *                   {@code --dhchap-secret} on the host)
 * @param ctrlKey    what the target proves to the host in bidirectional mode
 *                   ({@code dhchap_ctrl_key}, {@code --dhchap-ctrl-secret})
 * @param createdAt  when the pair was generated
 */
public record HostSecret(int schemaVersion, String node, String hostNqn, long generation, long hostKeyGeneration,
                         String hostKey, String ctrlKey, Instant createdAt) {

    public HostSecret {
        Schema.check(schemaVersion);
        Check.field("node", Check.required(node, "node"), Names::nodeName);
        Check.field("hostNqn", Check.required(hostNqn, "hostNqn"), Nqn::validate);
        if (generation < 1) {
            throw new ValidationException("generation", "generation: " + generation + " is not a generation (1 or more)");
        }
        if (hostKeyGeneration < 1 || hostKeyGeneration > generation) {
            throw new ValidationException("hostKeyGeneration", "hostKeyGeneration: " + hostKeyGeneration
                    + " is not a generation from 1 to generation (" + generation + ")");
        }
        DhchapKey.parse(hostKey, "hostKey");
        DhchapKey.parse(ctrlKey, "ctrlKey");
        Check.required(createdAt, "createdAt");
    }

    @JsonCreator
    static HostSecret fromJson(
            @JsonProperty("schemaVersion") Integer schemaVersion,
            @JsonProperty("node") String node,
            @JsonProperty("hostNqn") String hostNqn,
            @JsonProperty("generation") Long generation,
            @JsonProperty("hostKeyGeneration") Long hostKeyGeneration,
            @JsonProperty("hostKey") String hostKey,
            @JsonProperty("ctrlKey") String ctrlKey,
            @JsonProperty("createdAt") Instant createdAt) {
        long g = Check.orDefault(generation, 0L);
        return new HostSecret(Schema.orDefault(schemaVersion), node, hostNqn, g, Check.orDefault(hostKeyGeneration, g),
                hostKey, ctrlKey, createdAt);
    }

    public static HostSecret of(String node, String hostNqn, long generation, DhchapKey hostKey, DhchapKey ctrlKey,
            Instant createdAt) {
        return new HostSecret(Schema.CURRENT_VERSION, node, hostNqn, generation, generation, hostKey.value(),
                ctrlKey.value(), createdAt);
    }

    /**
     * Half-way through a rotation: the controller key of generation {@code generation} with the host
     * key of generation {@code hostKeyGeneration}.
     */
    public static HostSecret mixed(String node, String hostNqn, long generation, long hostKeyGeneration,
            DhchapKey hostKey, DhchapKey ctrlKey, Instant createdAt) {
        return new HostSecret(Schema.CURRENT_VERSION, node, hostNqn, generation, hostKeyGeneration, hostKey.value(),
                ctrlKey.value(), createdAt);
    }

    /** Whether {@code other} carries the same pair for the same host (what a copy must equal). */
    public boolean samePair(HostSecret other) {
        return other != null && node.equals(other.node) && hostNqn.equals(other.hostNqn)
                && generation == other.generation && hostKeyGeneration == other.hostKeyGeneration && hostKey.equals(other.hostKey) && ctrlKey.equals(other.ctrlKey);
    }

    /** Never the keys: records are printed in logs and error messages. */
    @Override
    public String toString() {
        return "HostSecret[node=" + node + ", hostNqn=" + hostNqn + ", generation=" + generation
                + (hostKeyGeneration == generation ? "" : ", hostKeyGeneration=" + hostKeyGeneration) + ", keys=<hidden>]";
    }
}
