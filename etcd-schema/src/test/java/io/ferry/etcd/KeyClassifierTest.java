package io.ferry.etcd;

import io.ferry.etcd.FerryKeys.Kind;
import io.ferry.etcd.FerryKeys.KeyRef;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The classifier alone, on paths already split below the prefix. */
class KeyClassifierTest {

    private static KeyRef classify(String path) {
        return KeyClassifier.classify(path.split("/", -1));
    }

    @Test
    void readsOrphanOrdersAndTheirAnswersWithNodeThenId() {
        assertThat(classify("orphan-removals/n1/ferry-a"))
                .isEqualTo(new KeyRef(Kind.ORPHAN_REMOVAL, List.of("n1", "ferry-a")));
        assertThat(classify("nodes/n1/orphan-adoptions/ferry-a"))
                .isEqualTo(new KeyRef(Kind.NODE_ORPHAN_ADOPTION_RESULT, List.of("n1", "ferry-a")));
    }

    @Test
    void answersNullForPathsOfTheWrongDepthOrAnUnknownSection() {
        assertThat(classify("volumes/v1/extra")).isNull();
        assertThat(classify("work/n1/volumes")).isNull();
        assertThat(classify("nodes/n1")).isNull();
        assertThat(classify("nodes/n1/unknown")).isNull();
        assertThat(classify("somewhere/else")).isNull();
        assertThat(classify("events/volume/v1/not-an-id")).isNull();
    }

    @Test
    void refusesANameThatFailsValidationSoParseCanReportTheKeyAsBad() {
        assertThatThrownBy(() -> classify("volumes/Bad Name")).isInstanceOf(RuntimeException.class);
    }
}
