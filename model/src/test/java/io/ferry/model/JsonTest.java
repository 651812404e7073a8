package io.ferry.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {
    private static final String POOL = "{\"name\":\"pool-a\",\"node\":\"worker-1\",\"engine\":\"file\","
            + "\"source\":{\"directory\":\"/var/lib/ferry/pool-a\"}";

    private static ValidationException fail(String json, Class<?> type) {
        try {
            Json.decode(json, type);
        } catch (ValidationException e) {
            return e;
        }
        throw new AssertionError("expected a ValidationException for " + json);
    }

    @Test
    void rejectsAMisspeltFieldAndListsTheKnownOnes() {
        ValidationException e = fail(POOL + ",\"overprovisonRatio\":2}", PoolConfig.class);
        assertThat(e.getMessage()).startsWith("field \"overprovisonRatio\" is not known (known: ")
                .contains("overprovisionRatio").contains("reservedBytes");
        assertThat(e.field()).isEqualTo("overprovisonRatio");
    }

    @Test
    void namesTheNestedPathOfAnUnknownField() {
        ValidationException e = fail("{\"name\":\"pool-a\",\"node\":\"worker-1\",\"engine\":\"file\","
                + "\"source\":{\"dir\":\"/x\"}}", PoolConfig.class);
        assertThat(e.getMessage()).startsWith("field \"source.dir\" is not known").contains("directory");
    }

    @Test
    void reportsAMissingRequiredField() {
        ValidationException e = fail("{\"name\":\"data-1\"}", VolumeIntent.class);
        assertThat(e.getMessage()).isEqualTo("missing required field \"sizeBytes\"");
        assertThat(e.field()).isEqualTo("sizeBytes");
    }

    @Test
    void reportsAnInvalidValueWithItsField() {
        ValidationException e = fail("{\"name\":\"data-1\",\"sizeBytes\":-5}", VolumeIntent.class);
        assertThat(e.getMessage()).isEqualTo("sizeBytes: -5 is not positive");
        assertThat(e.field()).isEqualTo("sizeBytes");
    }

    @Test
    void reportsABadSizeString() {
        ValidationException e = fail("{\"name\":\"data-1\",\"sizeBytes\":\"ten gigs\"}", VolumeIntent.class);
        assertThat(e.getMessage()).startsWith("sizeBytes: size \"ten gigs\" is not a size");
        assertThat(e.field()).isEqualTo("sizeBytes");
    }

    @Test
    void reportsInvalidNamesInNestedObjects() {
        ValidationException e = fail("{\"volume\":\"v\",\"node\":\"n1\",\"pool\":\"p\",\"engine\":\"lvm\","
                + "\"sizeBytes\":4194304,\"generation\":1,\"export\":{\"consumerNode\":\"N2\","
                + "\"allowedHostNqns\":[\"nqn.2014-08.org.nvmexpress:uuid:1\"]}}", WorkItem.class);
        assertThat(e.getMessage()).startsWith("in export: node name \"N2\" is invalid");
        assertThat(e.field()).isEqualTo("export.consumerNode");
    }

    @Test
    void rejectsValuesFromANewerFerry() {
        ValidationException e = fail("{\"schemaVersion\":2,\"pool\":\"p\",\"allocatedBytes\":0,\"volumeCount\":0}",
                Ledger.class);
        assertThat(e.getMessage()).contains("written by a newer Ferry");
    }

    @Test
    void treatsAMissingSchemaVersionAsOne() {
        assertThat(Json.decode("{\"pool\":\"p\",\"allocatedBytes\":0,\"volumeCount\":0}", Ledger.class)
                .schemaVersion()).isEqualTo(1);
        assertThat(fail("{\"schemaVersion\":0,\"pool\":\"p\",\"allocatedBytes\":0,\"volumeCount\":0}", Ledger.class)
                .getMessage()).contains("schemaVersion: 0 is not valid");
    }

    @Test
    void rejectsWrongTypesWithoutCoercion() {
        assertThat(fail("{\"pool\":\"p\",\"allocatedBytes\":0,\"volumeCount\":\"3\"}", Ledger.class).getMessage())
                .startsWith("volumeCount: expected an integer");
        assertThat(fail("{\"pool\":\"p\",\"allocatedBytes\":0,\"volumeCount\":1.5}", Ledger.class).getMessage())
                .isEqualTo("volumeCount: 1.5 is not an integer");
        assertThat(fail(POOL + ",\"schedulable\":\"true\"}", PoolConfig.class).getMessage())
                .startsWith("schedulable: expected true or false");
        assertThat(fail("{\"pool\":5,\"allocatedBytes\":0,\"volumeCount\":0}", Ledger.class).getMessage())
                .isEqualTo("pool: 5 is not a string");
        assertThat(fail(POOL + ",\"labels\":[\"a\"]}", PoolConfig.class).getMessage())
                .startsWith("labels: expected an object");
    }

    @Test
    void acceptsSizesAsNumbersOrStringsAndWritesNumbers() {
        PoolConfig p = Json.decode(POOL + ",\"reservedBytes\":\"1Gi\"}", PoolConfig.class);
        assertThat(p.reservedBytes()).isEqualTo(1L << 30);
        assertThat(Json.encodeToString(p)).contains("\"reservedBytes\":1073741824");
        assertThat(Json.decode(POOL + ",\"reservedBytes\":1073741824}", PoolConfig.class)).isEqualTo(p);
        assertThat(Json.decode(POOL + ",\"reservedBytes\":1.073741824E9}", PoolConfig.class)).isEqualTo(p);
        assertThat(fail(POOL + ",\"reservedBytes\":1.5}", PoolConfig.class).getMessage())
                .startsWith("reservedBytes:");
        assertThat(fail(POOL + ",\"reservedBytes\":99999999999999999999999}", PoolConfig.class).getMessage())
                .contains("too large");
        assertThat(fail(POOL + ",\"reservedBytes\":true}", PoolConfig.class).getMessage())
                .contains("reservedBytes: expected a number of bytes or a size string");
    }

    @Test
    void acceptsEnumValuesCaseInsensitively() {
        PoolConfig p = Json.decode(POOL.replace("\"file\"", "\"FILE\"") + "}", PoolConfig.class);
        assertThat(p.engine()).isEqualTo(Engine.FILE);
        VolumeIntent v = Json.decode("{\"name\":\"v\",\"sizeBytes\":\"1Gi\",\"positionAdvice\":\"preferremote\"}",
                VolumeIntent.class);
        assertThat(v.positionAdvice()).isEqualTo(PositionAdvice.PREFER_REMOTE);
        assertThat(Json.encodeToString(v)).contains("\"positionAdvice\":\"PreferRemote\"");
    }

    @Test
    void listsAllowedEnumValues() {
        ValidationException e = fail(POOL.replace("\"file\"", "\"zfs\"") + "}", PoolConfig.class);
        assertThat(e.getMessage()).isEqualTo("engine: \"zfs\" is not a known engine (allowed: lvm, lvm-thin, spdk,"
                + " file)");
        assertThat(e.field()).isEqualTo("engine");
        assertThat(fail(POOL.replace("\"file\"", "1") + "}", PoolConfig.class).getMessage())
                .startsWith("engine: ").contains("allowed: lvm");
    }

    @Test
    void rejectsMalformedJson() {
        assertThat(fail("{\"name\":", VolumeIntent.class).getMessage()).startsWith("value is not valid JSON");
        assertThat(fail("not json", VolumeIntent.class).getMessage()).startsWith("value is not valid JSON");
        assertThat(fail("", VolumeIntent.class).getMessage()).isEqualTo("value is empty; expected a JSON object");
        assertThat(fail("null", VolumeIntent.class).getMessage()).startsWith("value is JSON null");
        assertThat(fail("[]", VolumeIntent.class).getMessage()).startsWith("value: expected an object");
        assertThat(fail("{} {}", Ledger.class).getMessage()).isNotBlank();
        assertThat(fail("{\"pool\":\"p\",\"allocatedBytes\":0,\"volumeCount\":0} x", Ledger.class).getMessage())
                .isNotBlank();
        assertThat(fail("{\"name\":\"a\",/*c*/\"sizeBytes\":1}", VolumeIntent.class).getMessage())
                .startsWith("value is not valid JSON");
    }

    @Test
    void rejectsDuplicateFields() {
        assertThat(fail("{\"pool\":\"p\",\"pool\":\"q\",\"allocatedBytes\":0,\"volumeCount\":0}", Ledger.class)
                .getMessage()).contains("Duplicate field 'pool'");
    }

    @Test
    void rejectsDeepNestingWithoutStackOverflow() {
        String deep = "{\"labels\":" + "[".repeat(100_000) + "]".repeat(100_000) + "}";
        assertThat(fail(deep, PoolConfig.class).getMessage()).isNotBlank();
        String deepObj = "{\"x\":".repeat(5000) + "1" + "}".repeat(5000);
        assertThat(fail(deepObj, PoolConfig.class).getMessage()).isNotBlank();
    }

    @Test
    void rejectsValuesLargerThanOneMebibyte() {
        byte[] big = ("{\"name\":\"v\",\"createdBy\":\"" + "x".repeat(Json.MAX_VALUE_BYTES) + "\"}")
                .getBytes(StandardCharsets.UTF_8);
        assertThatThrownBy(() -> Json.decode(big, VolumeIntent.class)).isInstanceOf(ValidationException.class)
                .hasMessageContaining("limit is 1048576");
    }

    @Test
    void rejectsNullInput() {
        assertThatThrownBy(() -> Json.decode((byte[]) null, Ledger.class)).isInstanceOf(ValidationException.class);
        assertThatThrownBy(() -> Json.decode((String) null, Ledger.class)).isInstanceOf(ValidationException.class);
    }

    @Test
    void rejectsBadTimestamps() {
        ValidationException e = fail("{\"name\":\"v\",\"sizeBytes\":\"1Gi\",\"createdAt\":\"yesterday\"}",
                VolumeIntent.class);
        assertThat(e.getMessage()).startsWith("createdAt: \"yesterday\" is not an ISO-8601");
    }

    @Test
    void encodesCanonicallyWithoutNullsAndWithSortedMaps() {
        VolumeIntent a = VolumeIntent.builder("v", 1L << 30).poolSelector(Map.of("b", "2", "a", "1"))
                .build();
        String json = Json.encodeToString(a);
        assertThat(json).startsWith("{\"schemaVersion\":1,\"name\":\"v\",\"sizeBytes\":1073741824,")
                .contains("\"poolSelector\":{\"a\":\"1\",\"b\":\"2\"}").doesNotContain("null")
                .doesNotContain("consumerNode");
        assertThat(Json.encode(Json.decode(json, VolumeIntent.class))).isEqualTo(Json.encode(a));
    }

    @Test
    void encodesTimestampsAsIsoStrings() {
        Ledger l = Ledger.empty("p");
        assertThat(Json.encodeToString(l)).isEqualTo(
                "{\"schemaVersion\":1,\"pool\":\"p\",\"allocatedBytes\":0,\"volumeCount\":0}");
        Attachment a = Attachment.of("v", "n", "nqn.2014-08.org.nvmexpress:uuid:1", false,
                Instant.parse("2026-11-02T10:15:30Z"));
        assertThat(Json.encodeToString(a)).contains("\"createdAt\":\"2026-11-02T10:15:30Z\"");
    }
}
