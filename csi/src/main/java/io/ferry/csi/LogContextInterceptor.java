package io.ferry.csi;

import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import io.ferry.runtime.logging.LogContext;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;

/**
 * Puts the request's volume (or snapshot) id and this plugin's node on every line logged while a
 * CSI call runs ({@link LogContext}), the one place every call passes through. A call runs on one
 * {@code csi-call} thread at a time, in the listener callbacks wrapped here (for a unary call,
 * {@code onHalfClose} runs the method), so the MDC is set around each callback and put back after.
 * The id is read from the request's {@code volume_id}, else {@code snapshot_id}, {@code name} or
 * {@code source_volume_id}, by field name, so that every CSI request type is covered without a
 * list of them; CreateVolume and CreateSnapshot carry the CO's {@code name}, which is logged as the
 * Ferry name it becomes ({@link CsiNames#ferryName}), the id the agents and the controller log.
 */
final class LogContextInterceptor implements ServerInterceptor {

    private static final String[] ID_FIELDS = {"volume_id", "snapshot_id", "name", "source_volume_id"};
    private static final String CO_NAME = "name";

    private final String node;

    /** {@code node}: the node plugin's node id; null for the controller plugin. */
    LogContextInterceptor(String node) {
        this.node = node;
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
            ServerCallHandler<Q, R> next) {
        ServerCall.Listener<Q> listener;
        try (LogContext.Scope scope = LogContext.open(new LogContext.Tags(node, null))) {
            listener = next.startCall(call, headers);
        }
        return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(listener) {
            private volatile String id;

            @Override
            public void onMessage(Q message) {
                id = idOf(message);
                try (LogContext.Scope scope = scope()) {
                    super.onMessage(message);
                }
            }

            @Override
            public void onHalfClose() {
                try (LogContext.Scope scope = scope()) {
                    super.onHalfClose();
                }
            }

            @Override
            public void onCancel() {
                try (LogContext.Scope scope = scope()) {
                    super.onCancel();
                }
            }

            @Override
            public void onComplete() {
                try (LogContext.Scope scope = scope()) {
                    super.onComplete();
                }
            }

            @Override
            public void onReady() {
                try (LogContext.Scope scope = scope()) {
                    super.onReady();
                }
            }

            private LogContext.Scope scope() {
                return LogContext.open(new LogContext.Tags(node, id));
            }
        };
    }

    /** The first non-empty id field of a CSI request, or null (Probe, GetCapacity, ...). */
    static String idOf(Object request) {
        if (!(request instanceof Message message)) {
            return null;
        }
        for (String name : ID_FIELDS) {
            FieldDescriptor field = message.getDescriptorForType().findFieldByName(name);
            if (field != null && field.getJavaType() == FieldDescriptor.JavaType.STRING && !field.isRepeated()) {
                String value = (String) message.getField(field);
                if (!value.isEmpty()) {
                    return name.equals(CO_NAME) ? CsiNames.ferryName(value) : value;
                }
            }
        }
        return null;
    }
}
