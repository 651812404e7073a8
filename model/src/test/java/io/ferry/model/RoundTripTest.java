package io.ferry.model;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class RoundTripTest {
    static Stream<Object> values() {
        return Fixtures.all().stream();
    }

    @ParameterizedTest(name = "{index}: {0}")
    @MethodSource("values")
    void encodeThenDecodeGivesAnEqualValue(Object value) {
        byte[] json = Json.encode(value);
        assertThat(Json.decode(json, value.getClass())).isEqualTo(value);
    }

    @ParameterizedTest(name = "{index}: {0}")
    @MethodSource("values")
    void encodingIsCanonical(Object value) {
        String json = Json.encodeToString(value);
        assertThat(Json.encodeToString(Json.decode(json, value.getClass()))).isEqualTo(json);
        assertThat(json).doesNotContain("null").doesNotContain("\n").startsWith("{\"schemaVersion\":1,");
    }

    @ParameterizedTest(name = "{index}: {0}")
    @MethodSource("values")
    void typesAreCoveredByTheDocumentedKeyTypes(Object value) {
        assertThat(DocExamplesTest.STORED_TYPES).contains(value.getClass());
    }
}
