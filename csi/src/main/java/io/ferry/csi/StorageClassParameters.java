package io.ferry.csi;

import io.ferry.model.Engine;
import io.ferry.model.FailureDomainLevel;
import io.ferry.model.Layout;
import io.ferry.model.MkfsOptions;
import io.ferry.model.Names;
import io.ferry.model.PositionAdvice;
import io.ferry.model.ValidationException;
import io.ferry.model.VolumeIntent;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The StorageClass {@code parameters} Ferry understands (see docs/csi.md). Unknown keys are refused
 * with INVALID_ARGUMENT rather than ignored, as everywhere in Ferry: a misspelt {@code thin} must not
 * silently give a thick volume. Keys the Kubernetes sidecars add themselves
 * ({@code csi.storage.k8s.io/...}) are read where useful and otherwise skipped.
 *
 * @param spreadGroup a literal group name, or null; see {@link #SPREAD_BY_STATEFULSET}
 * @param layout      {@code single} unless the class asks for {@code linear}, {@code striped} or {@code mirror} (docs/layouts.md)
 * @param parts       how many parts: the layout's smallest count unless the class gives one
 */
public record StorageClassParameters(
        Map<String, String> poolSelector,
        Map<String, String> nodeSelector,
        boolean thin,
        Engine engine,
        PositionAdvice positionAdvice,
        String spreadGroup,
        FailureDomainLevel failureDomainLevel,
        String fsType,
        List<String> mkfsOptions,
        Layout layout,
        int parts) {

    public static final String POOL_SELECTOR = "poolSelector";
    public static final String NODE_SELECTOR = "nodeSelector";
    public static final String THIN = "thin";
    public static final String ENGINE = "engine";
    public static final String POSITION_ADVICE = "positionAdvice";
    public static final String SPREAD_GROUP = "spreadGroup";
    public static final String FAILURE_DOMAIN_LEVEL = "failureDomainLevel";
    public static final String FS_TYPE = "fsType";
    public static final String MKFS_OPTIONS = "mkfsOptions";
    public static final String LAYOUT = "layout";
    public static final String PARTS = "parts";
    public static final Set<String> KNOWN = Set.of(POOL_SELECTOR, NODE_SELECTOR, THIN, ENGINE, POSITION_ADVICE,
            SPREAD_GROUP, FAILURE_DOMAIN_LEVEL, FS_TYPE, MKFS_OPTIONS, LAYOUT, PARTS);

    /**
     * {@code spreadGroup: statefulset} groups the volumes of one StatefulSet claim template: the
     * group is derived from the PVC's namespace and name without its ordinal suffix
     * ({@code data-mysql-0} and {@code data-mysql-1} share a group). Needs the external-provisioner's
     * {@code --extra-create-metadata}.
     */
    public static final String SPREAD_BY_STATEFULSET = "statefulset";
    static final String SIDECAR_PREFIX = "csi.storage.k8s.io/";
    static final String PVC_NAME = "csi.storage.k8s.io/pvc/name";
    static final String PVC_NAMESPACE = "csi.storage.k8s.io/pvc/namespace";

    public static StorageClassParameters parse(Map<String, String> parameters) {
        List<String> unknown = new ArrayList<>();
        for (String key : parameters.keySet()) {
            if (!KNOWN.contains(key) && !key.startsWith(SIDECAR_PREFIX)) {
                unknown.add(key);
            }
        }
        if (!unknown.isEmpty()) {
            unknown.sort(null);
            throw new ValidationException("unknown StorageClass parameter(s) " + unknown + "; known: "
                    + KNOWN.stream().sorted().toList());
        }
        Map<String, String> poolSelector = selector(POOL_SELECTOR, parameters.get(POOL_SELECTOR));
        Map<String, String> nodeSelector = selector(NODE_SELECTOR, parameters.get(NODE_SELECTOR));
        boolean thin = bool(THIN, parameters.get(THIN));
        Engine engine = blank(parameters.get(ENGINE)) ? null : Engine.parse(parameters.get(ENGINE).trim());
        PositionAdvice advice = blank(parameters.get(POSITION_ADVICE)) ? null
                : PositionAdvice.parse(parameters.get(POSITION_ADVICE).trim());
        String spread = spreadGroup(parameters);
        FailureDomainLevel level = blank(parameters.get(FAILURE_DOMAIN_LEVEL)) ? null
                : FailureDomainLevel.parse(parameters.get(FAILURE_DOMAIN_LEVEL).trim());
        String fsType = blank(parameters.get(FS_TYPE)) ? null : parameters.get(FS_TYPE).trim().toLowerCase(Locale.ROOT);
        List<String> mkfs = MkfsOptions.split(parameters.get(MKFS_OPTIONS));
        Layout layout = blank(parameters.get(LAYOUT)) ? Layout.SINGLE : Layout.parse(parameters.get(LAYOUT).trim());
        int parts = parts(layout, parameters.get(PARTS));
        return new StorageClassParameters(poolSelector, nodeSelector, thin, engine, advice, spread, level, fsType, mkfs,
                layout, parts);
    }

    /**
     * The part count, checked here against the layout so that the StorageClass's author reads which
     * parameter is wrong (the intent's own check would name neither the class nor the key).
     */
    private static int parts(Layout layout, String text) {
        if (blank(text)) {
            return layout.defaultParts();
        }
        int parts;
        try {
            parts = Integer.parseInt(text.trim());
        } catch (NumberFormatException e) {
            throw new ValidationException(PARTS, PARTS + ": '" + text + "' is not a whole number");
        }
        if (parts < layout.minParts() || parts > layout.maxParts()) {
            throw new ValidationException(PARTS, PARTS + ": a " + layout + " volume has " + (layout.multiPart()
                    ? layout.minParts() + " to " + layout.maxParts() + " parts" : "exactly 1 part (set " + LAYOUT
                    + " to linear, striped or mirror for more)") + ", not " + parts);
        }
        return parts;
    }

    /**
     * A volume of this class as the scheduler sees it: every parameter that decides where it may
     * live. CreateVolume adds what it makes the volume from and how it is formatted; GetCapacity asks
     * the scheduler about exactly this, so both read the class the same way.
     */
    VolumeIntent.Builder intent(String name, long sizeBytes) {
        VolumeIntent.Builder builder = VolumeIntent.builder(name, sizeBytes)
                .thin(thin)
                .engine(engine)
                .spreadGroup(spreadGroup)
                .poolSelector(poolSelector)
                .nodeSelector(nodeSelector)
                .layout(layout)
                .parts(parts);
        if (positionAdvice != null) {
            builder.positionAdvice(positionAdvice);
        }
        if (failureDomainLevel != null) {
            builder.failureDomainLevel(failureDomainLevel);
        }
        return builder;
    }

    private static String spreadGroup(Map<String, String> parameters) {
        String value = parameters.get(SPREAD_GROUP);
        if (blank(value)) {
            return null;
        }
        value = value.trim();
        if (!value.equals(SPREAD_BY_STATEFULSET)) {
            return Names.spreadGroupName(value);
        }
        String pvc = parameters.get(PVC_NAME);
        if (blank(pvc)) {
            throw new ValidationException("spreadGroup: 'statefulset' needs the PVC name "
                    + "(run the external-provisioner with --extra-create-metadata)");
        }
        String claimTemplate = pvc.replaceAll("-[0-9]+$", "");
        String namespace = parameters.getOrDefault(PVC_NAMESPACE, "");
        return CsiNames.ferryName(namespace.isEmpty() ? claimTemplate : namespace + "-" + claimTemplate);
    }

    static Map<String, String> selector(String field, String text) {
        Map<String, String> out = new LinkedHashMap<>();
        if (blank(text)) {
            return out;
        }
        for (String part : text.split(",")) {
            String item = part.trim();
            if (item.isEmpty()) {
                continue;
            }
            int eq = item.indexOf('=');
            if (eq <= 0) {
                throw new ValidationException(field + ": '" + item + "' is not key=value");
            }
            String key = item.substring(0, eq).trim();
            String value = item.substring(eq + 1).trim();
            if (!Names.isValidLabelKey(key) || !Names.isValidLabelValue(value)) {
                throw new ValidationException(field + ": '" + item + "' is not a valid label key=value");
            }
            out.put(key, value);
        }
        return out;
    }

    private static boolean bool(String field, String text) {
        if (blank(text)) {
            return false;
        }
        return switch (text.trim().toLowerCase(Locale.ROOT)) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new ValidationException(field + ": '" + text + "' is not true or false");
        };
    }

    private static boolean blank(String s) {
        return s == null || s.isBlank();
    }
}
