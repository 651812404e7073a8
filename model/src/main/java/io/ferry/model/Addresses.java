package io.ferry.model;

import java.util.regex.Pattern;

/**
 * Syntax checks for host names and addresses. Purely textual on purpose: resolving a name here
 * would make decoding a value depend on DNS.
 */
final class Addresses {
    private static final Pattern IPV4 = Pattern.compile(
            "((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])");
    private static final Pattern IPV6 = Pattern.compile("[0-9A-Fa-f:.]{2,45}");
    private static final Pattern HOST_LABEL = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?");

    private Addresses() {
    }

    /** An IPv4 address, an IPv6 address (without brackets) or a DNS host name. */
    static String host(String value, String field) {
        if (value == null) {
            return null;
        }
        if (isHost(value)) {
            return value;
        }
        throw new ValidationException(field, field + ": " + Names.quote(value)
                + " is not an IPv4 address, IPv6 address or host name");
    }

    /** {@code host:port} or {@code [ipv6]:port}. */
    static String hostPort(String value, String field) {
        if (value == null) {
            return null;
        }
        String host;
        String port;
        if (value.startsWith("[")) {
            int close = value.indexOf("]:");
            host = close < 0 ? "" : value.substring(1, close);
            port = close < 0 ? "" : value.substring(close + 2);
            if (!host.contains(":")) {
                host = "";
            }
        } else {
            int colon = value.lastIndexOf(':');
            host = colon < 0 ? "" : value.substring(0, colon);
            port = colon < 0 ? "" : value.substring(colon + 1);
            if (host.contains(":")) {
                host = "";
            }
        }
        if (!isHost(host) || !isPort(port)) {
            throw new ValidationException(field, field + ": " + Names.quote(value)
                    + " is not host:port (IPv6 as [address]:port, port 1-65535)");
        }
        return value;
    }

    private static boolean isIpv6(String s) {
        if (!IPV6.matcher(s).matches() || s.contains(":::")) {
            return false;
        }
        boolean compressed = s.contains("::");
        if (compressed && s.indexOf("::") != s.lastIndexOf("::")) {
            return false;
        }
        String[] groups = s.split(":", -1);
        int words = 0;
        for (int i = 0; i < groups.length; i++) {
            String g = groups[i];
            if (g.isEmpty()) {
                continue;
            }
            if (i == groups.length - 1 && g.contains(".")) {
                if (!IPV4.matcher(g).matches()) {
                    return false;
                }
                words += 2;
            } else if (g.length() > 4 || g.contains(".")) {
                return false;
            } else {
                words++;
            }
        }
        if (!compressed && (s.startsWith(":") || s.endsWith(":"))) {
            return false;
        }
        return compressed ? words < 8 : words == 8;
    }

    private static boolean isPort(String s) {
        if (s.isEmpty() || s.length() > 5 || !s.chars().allMatch(c -> c >= '0' && c <= '9')) {
            return false;
        }
        int p = Integer.parseInt(s);
        return p >= 1 && p <= 65535;
    }

    private static boolean isHost(String s) {
        if (s.isEmpty() || s.length() > 253) {
            return false;
        }
        if (IPV4.matcher(s).matches()) {
            return true;
        }
        if (s.contains(":")) {
            return isIpv6(s);
        }
        String[] labels = s.split("\\.", -1);
        for (String label : labels) {
            if (!HOST_LABEL.matcher(label).matches()) {
                return false;
            }
        }
        // An all-numeric last label is a mistyped IPv4 address, never a real top-level domain.
        return !labels[labels.length - 1].chars().allMatch(c -> c >= '0' && c <= '9');
    }
}
