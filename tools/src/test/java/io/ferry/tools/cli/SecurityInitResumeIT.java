package io.ferry.tools.cli;

import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.testing.EtcdExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * An {@code init} that stopped after creating root and writing its password file, before turning
 * authentication on (its own etcd: authentication is a setting of the whole etcd).
 */
class SecurityInitResumeIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    @Test
    void aRerunAfterAnInitThatStoppedBeforeEnablingAuthenticationFinishesItWithTheSameRootPassword() throws Exception {
        String prefix = EtcdExtension.uniquePrefix();
        Path dir = Files.createTempDirectory("ferry-security-resume-");
        String rootPassword = SecurityCommands.newPassword();
        SecurityCommands.writePassword(dir.resolve("root.password"), rootPassword);
        try (EtcdStore plain = EtcdStore.connect(etcd.options(prefix))) {
            var auth = plain.client().getAuthClient();
            auth.roleAdd(SecurityCommands.bytes("root")).get(10, TimeUnit.SECONDS);
            auth.userAdd(SecurityCommands.bytes("root"), SecurityCommands.bytes(rootPassword)).get(10, TimeUnit.SECONDS);
            auth.userGrantRole(SecurityCommands.bytes("root"), SecurityCommands.bytes("root")).get(10, TimeUnit.SECONDS);
        }
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = FerryCtl.run(new String[] {"security", "init", "--credentials-dir", dir.toString()},
                Map.of("FERRY_ETCD_ENDPOINTS", etcd.endpoint(), "FERRY_PREFIX", prefix),
                new PrintWriter(out, true), new PrintWriter(err, true));

        assertThat(code).as(out + "\n" + err).isZero();
        assertThat(out.toString()).doesNotContain("user root:").contains("user ferry-controller: created",
                "etcd authentication: enabled");
        assertThat(Files.readString(dir.resolve("root.password")).strip()).isEqualTo(rootPassword);
        try (EtcdStore asRoot = EtcdStore.connect(etcd.options(prefix).withUser("root", rootPassword))) {
            assertThat(asRoot.client().getAuthClient().userList().get(10, TimeUnit.SECONDS).getUsers())
                    .contains("root", "ferry-controller", "ferry-admin");
        }
    }
}
