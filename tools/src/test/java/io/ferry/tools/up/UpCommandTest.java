package io.ferry.tools.up;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;

class UpCommandTest {

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 4, 7, 32})
    void theAgentsPoolsTogetherNeverClaimMoreThanFourFifthsOfTheDisk(int agents) {
        long disk = 252L << 30;
        long share = UpCommand.poolShare(disk, agents);
        assertThat(share * agents).isLessThanOrEqualTo(disk / 5 * 4);
        assertThat(share % (1L << 20)).as("whole MiB").isZero();
        assertThat(share).isGreaterThan(disk / 5 * 4 / agents - (1L << 20));
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 32})
    void aTinyFileSystemStillGivesEachPoolAMebibyte(int agents) {
        assertThat(UpCommand.poolShare(1L << 20, agents)).isEqualTo(1L << 20);
    }
}
