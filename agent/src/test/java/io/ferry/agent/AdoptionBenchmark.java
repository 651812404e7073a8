package io.ferry.agent;

import io.ferry.etcd.testing.Await;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.Engine;
import io.ferry.model.Sizes;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeStatus;
import io.ferry.model.WorkItem;
import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.CommandResult;
import io.ferry.runtime.exec.CommandRunner;
import io.ferry.runtime.exec.ProcessCommandRunner;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Not a test: prints how fast one agent converges N new file-engine volumes (real sparse files and
 * loop devices, real etcd) and how long a restarted agent takes to re-adopt all of them. Run with
 * {@code java -cp <test classpath> io.ferry.agent.AdoptionBenchmark [volumes]} as root.
 */
public final class AdoptionBenchmark {

    private AdoptionBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
        EtcdExtension etcd = new EtcdExtension();
        etcd.beforeAll(null);
        try (AgentHarness h = new AgentHarness(etcd.options(EtcdExtension.uniquePrefix()))) {
            h.filePool("bench");
            h.start();
            long t0 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                h.putWork(WorkItem.of(String.format("bench-%05d", i), AgentHarness.NODE, "bench", Engine.FILE,
                        4 * Sizes.MIB, true, 1, null, null));
            }
            long written = System.nanoTime();
            waitAllReady(h, n);
            long converged = System.nanoTime();
            double seconds = (converged - t0) / 1e9;
            System.out.printf("convergence: %d volumes Ready in %.2f s after the first work item"
                    + " (%.0f volumes/s; writing the work items took %.2f s)%n",
                    n, seconds, n / seconds, (written - t0) / 1e9);

            h.crash();
            int loopsBefore = h.loops().size();
            CountingRunner counting = new CountingRunner();
            long r0 = System.nanoTime();
            h.start(counting, h.options());
            long started = System.nanoTime();
            while (!Boolean.TRUE.equals(Await.result(h.agent().idle()))) {
                Thread.sleep(20);
            }
            long adopted = System.nanoTime();
            waitAllReady(h, n);
            System.out.printf("re-adoption: agent start %.2f s, all %d volumes re-checked and idle after %.2f s;"
                    + " %d commands run, %d loop devices attached (expected 0), %d loop devices in total%n",
                    (started - r0) / 1e9, n, (adopted - r0) / 1e9, counting.all.get(), h.loops().size() - loopsBefore,
                    h.loops().size());
        } finally {
            etcd.afterAll(null);
        }
    }

    private static void waitAllReady(AgentHarness h, int n) throws InterruptedException {
        while (true) {
            long ready = Await.result(h.store.list(h.keys.volumeStatuses(AgentHarness.NODE), VolumeStatus.class))
                    .items().stream().filter(v -> v.value().phase() == VolumePhase.READY).count();
            if (ready >= n) {
                return;
            }
            Thread.sleep(50);
        }
    }

    private static final class CountingRunner implements CommandRunner {
        final CommandRunner real = new ProcessCommandRunner();
        final AtomicInteger all = new AtomicInteger();

        @Override
        public CommandResult execute(Command command) {
            all.incrementAndGet();
            return real.execute(command);
        }
    }
}
