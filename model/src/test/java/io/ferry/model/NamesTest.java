package io.ferry.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class NamesTest {
    @ParameterizedTest
    @ValueSource(strings = {"a", "0", "data-1", "mysql-0-data", "a1b2c3", "x-y-z",
            "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk"})
    void acceptsDnsLabelVolumeNames(String name) {
        assertThat(Names.volumeName(name)).isEqualTo(name);
        assertThat(Names.isValidVolumeName(name)).isTrue();
        assertThat(Names.isValidSnapshotName(name)).isTrue();
        assertThat(Names.isValidPoolName(name)).isTrue();
        assertThat(Names.isValidNodeName(name)).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "My-Vol", "my vol", "a/b", "..", ".", "a.b", "a_b", "-rf", "vol-", "a;b",
            "$(reboot)", "`id`", "a|b", "a&b", "a>b", "a\nb", "a\tb", "vol\u00e9", "a'b", "a\"b", "a\\b", "*", "~",
            "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl"})
    void rejectsVolumeNamesThatAreNotDnsLabels(String name) {
        assertThatThrownBy(() -> Names.volumeName(name)).isInstanceOf(ValidationException.class)
                .hasMessageContaining("volume name");
        assertThat(Names.isValidVolumeName(name)).isFalse();
        assertThat(Names.isValidSnapshotName(name)).isFalse();
        assertThat(Names.isValidPoolName(name)).isFalse();
    }

    @Test
    void rejectsNullNames() {
        assertThat(Names.isValidVolumeName(null)).isFalse();
        assertThatThrownBy(() -> Names.nodeName(null)).isInstanceOf(ValidationException.class)
                .hasMessage("node name is missing");
    }

    @Test
    void explainsWhyALeadingDashIsRejected() {
        assertThatThrownBy(() -> Names.volumeName("-rf")).hasMessageContaining("command-line option");
    }

    @Test
    void explainsUppercaseAndQuotesTheValue() {
        assertThatThrownBy(() -> Names.volumeName("My Vol"))
                .hasMessageStartingWith("volume name \"My Vol\" is invalid: it contains uppercase letters");
    }

    @Test
    void explainsSlashesAndDots() {
        assertThatThrownBy(() -> Names.poolName("a/b")).hasMessageContaining("'/'");
        assertThatThrownBy(() -> Names.snapshotName("..")).hasMessageContaining("'.'");
    }

    @Test
    void explainsLengthLimit() {
        assertThatThrownBy(() -> Names.volumeName("a".repeat(64))).hasMessageContaining("64 characters long")
                .hasMessageContaining("limit is 63");
    }

    @Test
    void escapesControlCharactersInMessages() {
        assertThatThrownBy(() -> Names.volumeName("a\u001b[31mb")).hasMessageContaining("\\u001b")
                .hasMessageNotContaining("\u001b");
    }

    @ParameterizedTest
    @ValueSource(strings = {"worker-1", "worker-1.dc1.example.com", "n", "a.b.c",
            "k8s-node-01.eu-west-1.compute.internal"})
    void acceptsDnsSubdomainNodeNames(String name) {
        assertThat(Names.nodeName(name)).isEqualTo(name);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "a..b", ".a", "a.", "Worker-1", "worker_1", "worker 1", "a/b", "-a.b", "a.-b",
            "a.b-", "node;rm"})
    void rejectsMalformedNodeNames(String name) {
        assertThatThrownBy(() -> Names.nodeName(name)).isInstanceOf(ValidationException.class)
                .hasMessageContaining("node name");
    }

    @Test
    void limitsNodeNamesTo253Characters() {
        String label = "a".repeat(63);
        String ok = label + "." + label + "." + label + "." + "a".repeat(61);
        assertThat(ok).hasSize(253);
        assertThat(Names.isValidNodeName(ok)).isTrue();
        assertThat(Names.isValidNodeName(ok + "a")).isFalse();
        assertThat(Names.isValidNodeName("a".repeat(64) + ".b")).isFalse();
    }

    @ParameterizedTest
    @ValueSource(strings = {"rack", "zone", "topology.kubernetes.io/zone", "Media", "a_b", "a.b-c", "x/y"})
    void acceptsLabelKeys(String key) {
        assertThat(Names.labelKey(key)).isEqualTo(key);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "-rack", "rack-", "a/b/c", "/zone", "Example.COM/zone", "a b", "a;b", "zone/",
            "ünïcode"})
    void rejectsBadLabelKeys(String key) {
        assertThat(Names.isValidLabelKey(key)).isFalse();
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "r1", "nvme", "eu-west-1a", "A.b_c", "row1/rack3"})
    void acceptsLabelValuesIncludingEmpty(String value) {
        assertThat(Names.labelValue(value)).isEqualTo(value);
    }

    @ParameterizedTest
    @ValueSource(strings = {"-a", "a-", "a b", "$(x)", "a;b", "/a"})
    void rejectsBadLabelValues(String value) {
        assertThat(Names.isValidLabelValue(value)).isFalse();
        assertThat(Names.isValidLabelValue("a".repeat(64))).isFalse();
    }
}
