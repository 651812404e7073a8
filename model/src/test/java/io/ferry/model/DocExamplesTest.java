package io.ferry.model;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class DocExamplesTest {
    /** Every value type stored at a key; each must have an example operators can copy. */
    static final List<Class<?>> STORED_TYPES = List.of(GlobalConfig.class, PoolConfig.class, VolumeIntent.class,
            SnapshotIntent.class, Attachment.class, Placement.class, Ledger.class, VolumeScheduling.class,
            SnapshotScheduling.class, ControllerLeader.class, NodeRegistration.class, PoolStatus.class,
            WorkItem.class, SnapshotWorkItem.class, VolumeStatus.class, SnapshotStatus.class, OrphanReport.class,
            ClusterIdentity.class, OrphanRemoval.class, OrphanRemovalResult.class, OrphanAdoption.class,
            OrphanAdoptionResult.class, LifecycleEvent.class, KeyLayout.class, HostSecret.class, VolumeParts.class,
            MirrorReport.class, NodeDrain.class);

    static Stream<DocExamples.Example> examples() {
        return DocExamples.all().stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("examples")
    void everyDocumentedExampleDecodes(DocExamples.Example example) {
        Object value = Json.decode(example.json(), example.typeClass());
        assertThat(value).isInstanceOf(example.typeClass());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("examples")
    void everyDocumentedExampleSurvivesAnEncodeDecodeRoundTrip(DocExamples.Example example) {
        Object value = Json.decode(example.json(), example.typeClass());
        String encoded = Json.encodeToString(value);
        assertThat(Json.decode(encoded, example.typeClass())).isEqualTo(value);
        assertThat(Json.encodeToString(Json.decode(encoded, example.typeClass()))).isEqualTo(encoded);
    }

    @Test
    void everyStoredTypeHasADocumentedExample() {
        Set<Class<?>> documented = DocExamples.all().stream().map(DocExamples.Example::typeClass)
                .collect(Collectors.toSet());
        assertThat(documented).containsAll(STORED_TYPES);
    }

    @Test
    void everyStoredTypeIsInTheKeyTable() throws Exception {
        String doc = Files.readString(DocExamples.doc());
        for (Class<?> type : STORED_TYPES) {
            assertThat(doc).contains("| [" + type.getSimpleName() + "](");
        }
    }

    @Test
    void quickStartVolumeIsRoundedAndDefaulted() {
        VolumeIntent v = DocExamples.all().stream().filter(e -> e.type().equals("VolumeIntent")).findFirst()
                .map(e -> Json.decode(e.json(), VolumeIntent.class)).orElseThrow();
        assertThat(v.sizeBytes()).isEqualTo(10L << 30);
        assertThat(v.positionAdvice()).isEqualTo(PositionAdvice.PREFER_LOCAL);
        assertThat(v.failureDomainLevel()).isEqualTo(FailureDomainLevel.NODE);
    }

    @Test
    void documentedSerialMatchesTheSerialFunction() {
        VolumeStatus s = DocExamples.all().stream().filter(e -> e.type().equals("VolumeStatus")).findFirst()
                .map(e -> Json.decode(e.json(), VolumeStatus.class)).orElseThrow();
        assertThat(s.export().serial()).isEqualTo(Nqn.serialForVolume(s.volume()));
        // the cluster id of the documented ClusterIdentity example
        assertThat(s.export().nqn()).isEqualTo(Nqn.forVolume(GlobalConfig.DEFAULT_NQN_PREFIX, "3f0b8c2e-5d7a-4e19-9c41-8a6f2d0b7e53", s.volume()));
    }
}
