package io.ferry.controller;

import io.ferry.model.Placement;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.Attachment;
import io.ferry.model.VolumeIntent;
import io.ferry.runtime.admin.AdminOptions;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.TimeoutException;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import static io.ferry.controller.SimulatedAgents.GI;
import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The web console end to end: Debian's headless chromium, driven through its chromedriver, against
 * a real controller's admin server on a real etcd with simulated agents. The console is opened first
 * and volumes are created after, so what the test sees arrive came through the live stream.
 * {@code -Dferry.console.screenshots=DIR} keeps the screenshots (docs/console-*.png come from it).
 */
class ConsoleIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");

    @RegisterExtension
    final SimulatedCluster cluster = new SimulatedCluster(etcd);
    Controller controller;
    WebDriver browser;

    @BeforeEach
    void setUp() {
        assumeTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
                "needs Debian's chromium and chromium-driver (.ci/run installs them)");
        cluster.agents.addNode("node-1", Map.of());
        cluster.agents.addPool("node-1", "pool-1", 100, Map.of());
        cluster.agents.addNode("node-2", Map.of());
        cluster.agents.addPool("node-2", "pool-2", 50, Map.of());
        controller = cluster.start(SimulatedCluster.options("console-it").withAdmin(AdminOptions.loopback(0))).controller;
        ChromeOptions options = new ChromeOptions().setBinary(CHROMIUM.toFile())
                .addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                        "--window-size=1280,900");
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile())
                .usingAnyFreePort().build();
        browser = new ChromeDriver(service, options);
    }

    @AfterEach
    void tearDown() {
        if (browser != null) {
            browser.quit();
        }
    }

    /** Waits up to 30 s; a timeout says what the page showed, which is what one needs to know. */
    void until(Function<WebDriver, Boolean> condition) {
        try {
            // The console redraws on every change, so an element found a moment ago may be gone: look again.
            new WebDriverWait(browser, Duration.ofSeconds(30), Duration.ofMillis(100))
                    .ignoring(StaleElementReferenceException.class).until(condition::apply);
        } catch (TimeoutException e) {
            throw new AssertionError("the console did not get there; it showed:\n"
                    + browser.findElement(By.tagName("body")).getText(), e);
        }
    }

    WebElement chip(String volume) {
        return browser.findElement(By.cssSelector("a.vol[data-volume='" + volume + "']"));
    }

    void screenshot(String name) throws Exception {
        String dir = System.getProperty("ferry.console.screenshots");
        File shot = ((TakesScreenshot) browser).getScreenshotAs(OutputType.FILE);
        Path target = Path.of(dir != null ? dir : "target", "console-" + name + ".png");
        Files.createDirectories(target.getParent());
        Files.copy(shot.toPath(), target, StandardCopyOption.REPLACE_EXISTING);
    }

    @Test
    void theConsoleDrawsNodesAndPoolsAndVolumesAppearLiveWithTheirConsumersAndTheirPage() throws Exception {
        browser.get(controller.adminUrl() + "/");
        until(b -> !b.findElements(By.cssSelector("section.node[data-node='node-2'] .pool[data-pool='pool-2']")).isEmpty());
        until(b -> b.findElement(By.id("live")).getText().equals("live"));
        until(b -> b.findElement(By.id("summary")).getText().matches("2 nodes · 2 pools · \\d+ volumes · controller leading"));

        // Created after the page was drawn: they appear without a reload (the stream, or at worst the 30 s poll).
        result(cluster.store.put(cluster.keys.volume("vol-local"), VolumeIntent.builder("vol-local", 10 * GI).build()));
        result(cluster.store.put(cluster.keys.volume("vol-huge"), VolumeIntent.builder("vol-huge", 500 * GI).build()));
        until(b -> !b.findElements(By.cssSelector("a.vol[data-volume='vol-local'][data-state='Ready']")).isEmpty());
        String pool = result(cluster.store.get(cluster.keys.placement("vol-local"), Placement.class)).orElseThrow().value()
                .pool();
        until(b -> b.findElement(By.cssSelector(".pool[data-pool='" + pool + "']")).getText().contains("vol-local"));
        until(b -> b.findElement(By.id("refusals")).getText().contains("vol-huge"));
        until(b -> b.findElement(By.id("refusals")).getText().contains("NoFit"));

        // A consumer on the serving node is drawn as local, one on the other node as remote.
        String served = result(cluster.store.get(cluster.keys.placement("vol-local"), Placement.class)).orElseThrow().value()
                .node();
        String other = served.equals("node-1") ? "node-2" : "node-1";
        result(cluster.store.put(cluster.keys.attachment("vol-local", served), Attachment.of("vol-local", served,
                SimulatedAgents.hostNqn(served), false, Instant.now())));
        result(cluster.store.put(cluster.keys.attachment("vol-local", other), Attachment.of("vol-local", other,
                SimulatedAgents.hostNqn(other), true, Instant.now())));
        until(b -> chip("vol-local").findElements(By.cssSelector(".consumer")).size() == 2);
        until(b -> chip("vol-local").findElement(By.cssSelector(".consumer.local")).getText().contains(served)
                && chip("vol-local").findElement(By.cssSelector(".consumer.remote")).getText().contains(other));
        screenshot("cluster");

        until(b -> {
            chip("vol-local").click();
            return true;
        });
        until(b -> !b.findElements(By.cssSelector("#volume[data-volume='vol-local']")).isEmpty());
        until(b -> b.findElement(By.id("events")).getText().contains("Attached"));
        until(b -> {
            String page = b.findElement(By.id("main")).getText();
            return page.contains("On pool " + pool + " of node " + served) && page.contains("Placed") && page.contains("Ready")
                    && page.contains("NVMe/TCP") && page.contains("local device") && page.contains("fits (tier");
        });
        screenshot("volume");

        // Names from etcd are text, never markup: a volume whose message holds HTML shows it as typed.
        List<WebElement> injected = browser.findElements(By.cssSelector("#main script, #main img"));
        assertThat(injected).isEmpty();
    }
}
