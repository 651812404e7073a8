package io.ferry.controller;

import io.ferry.model.Layout;
import io.ferry.model.PartMove;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeParts;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class LegMigrationTest {
    private static final String UUID = "5f0c2c1e-8f0e-4a55-9b1d-2a8c3d4e5f60";
    private static final long LEG = VolumeParts.mirrorLegBytes(1L << 30);

    @Test
    void mdsWayOfWritingTheArraysUuidNamesTheSameArray() {
        assertThat(LegMigration.sameArray("5f0c2c1e:8f0e4a55:9b1d2a8c:3d4e5f60", UUID)).isTrue();
        assertThat(LegMigration.sameArray("5F0C2C1E:8F0E4A55:9B1D2A8C:3D4E5F60", UUID)).isTrue();
        assertThat(LegMigration.sameArray(UUID, UUID)).isTrue();
        assertThat(LegMigration.sameArray("5f0c2c1e:8f0e4a55:9b1d2a8c:3d4e5f61", UUID)).isFalse();
        // Stripping what is not hex must not make a shorter string match a prefix, nor an empty one match.
        assertThat(LegMigration.sameArray("5f0c2c1e:8f0e4a55", UUID)).isFalse();
        assertThat(LegMigration.sameArray("", "")).isFalse();
        assertThat(LegMigration.sameArray(null, UUID)).isFalse();
    }

    @Test
    void aMoveStartsOnlyForAMemberNotDeclaredLost() {
        VolumeParts parts = VolumeParts.of("v", Layout.MIRROR, List.of(new VolumeParts.Part("v--p0", 0, LEG),
                new VolumeParts.Part("v--p1", 1, LEG)), UUID, Instant.EPOCH)
                .withReplacement("v--p1", new VolumeParts.Part("v--p2", 2, LEG, "v--p1"))
                .withReplacement("v--p0", new VolumeParts.Part("v--p3", 3, LEG, "v--p0"));
        VolumeIntent base = VolumeIntent.builder("v", 1L << 30).layout(Layout.MIRROR).parts(2).build();
        assertThat(LegMigration.pendingMove(base, parts)).isNull();
        // Retired or never a member: a finished move may stay in the intent, and changes nothing.
        assertThat(LegMigration.pendingMove(base.withPartMove("v--p0", null).withPartMove("v--p9", "x"), parts)).isNull();
        VolumeIntent asked = base.withPartMove("v--p0", null).withPartMove("v--p2", "fast");
        assertThat(LegMigration.pendingMove(asked, parts)).isEqualTo(new PartMove("v--p2", "fast"));
        assertThat(LegMigration.pendingMove(asked.withLostPart("v--p2"), parts)).isNull();
    }
}
