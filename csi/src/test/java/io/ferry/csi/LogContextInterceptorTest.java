package io.ferry.csi;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.ferry.csi.v1.CreateVolumeRequest;
import io.ferry.csi.v1.NodeStageVolumeRequest;
import io.ferry.csi.v1.ProbeRequest;
import io.ferry.runtime.logging.LogContext;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Lines logged while a CSI call runs carry its volume id and the plugin's node; lines after it, neither. */
class LogContextInterceptorTest {

    static final Logger LOG = (Logger) LoggerFactory.getLogger("io.ferry.test.csi-log");
    ListAppender<ILoggingEvent> lines = new ListAppender<>();

    @BeforeEach
    void start() {
        lines.start();
        LOG.addAppender(lines);
    }

    @AfterEach
    void stop() {
        LOG.detachAppender(lines);
    }

    /** A call as gRPC drives it: the request, then half-close, which runs a unary method. */
    <Q> Map<String, String> call(String node, Q request) {
        ServerCallHandler<Q, Object> method = (call, headers) -> new ServerCall.Listener<>() {
            @Override
            public void onHalfClose() {
                LOG.info("handling");
            }
        };
        ServerCall.Listener<Q> listener = new LogContextInterceptor(node).interceptCall(null, new Metadata(), method);
        listener.onMessage(request);
        listener.onHalfClose();
        listener.onComplete();
        LOG.info("after the call");
        ILoggingEvent handling = lines.list.get(lines.list.size() - 2);
        assertThat(handling.getFormattedMessage()).isEqualTo("handling");
        assertThat(lines.list.get(lines.list.size() - 1).getMDCPropertyMap()).as("a line after the call").isEmpty();
        assertThat(MDC.getCopyOfContextMap()).as("the thread's MDC is put back").isNullOrEmpty();
        return handling.getMDCPropertyMap();
    }

    @Test
    void aNodeCallCarriesTheVolumeIdAndTheNode() {
        assertThat(call("node-1", NodeStageVolumeRequest.newBuilder().setVolumeId("vol-x").build()))
                .isEqualTo(Map.of(LogContext.ID, "vol-x", LogContext.NODE, "node-1"));
    }

    @Test
    void aCreateCarriesTheFerryNameTheCosNameBecomes() {
        assertThat(call(null, CreateVolumeRequest.newBuilder().setName("pvc-0A1B").build()))
                .isEqualTo(Map.of(LogContext.ID, CsiNames.ferryName("pvc-0A1B")));
    }

    @Test
    void aCallAboutNoVolumeCarriesTheNodeOnly() {
        assertThat(call("node-1", ProbeRequest.getDefaultInstance())).isEqualTo(Map.of(LogContext.NODE, "node-1"));
    }
}
