package io.ferry.tools.bench;

import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The CI smoke of {@code ferryctl bench scale}: a small cluster (20 simulated nodes, 500 volumes) run
 * end to end. Only what must hold whatever the machine's speed is asserted, never a time.
 */
class ScaleRunIT {

    @Test
    void aSmallScaleRunPlacesEverythingBalancesTheLedgersAndKeepsTheNodePluginsWatchesQuiet() throws Exception {
        StringWriter text = new StringWriter();
        ScaleRun.Result result = ScaleRun.run(new ScaleRun.Options(20, 500, 32, 10, 3, 64L << 20,
                List.of("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"), 2, Duration.ofMinutes(3)),
                new PrintWriter(text, true));
        String report = text.toString();
        System.out.println(report);

        assertThat(result.violations()).as(report).isEmpty();
        assertThat(result.figure("invariant.unplaced_volumes")).as(report).isZero();
        assertThat(result.figure("invariant.ledgers_not_equal_to_placements")).as(report).isZero();
        assertThat(result.figure("invariant.ledgers_not_equal_to_placements_after_deletion")).as(report).isZero();
        // 10 % of the volumes are consumed on the restarted node, and placed there.
        assertThat(result.figure("restart.volumes")).as(report).isEqualTo(50);
        // Re-adopted volumes already had their status: the restarted agent rewrote none of them.
        assertThat(result.figure("restart.status_writes")).as(report).isZero();
        // The node plugin's node hosts none of the volumes: nothing of theirs reaches its watches,
        // while the controller service's whole-cluster view receives every one (intent, placement, record, status).
        // Its watches still see the controllers' election (leadership may move under load) and its own
        // registration: a few changes at most, whatever the number of volumes.
        assertThat(result.figure("node_plugin.changes_during_provisioning")).as(report).isLessThanOrEqualTo(8);
        assertThat(result.figure("csi_controller.changes_per_volume")).as(report).isGreaterThanOrEqualTo(4);
        assertThat(result.figures()).containsKeys("failover.elected_seconds", "failover.fresh_volume_ready_seconds",
                "restart.readopted_seconds", "restart.reachable_again_seconds", "steady.leader_heap_mib_after_gc",
                "steady.standby_heap_mib_after_gc", "etcd.db_mib", "etcd.keys_per_volume", "delete.per_second");
        assertThat(report).contains("violations: 0");
    }
}
