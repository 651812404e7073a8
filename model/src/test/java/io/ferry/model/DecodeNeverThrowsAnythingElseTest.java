package io.ferry.model;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Property-style checks with a seeded {@link Random}: whatever bytes arrive, {@link Json#decode}
 * either returns a valid value (which then round-trips) or throws {@link ValidationException}
 * with a message. Any other exception would stop an informer, so it is a failure here.
 */
class DecodeNeverThrowsAnythingElseTest {
    private static final int ITERATIONS = 3000;
    private static final ObjectMapper PLAIN = new ObjectMapper();
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final String[] SCALAR_TEXT = {"", " ", "10Gi", "-5Gi", "1.5Gi", "0", "lvm", "LVM-THIN", "MustLocal",
            "Ready", "NoFit", "tcp", "nqn.2026-11.io.ferry", "nqn.2014-08.org.nvmexpress:uuid:1", "/dev/sdb", "..",
            "/a/../b", "$(reboot)", "`id`", "a;b", "worker-1", "Worker-1", "x".repeat(300), "2026-11-02T10:15:30Z",
            "yesterday", "\u0000", "\u202e", "ext4", "xfs", "-f", "9223372036854775808", "1e400", "null", "true"};
    private static final String[] FIELD_NAMES = {"schemaVersion", "name", "node", "pool", "volume", "snapshot",
            "sizeBytes", "engine", "source", "labels", "export", "allowedHostNqns", "conditions", "orphans", "phase",
            "thin", "generation", "unknownField", "", "$", "a.b", "sizebytes"};

    static Stream<Class<?>> types() {
        return DocExamplesTest.STORED_TYPES.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("types")
    void randomGarbageBytesNeverEscapeAsAnotherException(Class<?> type) {
        Random r = new Random(type.getSimpleName().hashCode());
        for (int i = 0; i < ITERATIONS; i++) {
            byte[] bytes = new byte[r.nextInt(200)];
            r.nextBytes(bytes);
            if (i % 2 == 0 && bytes.length > 0) {
                bytes[0] = '{';
            }
            check(bytes, type);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("types")
    void randomJsonNeverEscapesAsAnotherException(Class<?> type) {
        Random r = new Random(31L * type.getSimpleName().hashCode());
        for (int i = 0; i < ITERATIONS; i++) {
            JsonNode node = randomObject(r, 0);
            check(node.toString().getBytes(StandardCharsets.UTF_8), type);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("types")
    void mutationsOfValidExamplesNeverEscapeAsAnotherException(Class<?> type) throws Exception {
        List<JsonNode> examples = new ArrayList<>();
        for (DocExamples.Example e : DocExamples.all()) {
            if (e.typeClass() == type) {
                examples.add(PLAIN.readTree(e.json()));
            }
        }
        for (Object f : Fixtures.all()) {
            if (f.getClass() == type) {
                examples.add(PLAIN.readTree(Json.encode(f)));
            }
        }
        assertThat(examples).isNotEmpty();
        Random r = new Random(17L * type.getSimpleName().hashCode());
        int accepted = 0;
        for (int i = 0; i < ITERATIONS; i++) {
            JsonNode copy = examples.get(r.nextInt(examples.size())).deepCopy();
            int mutations = 1 + r.nextInt(3);
            for (int m = 0; m < mutations; m++) {
                mutate(copy, r, 0);
            }
            String text = copy.toString();
            if (r.nextInt(10) == 0) {
                text = duplicateFirstField(text);
            }
            if (r.nextInt(10) == 0 && text.length() > 1) {
                text = text.substring(0, r.nextInt(text.length()));
            }
            if (check(text.getBytes(StandardCharsets.UTF_8), type)) {
                accepted++;
            }
        }
        // Some mutations (dropping an optional field, a valid enum spelling) must still be accepted,
        // otherwise this test is only exercising the error path.
        assertThat(accepted).isPositive();
    }

    /** Returns true if decoding accepted the value. */
    private static boolean check(byte[] bytes, Class<?> type) {
        Object value;
        try {
            value = Json.decode(bytes, type);
        } catch (ValidationException e) {
            assertThat(e.getMessage()).as("message for %s", new String(bytes, StandardCharsets.UTF_8)).isNotBlank();
            return false;
        } catch (Throwable t) {
            throw new AssertionError("decode of " + type.getSimpleName() + " threw " + t + " for input: "
                    + new String(bytes, StandardCharsets.UTF_8), t);
        }
        assertThat(value).isInstanceOf(type);
        assertThat(Json.decode(Json.encode(value), type)).isEqualTo(value);
        return true;
    }

    private static void mutate(JsonNode node, Random r, int depth) {
        if (!(node instanceof ObjectNode obj) || obj.isEmpty()) {
            return;
        }
        List<String> names = new ArrayList<>();
        Iterator<String> it = obj.fieldNames();
        it.forEachRemaining(names::add);
        String field = names.get(r.nextInt(names.size()));
        JsonNode child = obj.get(field);
        switch (r.nextInt(9)) {
            case 0 -> obj.remove(field);
            case 1 -> obj.set(field, randomValue(r, depth + 1));
            case 2 -> obj.put(field, r.nextBoolean() ? Long.MAX_VALUE : Long.MIN_VALUE);
            case 3 -> obj.put(field, -1 - r.nextInt(1000));
            case 4 -> obj.put(field, SCALAR_TEXT[r.nextInt(SCALAR_TEXT.length)]);
            case 5 -> obj.set(FIELD_NAMES[r.nextInt(FIELD_NAMES.length)], randomValue(r, depth + 1));
            case 6 -> obj.putNull(field);
            case 7 -> {
                if (child instanceof ObjectNode) {
                    mutate(child, r, depth + 1);
                } else if (child instanceof ArrayNode arr && !arr.isEmpty()) {
                    JsonNode el = arr.get(r.nextInt(arr.size()));
                    if (el instanceof ObjectNode) {
                        mutate(el, r, depth + 1);
                    } else {
                        arr.add(randomValue(r, depth + 1));
                    }
                }
            }
            default -> obj.put(field, new BigDecimal("1" + "0".repeat(r.nextInt(40)) + "." + r.nextInt(10)));
        }
    }

    private static String duplicateFirstField(String json) {
        int comma = json.indexOf(',');
        if (!json.startsWith("{") || comma < 0) {
            return json;
        }
        return "{" + json.substring(1, comma) + "," + json.substring(1);
    }

    private static ObjectNode randomObject(Random r, int depth) {
        ObjectNode o = NODES.objectNode();
        int n = r.nextInt(8);
        for (int i = 0; i < n; i++) {
            String name = r.nextInt(4) == 0 ? randomText(r) : FIELD_NAMES[r.nextInt(FIELD_NAMES.length)];
            o.set(name, randomValue(r, depth + 1));
        }
        return o;
    }

    private static JsonNode randomValue(Random r, int depth) {
        int kind = depth > 6 ? r.nextInt(6) : r.nextInt(8);
        return switch (kind) {
            case 0 -> NODES.nullNode();
            case 1 -> NODES.booleanNode(r.nextBoolean());
            case 2 -> NODES.numberNode(r.nextLong());
            case 3 -> NODES.numberNode(r.nextDouble() * Math.pow(10, r.nextInt(30) - 10));
            case 4 -> NODES.textNode(SCALAR_TEXT[r.nextInt(SCALAR_TEXT.length)]);
            case 5 -> NODES.textNode(randomText(r));
            case 6 -> {
                ArrayNode a = NODES.arrayNode();
                for (int i = r.nextInt(4); i > 0; i--) {
                    a.add(randomValue(r, depth + 1));
                }
                yield a;
            }
            default -> randomObject(r, depth + 1);
        };
    }

    private static String randomText(Random r) {
        StringBuilder b = new StringBuilder();
        for (int i = r.nextInt(12); i > 0; i--) {
            b.append((char) (r.nextInt(4) == 0 ? r.nextInt(0x3000) : 0x20 + r.nextInt(0x5f)));
        }
        return b.toString();
    }
}
