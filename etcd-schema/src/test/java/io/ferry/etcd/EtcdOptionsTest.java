package io.ferry.etcd;

import io.ferry.model.ValidationException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class EtcdOptionsTest {

    @Test
    void defaultsToLocalEtcdAndTheFerryPrefix() {
        EtcdOptions options = EtcdOptions.fromEnvironment(Map.of());
        assertThat(options.endpoints()).extracting(Object::toString).containsExactly("http://127.0.0.1:2379");
        assertThat(options.prefix()).isEqualTo("/ferry");
        assertThat(options.tls()).isFalse();
    }

    @Test
    void readsEndpointsAndPrefixFromTheEnvironmentAndAcceptsBareHostPorts() {
        EtcdOptions options = EtcdOptions.fromEnvironment(Map.of(
                "FERRY_ETCD_ENDPOINTS", "10.0.0.1:2379, https://etcd-2:2379",
                "FERRY_PREFIX", "/prod/ferry"));
        assertThat(options.endpoints()).extracting(Object::toString).containsExactly("http://10.0.0.1:2379", "https://etcd-2:2379");
        assertThat(options.prefix()).isEqualTo("/prod/ferry");
        assertThat(options.tls()).isTrue();
    }

    @Test
    void rejectsEndpointsWithoutAPortOrWithAnotherScheme() {
        assertThatThrownBy(() -> EtcdOptions.of("http://etcd")).isInstanceOf(ValidationException.class).hasMessageContaining("http://host:port");
        assertThatThrownBy(() -> EtcdOptions.of("ftp://etcd:21")).isInstanceOf(ValidationException.class);
        assertThatThrownBy(() -> new EtcdOptions.Builder().build()).isInstanceOf(ValidationException.class)
                .hasMessageContaining("at least one etcd endpoint");
    }

    @Test
    void tlsFilesNeedHttpsEndpointsAndMustBeReadable(@TempDir Path dir) throws Exception {
        Path ca = Files.writeString(dir.resolve("ca.crt"), "x");
        assertThatThrownBy(() -> new EtcdOptions.Builder().endpoints("http://e:2379").caFile(ca).build())
                .isInstanceOf(ValidationException.class).hasMessageContaining("https://");
        assertThatThrownBy(() -> new EtcdOptions.Builder().endpoints("https://e:2379").caFile(dir.resolve("missing.crt")).build())
                .isInstanceOf(ValidationException.class).hasMessageContaining("missing.crt");
        assertThatThrownBy(() -> new EtcdOptions.Builder().endpoints("https://e:2379").certFile(ca).build())
                .isInstanceOf(ValidationException.class).hasMessageContaining("both certFile and keyFile");
        assertThat(new EtcdOptions.Builder().endpoints("https://e:2379").caFile(ca).build().tls()).isTrue();
    }

    @Test
    void credentialsComeInPairsAndThePasswordNeverReachesToString() {
        assertThatThrownBy(() -> new EtcdOptions.Builder().endpoints("e:2379").user("root").build())
                .isInstanceOf(ValidationException.class);
        EtcdOptions options = new EtcdOptions.Builder().endpoints("e:2379").user("root").password("hunter2").build();
        assertThat(options.toString()).contains("root").doesNotContain("hunter2");
    }

    @Test
    void thePasswordIsReadFromTheFileNamedInTheEnvironment(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("ferry-agent-worker-1.password");
        Files.writeString(file, "s3cret-from-file\n");
        EtcdOptions options = EtcdOptions.fromEnvironment(Map.of("FERRY_ETCD_USER", "ferry-agent-worker-1",
                "FERRY_ETCD_PASSWORD_FILE", file.toString()));
        assertThat(options.user()).isEqualTo("ferry-agent-worker-1");
        assertThat(options.password()).isEqualTo("s3cret-from-file");

        assertThatThrownBy(() -> EtcdOptions.fromEnvironment(Map.of("FERRY_ETCD_USER", "u",
                "FERRY_ETCD_PASSWORD_FILE", file.toString(), "FERRY_ETCD_PASSWORD", "other")))
                .isInstanceOf(ValidationException.class).hasMessageContaining("set only one");
        assertThatThrownBy(() -> EtcdOptions.fromEnvironment(Map.of("FERRY_ETCD_USER", "u",
                "FERRY_ETCD_PASSWORD_FILE", dir.resolve("missing").toString())))
                .isInstanceOf(ValidationException.class).hasMessageContaining("cannot read the etcd password file");
    }

    @Test
    void optionalCredentialsWhoseFileIsAbsentMeanNoUserAndWhoseFileIsThereMeanTheUser(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("password");
        Map<String, String> env = Map.of("FERRY_ETCD_USER", "ferry-csi-node", "FERRY_ETCD_PASSWORD_FILE", file.toString(),
                "FERRY_ETCD_CREDENTIALS_OPTIONAL", "true");
        EtcdOptions without = EtcdOptions.fromEnvironment(env);
        assertThat(without.user()).isNull();
        assertThat(without.password()).isNull();

        Files.writeString(file, "s3cret\n");
        EtcdOptions with = EtcdOptions.fromEnvironment(env);
        assertThat(with.user()).isEqualTo("ferry-csi-node");
        assertThat(with.password()).isEqualTo("s3cret");
    }

    @Test
    void credentialsAreOptionalOnlyWhenSaidSoAndOnlyForAPasswordFile(@TempDir Path dir) {
        String missing = dir.resolve("missing").toString();
        assertThatThrownBy(() -> EtcdOptions.fromEnvironment(Map.of("FERRY_ETCD_USER", "u", "FERRY_ETCD_PASSWORD_FILE", missing,
                "FERRY_ETCD_CREDENTIALS_OPTIONAL", "false")))
                .isInstanceOf(ValidationException.class).hasMessageContaining("cannot read the etcd password file");
        assertThatThrownBy(() -> EtcdOptions.fromEnvironment(Map.of("FERRY_ETCD_USER", "u", "FERRY_ETCD_PASSWORD_FILE", missing,
                "FERRY_ETCD_CREDENTIALS_OPTIONAL", "yes")))
                .isInstanceOf(ValidationException.class).hasMessageContaining("must be true or false");
        assertThatThrownBy(() -> EtcdOptions.fromEnvironment(Map.of("FERRY_ETCD_USER", "u", "FERRY_ETCD_PASSWORD", "p",
                "FERRY_ETCD_CREDENTIALS_OPTIONAL", "true")))
                .isInstanceOf(ValidationException.class).hasMessageContaining("applies to a password file");
    }
}
