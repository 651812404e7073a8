package io.ferry.tools.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * ferryctl run in this JVM through {@link FerryCtl#run}, exactly as a shell would run it: what it
 * printed on each stream and its exit code. The environment is live, so a test can point ferryctl at
 * an admin API or a CSI endpoint once it is up.
 */
public final class CtlShell {

    /** One run of ferryctl. */
    public record Result(int code, String out, String err) {
        @Override
        public String toString() {
            return "exit " + code + "\n--- stdout\n" + out + "--- stderr\n" + err;
        }
    }

    private final Map<String, String> env;

    /** @param env ferryctl's environment; later changes to the map apply to later runs */
    public CtlShell(Map<String, String> env) {
        this.env = env;
    }

    /** Runs ferryctl under {@code environment}. */
    public static Result run(Map<String, String> environment, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = FerryCtl.run(args, environment, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Result(code, out.toString(), err.toString());
    }

    public Map<String, String> env() {
        return env;
    }

    public Result run(String... args) {
        return run(env, args);
    }

    /** Runs ferryctl and asserts that it succeeded, naming the command and its output otherwise. */
    public Result ok(String... args) {
        return exits(0, args);
    }

    /** Runs ferryctl and asserts that it failed with {@code code}. */
    public Result fails(int code, String... args) {
        return exits(code, args);
    }

    private Result exits(int code, String... args) {
        Result r = run(args);
        assertThat(r.code()).as("ferryctl %s\n%s", String.join(" ", args), r).isEqualTo(code);
        return r;
    }
}
