package io.ferry.agent.engine;

import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.CommandFailedException;
import io.ferry.runtime.exec.CommandResult;
import io.ferry.runtime.exec.CommandRunner;

import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * The LVM commands the LVM engines run, serialised per volume group, and the reports they read
 * back. A group or LV that does not exist is an empty answer, not an error.
 */
final class LvmCommands {

    static final String LV_FIELDS = "lv_name,vg_name,lv_size,lv_tags,lv_path,data_percent,metadata_percent,pool_lv,lv_attr";
    static final String VG_FIELDS = "vg_name,vg_size,vg_free,vg_extent_size,vg_missing_pv_count";

    private final CommandRunner runner;
    private final Duration timeout;

    LvmCommands(CommandRunner runner, Duration timeout) {
        this.runner = runner;
        this.timeout = timeout;
    }

    /** The lvm timeout, the base of longer ones (zeroing). */
    Duration timeout() {
        return timeout;
    }

    Optional<LvmReport.Vg> findVg(String vg) {
        CommandResult r = runner.execute(command(List.of("vgs", "--reportformat", "json", "--units", "b", "--nosuffix",
                "-o", VG_FIELDS, vg), vg));
        if (!r.succeeded()) {
            if (notFound(r)) {
                return Optional.empty();
            }
            throw new CommandFailedException(r);
        }
        return LvmReport.vgs(r.stdout()).stream().filter(g -> g.name().equals(vg)).findFirst();
    }

    List<LvmReport.Lv> listLvs(String vg) {
        CommandResult r = runner.execute(command(List.of("lvs", "--reportformat", "json", "--units", "b", "--nosuffix",
                "-o", LV_FIELDS, vg), vg));
        if (!r.succeeded()) {
            if (notFound(r)) {
                return List.of();
            }
            throw new CommandFailedException(r);
        }
        return LvmReport.lvs(r.stdout());
    }

    Optional<LvmReport.Lv> findLv(String vg, String name) {
        return listLvs(vg).stream().filter(lv -> lv.name().equals(name)).findFirst();
    }

    private static boolean notFound(CommandResult r) {
        String err = r.stderr();
        return err.contains("not found") || err.contains("Failed to find");
    }

    void run(List<String> argv, String vg) {
        runner.run(command(argv, vg));
    }

    Command command(List<String> argv, String vg) {
        return Command.of(argv).withTimeout(timeout).serializedBy("lvm:" + vg);
    }
}
