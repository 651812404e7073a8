package io.ferry.model;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * mkfs options as an attacker who can write a StorageClass or a volume intent would write them:
 * every list here reaches {@code mkfs.<fs>} as root on a consumer node unless validation refuses it.
 */
class MkfsOptionsTest {

    static VolumeIntent intent(String fsType, String options) {
        return VolumeIntent.builder("v", 1).fsType(fsType).mkfsOptions(MkfsOptions.split(options)).build();
    }

    static Stream<List<String>> hostile() {
        return Stream.of(
                // ext4: force past mke2fs's own checks, populate from a host directory, give the root
                // directory away, write a journal on another device, format another device.
                List.of("ext4", "-F", "-F"),
                List.of("ext4", "-F"),
                List.of("ext4", "-q -F"),
                List.of("ext4", "-qF"),
                List.of("ext4", "-d /etc"),
                List.of("ext4", "-d /"),
                List.of("ext4", "-E root_owner=0:0"),
                List.of("ext4", "-E root_owner"),
                List.of("ext4", "-E lazy_itable_init=1,root_owner=0:0"),
                List.of("ext4", "-E offset=4096"),
                List.of("ext4", "-J device=/dev/sda"),
                List.of("ext4", "-O journal_dev"),
                List.of("ext4", "-O has_journal,journal_dev"),
                List.of("ext4", "/dev/sda"),
                List.of("ext4", "-L data /dev/sda"),
                List.of("ext4", "-b 4096 /dev/sda"),
                List.of("ext4", "-b4096"),
                List.of("ext4", "-L /dev/sda"),
                List.of("ext4", "-L -F"),
                List.of("ext4", "-b"),
                List.of("ext4", "-b 4096 -b 1024"),
                List.of("ext4", "-b 3000"),
                List.of("ext4", "-m 99"),
                List.of("ext4", "-N 1e9"),
                List.of("ext4", "-T ../../etc/mke2fs.conf"),
                List.of("ext4", "-- /dev/sda"),
                List.of("ext4", "-c"),
                List.of("ext4", "-S"),
                List.of("ext4", "-m reflink=0"),
                // xfs: force, a data file or log device by path, protofile, another device.
                List.of("xfs", "-f"),
                List.of("xfs", "-K"),
                List.of("xfs", "-d file,name=/etc/passwd,size=1m"),
                List.of("xfs", "-d agcount=4"),
                List.of("xfs", "-l logdev=/dev/sdb"),
                List.of("xfs", "-l logdev=/dev/sdb,size=10m"),
                List.of("xfs", "-r rtdev=/dev/sdc"),
                List.of("xfs", "-p /etc/protofile"),
                List.of("xfs", "-m reflink=1,uuid=00000000-0000-0000-0000-000000000000"),
                List.of("xfs", "-m reflink=1,reflink=0"),
                List.of("xfs", "-m reflink"),
                List.of("xfs", "-b size=3k"),
                List.of("xfs", "-i size=4096"),
                List.of("xfs", "-L averyverylonglabel"),
                List.of("xfs", "-b size=4096 /dev/sda"),
                // ext4 options on xfs and the other way round.
                List.of("xfs", "-O metadata_csum"),
                List.of("ext4", "-s size=4096"));
    }

    @ParameterizedTest
    @MethodSource("hostile")
    void refusesEverythingOffTheAllowList(List<String> fsAndOptions) {
        assertThatThrownBy(() -> intent(fsAndOptions.get(0), fsAndOptions.get(1)))
                .isInstanceOf(ValidationException.class)
                .hasMessageStartingWith("mkfsOptions")
                .satisfies(e -> assertThat(((ValidationException) e).field()).startsWith("mkfsOptions"));
    }

    @Test
    void refusalsNameWhatWasRefused() {
        assertThatThrownBy(() -> intent("ext4", "-F")).hasMessageContaining("\"-F\" is not an allowed ext4 option")
                .hasMessageContaining("allowed: -b -i -I -m -N -O -E -L -T");
        assertThatThrownBy(() -> intent("ext4", "-E lazy_itable_init=0,root_owner=0:0"))
                .hasMessageContaining("extended option \"root_owner\" is not on the list");
        assertThatThrownBy(() -> intent("xfs", "-l logdev=/dev/sdb")).hasMessageContaining("\"-l\" is not an allowed xfs option");
        assertThatThrownBy(() -> intent("ext4", "-L data /dev/sda"))
                .hasMessageContaining("\"/dev/sda\" is not an allowed ext4 option (every option is a flag followed by its value)");
        assertThatThrownBy(() -> intent("ext4", "-b")).hasMessageContaining("-b needs a value as the next element");
        assertThatThrownBy(() -> intent("xfs", "-m reflink=1,uuid=0")).hasMessageContaining("-m suboption \"uuid\"");
    }

    @Test
    void shellMetacharactersAreRefusedBeforeTheAllowListIsConsulted() {
        for (String option : List.of("-L;reboot", "$(reboot)", "-L`id`", "-O has_journal;rm")) {
            assertThatThrownBy(() -> VolumeIntent.builder("v", 1).fsType("ext4").mkfsOptions(List.of(option)).build())
                    .isInstanceOf(ValidationException.class).hasMessageStartingWith("mkfsOptions[0]:");
        }
    }

    @Test
    void acceptsTheDocumentedOptions() {
        assertThat(intent("ext4", "-b 4096 -i 65536 -I 256 -m 0.5 -O ^has_journal,metadata_csum,64bit"
                + " -E stride=16,stripe_width=64,lazy_itable_init=0,lazy_journal_init=1,nodiscard -L data-1 -T largefile")
                .mkfsOptions()).hasSize(16);
        assertThat(intent("ext4", "-N 100000 -E discard,num_backup_sb=2,packed_meta_blocks=1,resize=1000000")
                .mkfsOptions()).hasSize(4);
        assertThat(intent("xfs", "-b size=4096 -m crc=1,reflink=0 -i size=512,maxpct=25 -s size=4k -L data")
                .mkfsOptions()).containsExactly("-b", "size=4096", "-m", "crc=1,reflink=0", "-i", "size=512,maxpct=25",
                "-s", "size=4k", "-L", "data");
    }

    @Test
    void splitsAtAnyWhitespaceAndNowhereElse() {
        assertThat(MkfsOptions.split("  -m\treflink=0 \n -L  x ")).containsExactly("-m", "reflink=0", "-L", "x");
        assertThat(MkfsOptions.split(" ")).isEmpty();
        assertThat(MkfsOptions.split(null)).isEmpty();
        assertThat(MkfsOptions.split("-L 'a b'")).containsExactly("-L", "'a", "b'");
    }

    @Test
    void aStoredIntentWithAHostileOptionIsABadValueNotAnInstruction() {
        String json = "{\"name\":\"v\",\"sizeBytes\":\"1Gi\",\"fsType\":\"ext4\",\"mkfsOptions\":[\"-d\",\"/etc\"]}";
        assertThatThrownBy(() -> Json.decode(json.getBytes(StandardCharsets.UTF_8), VolumeIntent.class))
                .hasMessageContaining("\"-d\" is not an allowed ext4 option");
    }

    @Test
    void aThickVolumeIsFormattedWithoutADiscardUnlessTheOperatorAskedForOne() {
        assertThat(MkfsOptions.keepingAllocation("ext4", List.of())).containsExactly("-E", "nodiscard");
        assertThat(MkfsOptions.keepingAllocation("ext4", List.of("-E", "stride=4", "-L", "data")))
                .containsExactly("-E", "stride=4,nodiscard", "-L", "data");
        assertThat(MkfsOptions.keepingAllocation("ext4", List.of("-E", "discard")))
                .as("the operator's explicit choice").containsExactly("-E", "discard");
        assertThat(MkfsOptions.keepingAllocation("xfs", List.of("-L", "data"))).containsExactly("-L", "data", "-K");
    }
}
