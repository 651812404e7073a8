package io.ferry.agent.engine;

import io.ferry.runtime.exec.FakeCommandRunner;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LoopDevicesTest {

    static final String LISTING = """
            {
               "loopdevices": [
                  {"name": "/dev/loop0", "sizelimit": 0, "offset": 0, "autoclear": false, "ro": false,
                   "back-file": "/srv/ferry/vol-a.img", "dio": false, "log-sec": 512},
                  {"name": "/dev/loop3", "sizelimit": 0, "offset": 0, "autoclear": true, "ro": false,
                   "back-file": "/srv/ferry/old.img (deleted)", "dio": false, "log-sec": 512},
                  {"name": "/dev/loop4", "sizelimit": 0, "offset": 0, "autoclear": false, "ro": false,
                   "back-file": null, "dio": false, "log-sec": 512}
               ]
            }
            """;

    @Test
    void parsesBackingFilesAndRecognisesFilesThatWereDeletedUnderneathTheirDevice() {
        List<LoopDevices.Loop> loops = LoopDevices.parse(LISTING);
        assertThat(loops).containsExactly(
                new LoopDevices.Loop("/dev/loop0", "/srv/ferry/vol-a.img", false),
                new LoopDevices.Loop("/dev/loop3", "/srv/ferry/old.img", true));
    }

    @Test
    void treatsEmptyOutputAsNoDevicesAndGarbageAsAnError() {
        assertThat(LoopDevices.parse("")).isEmpty();
        assertThat(LoopDevices.parse("{\"loopdevices\": []}")).isEmpty();
        assertThatThrownBy(() -> LoopDevices.parse("{not json")).hasMessageContaining("losetup --json");
    }

    @Test
    void runsLosetupWithArgumentListsAndSerializesChangesPerPool() {
        FakeCommandRunner fake = new FakeCommandRunner()
                .on(List.of("losetup", "--find", "--show"), "/dev/loop7\n")
                .on(List.of("losetup", "--json", "--list", "--associated"), LISTING)
                .on(List.of("losetup", "--detach"), "");
        LoopDevices loops = new LoopDevices(fake, Duration.ofSeconds(5));
        assertThat(loops.attach(Path.of("/srv/ferry/vol-a.img"), "file:/srv/ferry")).isEqualTo("/dev/loop7");
        loops.backedBy(Path.of("/srv/ferry/vol-a.img"));
        loops.detach("/dev/loop7", "file:/srv/ferry");
        assertThat(fake.commandLines()).containsExactly(
                "losetup --find --show /srv/ferry/vol-a.img",
                "losetup --json --list --associated /srv/ferry/vol-a.img",
                "losetup --detach /dev/loop7");
        assertThat(fake.executed().get(0).lockKey()).isEqualTo("file:/srv/ferry");
        assertThat(fake.executed().get(0).timeout()).isEqualTo(Duration.ofSeconds(5));
    }

    @Test
    void refusesAnAttachThatPrintsNoDevice() {
        FakeCommandRunner fake = new FakeCommandRunner().on(List.of("losetup", "--find", "--show"), "\n");
        assertThatThrownBy(() -> new LoopDevices(fake, Duration.ofSeconds(5)).attach(Path.of("/x.img"), null))
                .hasMessageContaining("printed no device");
    }
}
