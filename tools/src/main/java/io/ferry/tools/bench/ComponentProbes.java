package io.ferry.tools.bench;

import io.ferry.etcd.store.EtcdStore;
import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.CommandRunner;
import io.ferry.tools.up.ComponentProcess;
import io.ferry.tools.up.LocalEtcd;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * What the scale run reads from its controller processes from outside: who leads (their admin API),
 * the CPU they used (/proc) and their heap after a full collection (jcmd, jstat); and etcd's size.
 */
final class ComponentProbes {

    private final CommandRunner runner;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    ComponentProbes(CommandRunner runner) {
        this.runner = runner;
    }

    /** Index of the controller whose admin API says it leads, or -1. */
    int leader(int[] ports) {
        for (int i = 0; i < ports.length; i++) {
            if (leads(ports[i])) {
                return i;
            }
        }
        return -1;
    }

    boolean leads(int port) {
        try {
            HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/readyz"))
                    .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString());
            return response.statusCode() == 200 && response.body().contains("leader");
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** User and system CPU of the process so far, in clock ticks, from /proc. */
    static long cpuTicks(ComponentProcess process) throws IOException {
        long pid = process.process().orElseThrow().pid();
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        // The command name may hold spaces: the fields are counted from its closing parenthesis.
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }

    static double ticksToSeconds(long ticks) {
        return ticks / 100.0;
    }

    /** Heap in use right after a full collection the JVM is asked for (jcmd), as jstat reports it. */
    long heapAfterGc(ComponentProcess process) {
        String pid = Long.toString(process.process().orElseThrow().pid());
        runner.run(Command.of("jcmd", pid, "GC.run").withTimeout(Duration.ofSeconds(60)));
        String[] lines = runner.run(Command.of("jstat", "-gc", pid).withTimeout(Duration.ofSeconds(30))).stdout().strip()
                .split("\n");
        String[] names = lines[0].trim().split("\\s+");
        String[] values = lines[1].trim().split("\\s+");
        double kib = 0;
        for (int i = 0; i < names.length; i++) {
            if (List.of("S0U", "S1U", "EU", "OU").contains(names[i])) {
                kib += Double.parseDouble(values[i]);
            }
        }
        return (long) (kib * 1024);
    }

    /** The size of etcd's database file ({@code inUse}: the part in use) as its first member reports it. */
    static long dbSize(EtcdStore store, LocalEtcd etcd, boolean inUse) throws Exception {
        var status = store.client().getMaintenanceClient().statusMember(etcd.endpoint().split(",")[0])
                .get(30, TimeUnit.SECONDS);
        return inUse ? status.getDbSizeInUse() : status.getDbSize();
    }
}
