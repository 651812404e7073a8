package io.ferry.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class SizesTest {
    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource(delimiter = '|', value = {
            "1073741824 | 1073741824",
            "1B | 1",
            "1Ki | 1024",
            "1KiB | 1024",
            "1K | 1024",
            "1k | 1024",
            "1kB | 1000",
            "1KB | 1000",
            "10Mi | 10485760",
            "10M | 10485760",
            "10MB | 10000000",
            "10Gi | 10737418240",
            "10G | 10737418240",
            "10g | 10737418240",
            "10gib | 10737418240",
            "10GB | 10000000000",
            "1Ti | 1099511627776",
            "1T | 1099511627776",
            "1TB | 1000000000000",
            "1Pi | 1125899906842624",
            "1PB | 1000000000000000",
            "1.5Gi | 1610612736",
            "0.5Ki | 512",
            "'10 Gi' | 10737418240",
            "' 10Gi ' | 10737418240",
            "2.25Mi | 2359296",
            "007 | 7",
    })
    void parsesTheFormsUsersType(String text, long expected) {
        assertThat(Sizes.parse(text)).isEqualTo(expected);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", " ", "abc", "10 Gigs", "Gi", "1e9", "1,000", "0x10", "+5", "1.5", "0.1Ki", "1..5Gi",
            "10Zi", "10 G i", "1.Gi", ".5Gi", "NaN", "Infinity", "１０Gi"})
    void rejectsGarbageAndFractionalBytes(String text) {
        assertThatThrownBy(() -> Sizes.parse(text)).isInstanceOf(ValidationException.class);
    }

    @Test
    void rejectsZeroAndNegativeSizes() {
        assertThatThrownBy(() -> Sizes.parse("0")).hasMessageContaining("zero");
        assertThatThrownBy(() -> Sizes.parse("0Gi")).hasMessageContaining("zero");
        assertThatThrownBy(() -> Sizes.parse("-5Gi")).hasMessageContaining("negative");
        assertThat(Sizes.parseNonNegative("0")).isZero();
    }

    @Test
    void rejectsSizesThatOverflowALong() {
        assertThatThrownBy(() -> Sizes.parse("8192Pi")).hasMessageContaining("too large");
        assertThatThrownBy(() -> Sizes.parse("9223372036854775808")).hasMessageContaining("too large");
        assertThat(Sizes.parse("9223372036854775807")).isEqualTo(Long.MAX_VALUE);
        assertThatThrownBy(() -> Sizes.parse("1".repeat(100))).isInstanceOf(ValidationException.class);
    }

    @Test
    void rejectsNull() {
        assertThatThrownBy(() -> Sizes.parse(null)).isInstanceOf(ValidationException.class);
    }

    @Test
    void roundsSizeUpToTheNextFourMebibytes() {
        assertThat(Sizes.alignUp(0)).isZero();
        assertThat(Sizes.alignUp(1)).isEqualTo(4 * Sizes.MIB);
        assertThat(Sizes.alignUp(4 * Sizes.MIB)).isEqualTo(4 * Sizes.MIB);
        assertThat(Sizes.alignUp(4 * Sizes.MIB + 1)).isEqualTo(8 * Sizes.MIB);
        assertThat(Sizes.alignUp(Sizes.parse("1.5Gi"))).isEqualTo(Sizes.parse("1.5Gi"));
        assertThat(Sizes.alignUp(1_000_000_000L)).isEqualTo(1_002_438_656L);
    }

    @Test
    void neverRoundsDown() {
        Random r = new Random(42);
        for (int i = 0; i < 10_000; i++) {
            long v = (r.nextLong() >>> 1) % Sizes.MAX_VOLUME_BYTES + 1;
            long a = Sizes.volumeSize(v);
            assertThat(a).isGreaterThanOrEqualTo(v).isLessThan(v + Sizes.ALIGNMENT);
            assertThat(a % Sizes.ALIGNMENT).isZero();
        }
    }

    @Test
    void alignUpRejectsNegativeAndOverflow() {
        assertThatThrownBy(() -> Sizes.alignUp(-1)).isInstanceOf(ValidationException.class);
        assertThatThrownBy(() -> Sizes.alignUp(Long.MAX_VALUE)).isInstanceOf(ValidationException.class);
    }

    @Test
    void volumeSizeIsPositiveAndAtMostOnePebibyte() {
        assertThatThrownBy(() -> Sizes.volumeSize(-5)).hasMessage("sizeBytes: -5 is not positive");
        assertThatThrownBy(() -> Sizes.volumeSize(0)).hasMessage("sizeBytes: 0 is not positive");
        assertThat(Sizes.volumeSize(Sizes.MAX_VOLUME_BYTES)).isEqualTo(Sizes.PIB);
        assertThatThrownBy(() -> Sizes.volumeSize(Sizes.MAX_VOLUME_BYTES + 1)).hasMessageContaining("1Pi");
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource({
            "10737418240, 10Gi",
            "1610612736, 1.5Gi",
            "4194304, 4Mi",
            "1024, 1Ki",
            "1000, 1000",
            "1000000000, 1000000000",
            "1125899906842624, 1Pi",
            "0, 0",
            "1, 1",
    })
    void formatsSizesForHumans(long bytes, String expected) {
        assertThat(Sizes.format(bytes)).isEqualTo(expected);
    }

    @Test
    void formatThenParseIsTheIdentity() {
        Random r = new Random(7);
        for (int i = 0; i < 10_000; i++) {
            long v = i % 2 == 0 ? (r.nextLong() >>> 1) + 1 : (r.nextInt(1 << 20) + 1L) * (1L << r.nextInt(40));
            assertThat(Sizes.parse(Sizes.format(v))).isEqualTo(v);
        }
    }
}
