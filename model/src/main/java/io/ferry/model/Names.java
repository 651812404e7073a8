package io.ferry.model;

/**
 * Validators for the names Ferry stores and passes on to other tools.
 *
 * <p>Volume, snapshot and pool names end up as LVM logical volume names, file names, etcd key
 * segments and parts of NVMe qualified names, and they appear as arguments of external commands.
 * They therefore follow the strictest common rule, that of a DNS label: 1 to 63 characters,
 * lowercase ASCII letters, digits and {@code '-'}, starting and ending with a letter or digit. This
 * excludes by construction everything that could be read as a path ({@code /}, {@code .},
 * {@code ..}), a command-line option (a leading {@code -}) or shell syntax.
 *
 * <p>Every validator returns its argument unchanged when it is valid and otherwise throws
 * {@link ValidationException} with a message that quotes the value and explains the rule. The
 * {@code isValid...} variants never throw. All methods are pure and thread-safe.
 */
public final class Names {
    /** Longest volume, snapshot, pool or spread-group name, and longest node-name label. */
    public static final int MAX_NAME_LENGTH = 63;
    /** Longest node name (a DNS subdomain, as Kubernetes node names may be FQDNs). */
    public static final int MAX_NODE_NAME_LENGTH = 253;
    /** Longest label key name part and label value. */
    public static final int MAX_LABEL_LENGTH = 63;

    private static final String LABEL_RULE = "names must be 1-63 lowercase letters, digits and '-', starting and"
            + " ending with a letter or digit";

    private Names() {
    }

    /** Validates a volume name. */
    public static String volumeName(String name) {
        return dnsLabel("volume name", name);
    }

    /** Validates a snapshot name (same rules as volume names; snapshots become LVs and files too). */
    public static String snapshotName(String name) {
        return dnsLabel("snapshot name", name);
    }

    /** Validates a pool name. */
    public static String poolName(String name) {
        return dnsLabel("pool name", name);
    }

    /** Validates a spread-group name (same rules as volume names). */
    public static String spreadGroupName(String name) {
        return dnsLabel("spread group name", name);
    }

    /**
     * Validates a node name: lowercase DNS labels separated by single dots, at most 253 characters
     * in total (Kubernetes node names are often FQDNs such as {@code worker-1.dc1.example.com}).
     */
    public static String nodeName(String name) {
        String kind = "node name";
        if (name == null) {
            throw new ValidationException(kind + " is missing");
        }
        String rule = "node names must be lowercase DNS names: labels of letters, digits and '-' separated by"
                + " single dots, at most 253 characters";
        if (name.isEmpty()) {
            throw new ValidationException(kind + " is empty; " + rule);
        }
        if (name.length() > MAX_NODE_NAME_LENGTH) {
            throw invalid(kind, name, "it is " + name.length() + " characters long; the limit is 253", rule);
        }
        for (String label : name.split("\\.", -1)) {
            if (label.isEmpty()) {
                throw invalid(kind, name, "it contains an empty label ('..', or a leading or trailing '.')", rule);
            }
            String why = labelProblem(label, true);
            if (why != null) {
                throw invalid(kind, name, why, rule);
            }
        }
        return name;
    }

    /**
     * Validates a label key: an optional DNS-subdomain prefix and {@code '/'}, then a name of 1-63
     * letters, digits, {@code '-'}, {@code '_'} and {@code '.'} starting and ending with a letter
     * or digit, as in Kubernetes (so {@code topology.kubernetes.io/zone} and {@code rack} are both
     * valid keys).
     */
    public static String labelKey(String key) {
        String kind = "label key";
        String rule = "label keys are an optional DNS prefix and '/', then 1-63 letters, digits, '-', '_' and '.',"
                + " starting and ending with a letter or digit";
        if (key == null) {
            throw new ValidationException(kind + " is missing");
        }
        if (key.isEmpty()) {
            throw new ValidationException(kind + " is empty; " + rule);
        }
        int slash = key.indexOf('/');
        String name = key;
        if (slash >= 0) {
            String prefix = key.substring(0, slash);
            name = key.substring(slash + 1);
            if (!isValidNodeNameLike(prefix)) {
                throw invalid(kind, key, "the prefix before '/' must be a lowercase DNS name", rule);
            }
            if (name.indexOf('/') >= 0) {
                throw invalid(kind, key, "only one '/' is allowed", rule);
            }
        }
        String why = labelTextProblem(name, false);
        if (why != null) {
            throw invalid(kind, key, why, rule);
        }
        return key;
    }

    /**
     * Validates a label value: empty, or 1-63 letters, digits, {@code '-'}, {@code '_'},
     * {@code '.'} and {@code '/'} starting and ending with a letter or digit.
     */
    public static String labelValue(String value) {
        String kind = "label value";
        if (value == null) {
            throw new ValidationException(kind + " is missing (use \"\" for an empty value)");
        }
        if (value.isEmpty()) {
            return value;
        }
        String why = labelTextProblem(value, true);
        if (why != null) {
            throw invalid(kind, value, why, "label values are empty or 1-63 letters, digits, '-', '_', '.' and '/',"
                    + " starting and ending with a letter or digit");
        }
        return value;
    }

    public static boolean isValidVolumeName(String name) {
        return test(() -> volumeName(name));
    }

    public static boolean isValidSnapshotName(String name) {
        return test(() -> snapshotName(name));
    }

    public static boolean isValidPoolName(String name) {
        return test(() -> poolName(name));
    }

    public static boolean isValidNodeName(String name) {
        return test(() -> nodeName(name));
    }

    public static boolean isValidLabelKey(String key) {
        return test(() -> labelKey(key));
    }

    public static boolean isValidLabelValue(String value) {
        return test(() -> labelValue(value));
    }

    private static boolean isValidNodeNameLike(String s) {
        return isValidNodeName(s);
    }

    private static boolean test(Runnable r) {
        try {
            r.run();
            return true;
        } catch (ValidationException e) {
            return false;
        }
    }

    private static String dnsLabel(String kind, String name) {
        if (name == null) {
            throw new ValidationException(kind + " is missing");
        }
        if (name.isEmpty()) {
            throw new ValidationException(kind + " is empty; " + LABEL_RULE);
        }
        String why = labelProblem(name, false);
        if (why != null) {
            throw invalid(kind, name, why, LABEL_RULE);
        }
        return name;
    }

    private static ValidationException invalid(String kind, String value, String why, String rule) {
        return new ValidationException(kind + " " + quote(value) + " is invalid: " + why + "; " + rule);
    }

    /** Why {@code s} is not a DNS label, or null if it is one. */
    private static String labelProblem(String s, boolean insideNodeName) {
        if (s.length() > MAX_NAME_LENGTH) {
            return "it is " + s.length() + " characters long; the limit is " + MAX_NAME_LENGTH
                    + (insideNodeName ? " per dot-separated label"
                            : " because names become LVM volume names and part of NVMe qualified names");
        }
        if (s.charAt(0) == '-') {
            return "it starts with '-', which tools such as lvcreate would read as a command-line option";
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') {
                continue;
            }
            if (c >= 'A' && c <= 'Z') {
                return "it contains uppercase letters; use lowercase (names are compared exactly in file names,"
                        + " LV names and NQNs, so only one spelling is allowed)";
            }
            if (c == '/') {
                return "it contains '/'; names are used as file names and etcd key segments";
            }
            if (c == '.') {
                return "it contains '.'; names are used as file and device names, where '.' and '..' are special";
            }
            if (c == '_') {
                return "it contains '_', which is not valid in DNS and Kubernetes names";
            }
            return "it contains " + describe(c) + (c < 128 ? "; shell and path metacharacters are never accepted"
                    : "; only ASCII is accepted");
        }
        if (s.charAt(s.length() - 1) == '-') {
            return "it ends with '-'";
        }
        return null;
    }

    private static String labelTextProblem(String s, boolean allowSlash) {
        if (s.isEmpty()) {
            return "the name part is empty";
        }
        if (s.length() > MAX_LABEL_LENGTH) {
            return "it is " + s.length() + " characters long; the limit is " + MAX_LABEL_LENGTH;
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
            if (alnum) {
                continue;
            }
            if (c == '-' || c == '_' || c == '.' || (allowSlash && c == '/')) {
                if (i == 0 || i == s.length() - 1) {
                    return "it must start and end with a letter or digit";
                }
                continue;
            }
            return "it contains " + describe(c);
        }
        return null;
    }

    /** Quotes a user-supplied value for a message, escaping control characters and truncating. */
    static String quote(String value) {
        StringBuilder b = new StringBuilder("\"");
        int limit = Math.min(value.length(), 80);
        for (int i = 0; i < limit; i++) {
            char c = value.charAt(i);
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20 || c == 0x7f || (c >= 0x80 && Character.isISOControl(c))) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        if (value.length() > limit) {
            b.append("...");
        }
        return b.append('"').toString();
    }

    static String describe(char c) {
        if (c == ' ') {
            return "a space";
        }
        if (Character.isWhitespace(c)) {
            return "whitespace (U+" + String.format("%04X", (int) c) + ")";
        }
        if (c < 0x20 || c == 0x7f || c > 0x7e) {
            return "the character U+" + String.format("%04X", (int) c);
        }
        return "'" + c + "'";
    }
}
