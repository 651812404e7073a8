package io.ferry.placement;

import io.ferry.model.FailureDomainLevel;
import io.ferry.model.GlobalConfig;
import io.ferry.model.PositionAdvice;
import io.ferry.model.Reach;

import java.util.List;
import java.util.Map;

/** The scheduler's filters, cheapest first; a pool is reported under the first filter it fails. */
public final class Filters {

    private Filters() {
    }

    public static final Filter SOURCE_POOL = simple("not the source's pool",
            (r, c, g) -> r.requiredPool().equals(c.pool()), (r, g) -> r.requiredPool() != null);

    public static final Filter ENGINE = simple("engine", (r, c, g) -> {
        var engine = c.engine();
        if (r.intent().engine() != null && r.intent().engine() != engine) {
            return false;
        }
        return r.thin() ? engine.thin() : engine.thick();
    });

    public static final Filter POOL_SELECTOR = simple("pool selector",
            (r, c, g) -> matches(r.intent().poolSelector(), c.config().labels()), (r, g) -> !r.intent().poolSelector().isEmpty());

    public static final Filter NODE_SELECTOR = simple("node selector",
            (r, c, g) -> matches(r.intent().nodeSelector(), c.registration().labels()), (r, g) -> !r.intent().nodeSelector().isEmpty());

    public static final Filter POSITION = new Filter() {
        @Override
        public String reason(Request request) {
            return request.intent().positionAdvice() == PositionAdvice.MUST_LOCAL ? "not local" : "not remote";
        }

        @Override
        public boolean admits(Request r, Candidate c, GlobalConfig g) {
            return switch (r.intent().positionAdvice()) {
                case MUST_LOCAL -> r.localTo(c);
                case MUST_REMOTE -> !r.localTo(c);
                default -> true;
            };
        }

        @Override
        public boolean appliesTo(Request r, GlobalConfig g) {
            PositionAdvice advice = r.intent().positionAdvice();
            return advice == PositionAdvice.MUST_LOCAL || advice == PositionAdvice.MUST_REMOTE;
        }
    };

    /**
     * A volume its consumer reaches over the network ({@link Reach#EXPORT}: another machine, or one
     * nobody can tell) must be exportable from its node: otherwise it is placed where it can never be
     * served, and every publish fails. A consumer on the same node, or handed the device on the same
     * machine, needs no export. A registration that does not list its exporters (an older agent) is
     * not held against the node.
     */
    public static final Filter EXPORTABLE = simple("cannot export",
            // The precomputed capability first: for nearly every pool it settles the question without Reach.
            (r, c, g) -> c.exportsEngine() || !Reach.of(c.node(), c.registration(), c.engine(), r.intent().consumerNode(),
                    r.consumer()).needsExport(),
            (r, g) -> r.intent().consumerNode() != null);

    public static final Filter REMOTE_CAP = simple("remote cap",
            (r, c, g) -> c.remoteServed() < g.maxRemoteVolumesPerNode() || !r.remoteFrom(c),
            (r, g) -> g.maxRemoteVolumesPerNode() > 0 && r.intent().consumerNode() != null);

    public static final Filter SPREAD = new Filter() {
        @Override
        public String reason(Request request) {
            return "spread " + request.intent().failureDomainLevel().value();
        }

        @Override
        public boolean admits(Request r, Candidate c, GlobalConfig g) {
            FailureDomainLevel level = r.intent().failureDomainLevel();
            // A node without the label cannot prove it is elsewhere, so it cannot host a spread member.
            if (c.domainHash(level) == 0 && c.domain(level) == null) {
                return false;
            }
            return !r.domainTaken(c, level);
        }

        @Override
        public boolean appliesTo(Request r, GlobalConfig g) {
            return r.legs() > 1 || r.intent().spreadGroup() != null && !r.takenDomains().isEmpty();
        }
    };

    public static final Filter FREE_SPACE = sized("free space", (r, c, g) -> c.free(r.thin()), (r, g) -> true);

    /**
     * The ledger says what Ferry handed out; the agent's report says what the disk still has. They
     * differ when something else fills the disk, or when several pools share one file system: a
     * thick volume must fit both.
     */
    public static final Filter DISK_FREE = sized("disk full", (r, c, g) -> c.diskFree(), (r, g) -> !r.thin());

    public static final Filter THIN_DATA = simple("thin data above watermark", (r, c, g) ->
            Double.isNaN(c.thinData()) || c.thinData() < g.thinDataHighWatermarkPercent(),
            (r, g) -> r.thin());

    /**
     * In evaluation order, after the pool-only checks every candidate carries precomputed
     * ({@link Candidate#staticRefusal()}: node down, unschedulable, not reported, unhealthy, engine not on node).
     */
    public static final List<Filter> ALL = List.of(
            SOURCE_POOL, ENGINE, POOL_SELECTOR, NODE_SELECTOR, POSITION, EXPORTABLE, REMOTE_CAP, SPREAD, FREE_SPACE,
            DISK_FREE, THIN_DATA);

    static boolean matches(Map<String, String> selector, Map<String, String> labels) {
        for (Map.Entry<String, String> e : selector.entrySet()) {
            if (!e.getValue().equals(labels.get(e.getKey()))) {
                return false;
            }
        }
        return true;
    }

    interface Check {
        boolean test(Request r, Candidate c, GlobalConfig g);
    }

    interface Applies {
        boolean test(Request r, GlobalConfig g);
    }

    interface Limit {
        long largest(Request r, Candidate c, GlobalConfig g);
    }

    /**
     * A filter on the volume's size: it admits up to a limit, and that one limit is both its
     * verdict and what capacity reports count, so the two cannot drift apart.
     */
    static Filter sized(String reason, Limit limit, Applies applies) {
        return new Named(reason, applies) {
            @Override
            public boolean admits(Request request, Candidate candidate, GlobalConfig global) {
                return request.sizeBytes() <= limit.largest(request, candidate, global);
            }

            @Override
            public long largestAdmitted(Request request, Candidate candidate, GlobalConfig global) {
                return limit.largest(request, candidate, global);
            }
        };
    }

    static Filter simple(String reason, Check check) {
        return simple(reason, check, (r, g) -> true);
    }

    static Filter simple(String reason, Check check, Applies applies) {
        return new Named(reason, applies) {
            @Override
            public boolean admits(Request request, Candidate candidate, GlobalConfig global) {
                return check.test(request, candidate, global);
            }
        };
    }

    /** What every built filter shares: one fixed reason, also its name, and when it applies. */
    private abstract static class Named implements Filter {
        private final String reason;
        private final Applies applies;

        Named(String reason, Applies applies) {
            this.reason = reason;
            this.applies = applies;
        }

        @Override
        public String reason(Request request) {
            return reason;
        }

        @Override
        public boolean appliesTo(Request request, GlobalConfig global) {
            return applies.test(request, global);
        }

        @Override
        public String toString() {
            return reason;
        }
    }
}
