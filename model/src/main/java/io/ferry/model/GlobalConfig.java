package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * Cluster-wide settings, key {@code <prefix>/config/global}, written by the operator. When the key
 * is absent every component uses {@link #defaults()}; a field omitted in the JSON takes its default.
 *
 * @param schedulerPolicy              how pools are scored; default {@code binpack}
 * @param localAffinityBonus           accepted (0..1, default 0.2) for configs written before
 *                                     position advice became a tier; no longer read by placement
 * @param thinDataHighWatermarkPercent a thin pool whose data usage is at or above this percentage
 *                                     (1..100) receives no new volumes; default 90
 * @param maxRemoteVolumesPerNode      most volumes one node exports to other nodes; 0 (default)
 *                                     means unlimited
 * @param defaultOverprovisionRatio    overprovision ratio (>= 1) of pools that can hold thin
 *                                     volumes and do not set their own; default 4.0
 * @param nqnPrefix                    prefix of subsystem NQNs; default {@code nqn.2026-11.io.ferry}
 * @param exportPortMin                lowest NVMe/TCP port an agent may listen on; default 4420
 * @param exportPortMax                highest such port; default 4420 (one port serves all subsystems)
 * @param nvmeAuth                     whether exports require DH-HMAC-CHAP ({@link NvmeAuth}); default
 *                                     {@code bidirectional}
 */
public record GlobalConfig(
        int schemaVersion,
        SchedulerPolicyName schedulerPolicy,
        double localAffinityBonus,
        int thinDataHighWatermarkPercent,
        int maxRemoteVolumesPerNode,
        double defaultOverprovisionRatio,
        String nqnPrefix,
        int exportPortMin,
        int exportPortMax,
        NvmeAuth nvmeAuth) {

    public static final SchedulerPolicyName DEFAULT_SCHEDULER_POLICY = SchedulerPolicyName.BINPACK;
    public static final double DEFAULT_LOCAL_AFFINITY_BONUS = 0.2;
    public static final int DEFAULT_THIN_DATA_HIGH_WATERMARK_PERCENT = 90;
    public static final double DEFAULT_OVERPROVISION_RATIO = 4.0;
    public static final String DEFAULT_NQN_PREFIX = "nqn.2026-11.io.ferry";
    public static final int DEFAULT_EXPORT_PORT = 4420;
    public static final NvmeAuth DEFAULT_NVME_AUTH = NvmeAuth.BIDIRECTIONAL;
    /** Largest overprovision ratio accepted; anything bigger is almost certainly a typo. */
    public static final double MAX_OVERPROVISION_RATIO = 100.0;

    public GlobalConfig {
        Schema.check(schemaVersion);
        Check.required(schedulerPolicy, "schedulerPolicy");
        Check.range(localAffinityBonus, 0.0, 1.0, "localAffinityBonus");
        Check.range(thinDataHighWatermarkPercent, 1, 100, "thinDataHighWatermarkPercent");
        Check.range(maxRemoteVolumesPerNode, 0, Integer.MAX_VALUE, "maxRemoteVolumesPerNode");
        Check.range(defaultOverprovisionRatio, 1.0, MAX_OVERPROVISION_RATIO, "defaultOverprovisionRatio");
        Check.field("nqnPrefix", Check.required(nqnPrefix, "nqnPrefix"), Nqn::validatePrefix);
        Check.range(exportPortMin, 1, 65535, "exportPortMin");
        Check.range(exportPortMax, 1, 65535, "exportPortMax");
        Check.required(nvmeAuth, "nvmeAuth");
        if (exportPortMin > exportPortMax) {
            throw new ValidationException("exportPortMin", "exportPortMin: " + exportPortMin
                    + " is greater than exportPortMax " + exportPortMax);
        }
    }

    @JsonCreator
    static GlobalConfig fromJson(
            @JsonProperty("schemaVersion") Integer schemaVersion,
            @JsonProperty("schedulerPolicy") SchedulerPolicyName schedulerPolicy,
            @JsonProperty("localAffinityBonus") Double localAffinityBonus,
            @JsonProperty("thinDataHighWatermarkPercent") Integer thinDataHighWatermarkPercent,
            @JsonProperty("maxRemoteVolumesPerNode") Integer maxRemoteVolumesPerNode,
            @JsonProperty("defaultOverprovisionRatio") Double defaultOverprovisionRatio,
            @JsonProperty("nqnPrefix") String nqnPrefix,
            @JsonProperty("exportPortMin") Integer exportPortMin,
            @JsonProperty("exportPortMax") Integer exportPortMax,
            @JsonProperty("nvmeAuth") NvmeAuth nvmeAuth) {
        return new GlobalConfig(Schema.orDefault(schemaVersion),
                Check.orDefault(schedulerPolicy, DEFAULT_SCHEDULER_POLICY),
                Check.orDefault(localAffinityBonus, DEFAULT_LOCAL_AFFINITY_BONUS),
                Check.orDefault(thinDataHighWatermarkPercent, DEFAULT_THIN_DATA_HIGH_WATERMARK_PERCENT),
                Check.orDefault(maxRemoteVolumesPerNode, 0),
                Check.orDefault(defaultOverprovisionRatio, DEFAULT_OVERPROVISION_RATIO),
                Check.orDefault(nqnPrefix, DEFAULT_NQN_PREFIX),
                Check.orDefault(exportPortMin, DEFAULT_EXPORT_PORT),
                Check.orDefault(exportPortMax, DEFAULT_EXPORT_PORT),
                Check.orDefault(nvmeAuth, DEFAULT_NVME_AUTH));
    }

    /** The configuration in force when {@code /config/global} is absent. */
    public static GlobalConfig defaults() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        Builder b = new Builder();
        b.schedulerPolicy = schedulerPolicy;
        b.localAffinityBonus = localAffinityBonus;
        b.thinDataHighWatermarkPercent = thinDataHighWatermarkPercent;
        b.maxRemoteVolumesPerNode = maxRemoteVolumesPerNode;
        b.defaultOverprovisionRatio = defaultOverprovisionRatio;
        b.nqnPrefix = nqnPrefix;
        b.exportPortMin = exportPortMin;
        b.exportPortMax = exportPortMax;
        b.nvmeAuth = nvmeAuth;
        return b;
    }

    /** Mutable builder starting from the defaults; {@link #build()} validates. Not thread-safe. */
    public static final class Builder {
        private SchedulerPolicyName schedulerPolicy = DEFAULT_SCHEDULER_POLICY;
        private double localAffinityBonus = DEFAULT_LOCAL_AFFINITY_BONUS;
        private int thinDataHighWatermarkPercent = DEFAULT_THIN_DATA_HIGH_WATERMARK_PERCENT;
        private int maxRemoteVolumesPerNode;
        private double defaultOverprovisionRatio = DEFAULT_OVERPROVISION_RATIO;
        private String nqnPrefix = DEFAULT_NQN_PREFIX;
        private int exportPortMin = DEFAULT_EXPORT_PORT;
        private int exportPortMax = DEFAULT_EXPORT_PORT;
        private NvmeAuth nvmeAuth = DEFAULT_NVME_AUTH;

        private Builder() {
        }

        public Builder schedulerPolicy(SchedulerPolicyName v) {
            schedulerPolicy = v;
            return this;
        }

        public Builder localAffinityBonus(double v) {
            localAffinityBonus = v;
            return this;
        }

        public Builder thinDataHighWatermarkPercent(int v) {
            thinDataHighWatermarkPercent = v;
            return this;
        }

        public Builder maxRemoteVolumesPerNode(int v) {
            maxRemoteVolumesPerNode = v;
            return this;
        }

        public Builder defaultOverprovisionRatio(double v) {
            defaultOverprovisionRatio = v;
            return this;
        }

        public Builder nqnPrefix(String v) {
            nqnPrefix = v;
            return this;
        }

        public Builder exportPorts(int min, int max) {
            exportPortMin = min;
            exportPortMax = max;
            return this;
        }

        public Builder nvmeAuth(NvmeAuth v) {
            nvmeAuth = v;
            return this;
        }

        public GlobalConfig build() {
            return new GlobalConfig(Schema.CURRENT_VERSION, schedulerPolicy, localAffinityBonus,
                    thinDataHighWatermarkPercent, maxRemoteVolumesPerNode, defaultOverprovisionRatio, nqnPrefix,
                    exportPortMin, exportPortMax, nvmeAuth);
        }
    }
}
