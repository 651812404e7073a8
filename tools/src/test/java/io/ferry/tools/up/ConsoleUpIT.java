package io.ferry.tools.up;

import io.ferry.csi.ScratchDirectory;
import io.ferry.runtime.exec.ProcessCommandRunner;
import io.ferry.tools.cli.FerryCtl;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.TimeoutException;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The web console of a real {@code ferry up} (its own process: etcd, the controller, a file-engine
 * agent), in Debian's headless chromium: the page is open before the volume is made with ferryctl,
 * and the volume appears on its pool, Ready, without a reload. The controller module's ConsoleIT
 * covers the rest of the console (consumers, refusals, the volume page) with simulated agents.
 */
class ConsoleUpIT {

    // Not a @TempDir: ferry up's file pool leaves its loop devices attached when it stops, and the
    // scratch directory detaches them before it deletes their files.
    ScratchDirectory scratch;
    Path dir;
    Process up;
    WebDriver browser;

    @BeforeEach
    void scratch() throws Exception {
        scratch = ScratchDirectory.create("ferry-console-up-it-", new ProcessCommandRunner());
        dir = scratch.root();
    }

    @AfterEach
    void tearDown() throws Exception {
        if (browser != null) {
            browser.quit();
        }
        if (up != null) {
            up.destroy();
            if (!up.waitFor(60, TimeUnit.SECONDS)) {
                up.descendants().forEach(ProcessHandle::destroyForcibly);
                up.destroyForcibly();
            }
        }
        scratch.close();
    }

    void until(Function<WebDriver, Boolean> condition) {
        try {
            new WebDriverWait(browser, Duration.ofSeconds(60), Duration.ofMillis(100))
                    .ignoring(StaleElementReferenceException.class).until(condition::apply);
        } catch (TimeoutException e) {
            throw new AssertionError("the console did not get there; it showed:\n" + browser.findElement(By.tagName("body")).getText(), e);
        }
    }

    @Test
    void aVolumeMadeWithFerryctlAppearsLiveInTheConsoleOfARealFerryUp() throws Exception {
        Path chromium = Path.of("/usr/bin/chromium");
        Path chromedriver = Path.of("/usr/bin/chromedriver");
        assumeTrue(Files.isExecutable(chromium) && Files.isExecutable(chromedriver),
                "needs Debian's chromium and chromium-driver (.ci/run installs them)");
        int etcdPort = UpSupervisionIT.freeRange(2);
        int adminPort = UpSupervisionIT.freeRange(2);
        Path out = dir.resolve("up.out");
        up = new ProcessBuilder(List.of(ProcessHandle.current().info().command().orElse("java"), "-cp",
                System.getProperty("java.class.path"), FerryMain.class.getName(), "up", "--agents", "1", "--no-csi",
                "--data-dir", dir.resolve("data").toString(), "--etcd-port", String.valueOf(etcdPort),
                "--admin-port", String.valueOf(adminPort), "--ready-timeout", "150"))
                .redirectErrorStream(true).redirectOutput(out.toFile()).start();
        long deadline = System.nanoTime() + Duration.ofSeconds(180).toNanos();
        while (!Files.readString(out).contains("Ferry is up")) {
            assertThat(up.isAlive()).as("ferry up exited:\n" + Files.readString(out)).isTrue();
            assertThat(System.nanoTime()).as("ferry up not up within 180 s:\n" + Files.readString(out)).isLessThan(deadline);
            Thread.sleep(250);
        }

        browser = new ChromeDriver(new ChromeDriverService.Builder().usingDriverExecutable(chromedriver.toFile())
                .usingAnyFreePort().build(), new ChromeOptions().setBinary(chromium.toFile())
                .addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"));
        browser.get("http://127.0.0.1:" + adminPort + "/");
        until(b -> !b.findElements(By.cssSelector("section.node .pool[data-pool='pool-1']")).isEmpty());
        until(b -> b.findElement(By.id("live")).getText().equals("live"));

        StringWriter ctlOut = new StringWriter();
        StringWriter ctlErr = new StringWriter();
        int code = FerryCtl.run(new String[] {"volume", "create", "vol-ui", "--size", "16Mi", "--wait"},
                Map.of("FERRY_ETCD_ENDPOINTS", "http://127.0.0.1:" + etcdPort), new PrintWriter(ctlOut, true),
                new PrintWriter(ctlErr, true));
        assertThat(code).as(ctlOut + "\n" + ctlErr).isZero();
        until(b -> !b.findElements(By.cssSelector(".pool[data-pool='pool-1'] a.vol[data-volume='vol-ui'][data-state='Ready']")).isEmpty());
        browser.findElement(By.cssSelector("a.vol[data-volume='vol-ui']")).click();
        until(b -> b.findElement(By.id("events")).getText().contains("Ready"));
    }
}
