package io.ferry.model;

import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class DhchapKeyTest {

    // Computed outside Java (Python's zlib.crc32 and base64): bytes 0x00..0x1f, CRC-32 0x91267e8a
    // appended little-endian, as the kernel's nvme_auth_extract_key reads it.
    private static final String KNOWN = "DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:";

    @Test
    void aKnownKeyIsWrittenWithItsLittleEndianCrc() {
        byte[] key = new byte[32];
        for (int i = 0; i < key.length; i++) {
            key[i] = (byte) i;
        }
        assertThat(DhchapKey.of(key).value()).isEqualTo(KNOWN);
        assertThat(DhchapKey.of(new byte[32]).value()).isEqualTo("DHHC-1:00:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAACtVQoZ:");
        assertThat(DhchapKey.parse(KNOWN, "k").value()).isEqualTo(KNOWN);
    }

    @Test
    void generatedKeysParseAndDiffer() {
        DhchapKey a = DhchapKey.generate();
        DhchapKey b = DhchapKey.generate();
        assertThat(DhchapKey.isValid(a.value())).isTrue();
        assertThat(a).isNotEqualTo(b);
        assertThat(a.value()).startsWith("DHHC-1:00:").endsWith(":").hasSize(KNOWN.length());
    }

    @Test
    void aDamagedKeyIsRefusedWithoutRepeatingIt() {
        String damaged = KNOWN.replace("AAECAw", "AAECAx");
        assertThatThrownBy(() -> DhchapKey.parse(damaged, "hostKey")).isInstanceOf(ValidationException.class)
                .hasMessageContaining("CRC-32").hasMessageNotContaining("AAECA");
        assertThat(DhchapKey.isValid("DHHC-1:00:AAAA:")).isFalse();
        assertThat(DhchapKey.isValid("DHHC-2:00:" + KNOWN.substring(10))).isFalse();
        assertThat(DhchapKey.isValid(KNOWN.replace(":00:", ":05:"))).isFalse();
        assertThat(DhchapKey.isValid(KNOWN.substring(0, KNOWN.length() - 1))).isFalse();
    }

    @Test
    void neitherTheKeyNorTheRecordPrintsTheSecret() {
        DhchapKey host = DhchapKey.generate();
        DhchapKey ctrl = DhchapKey.generate();
        HostSecret secret = HostSecret.of("n1", "nqn.2014-08.org.nvmexpress:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427", 1,
                host, ctrl, Instant.EPOCH);
        assertThat(host.toString()).doesNotContain(host.value().substring(10, 40));
        assertThat(secret.toString()).doesNotContain(host.value().substring(10, 40))
                .doesNotContain(ctrl.value().substring(10, 40)).contains("n1");
        String json = Json.encodeToString(secret);
        assertThat(Json.decode(json.getBytes(StandardCharsets.UTF_8), HostSecret.class).samePair(secret))
                .isTrue();
    }
}
