package io.ferry.tools.up;

import io.ferry.tools.cli.CtlShell;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.openqa.selenium.By;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.TimeoutException;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
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

    @RegisterExtension
    final FerryUpProcess ferry = new FerryUpProcess("ferry-console-up-it-");
    WebDriver browser;

    @AfterEach
    void closeBrowser() {
        if (browser != null) {
            browser.quit();
        }
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
        ferry.start("up.out", List.of("--agents", "1", "--no-csi", "--data-dir", ferry.dir.resolve("data").toString(),
                "--etcd-port", String.valueOf(etcdPort), "--admin-port", String.valueOf(adminPort), "--ready-timeout", "150"),
                Duration.ofSeconds(180), "Ferry is up");

        browser = new ChromeDriver(new ChromeDriverService.Builder().usingDriverExecutable(chromedriver.toFile())
                .usingAnyFreePort().build(), new ChromeOptions().setBinary(chromium.toFile())
                .addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"));
        browser.get("http://127.0.0.1:" + adminPort + "/");
        until(b -> !b.findElements(By.cssSelector("section.node .pool[data-pool='pool-1']")).isEmpty());
        until(b -> b.findElement(By.id("live")).getText().equals("live"));

        CtlShell.Result created = CtlShell.run(Map.of("FERRY_ETCD_ENDPOINTS", "http://127.0.0.1:" + etcdPort),
                "volume", "create", "vol-ui", "--size", "16Mi", "--wait");
        assertThat(created.code()).as(created.out() + "\n" + created.err()).isZero();
        until(b -> !b.findElements(By.cssSelector(".pool[data-pool='pool-1'] a.vol[data-volume='vol-ui'][data-state='Ready']")).isEmpty());
        browser.findElement(By.cssSelector("a.vol[data-volume='vol-ui']")).click();
        until(b -> b.findElement(By.id("events")).getText().contains("Ready"));
    }
}
