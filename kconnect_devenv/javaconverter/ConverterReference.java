/*
 * A Schema Registry converter run on Kafka Connect JSON envelopes, one per line: the Java reference
 * that kconnect's registry converters are compared with (docs/converter-reference.md).
 *
 * Usage: java -cp 'classes:libs/*' ConverterReference to-bytes|to-envelopes CONFIG_FILE
 *
 * CONFIG_FILE is a properties file. Three keys are the program's own:
 *   reference.converter  the converter's class name, e.g. io.apicurio.registry.utils.converter.AvroConverter
 *   reference.topic      the topic given to fromConnectData / toConnectData
 *   reference.is.key     "true" for a key converter, else a value converter
 * Every other key is passed to the converter's configure() as it is; credentials to the registry go
 * there, in the file, never on the command line.
 *
 * to-bytes: each stdin line is a JsonConverter envelope {"schema": ..., "payload": ...}. Kafka's own
 * JsonConverter (schemas.enable=true) turns it into a Connect schema and value, the reference
 * converter's fromConnectData turns those into bytes, printed as one line of base64.
 * to-envelopes: each stdin line is base64 bytes; toConnectData, then JsonConverter, print the envelope.
 * The line "null" stands for a null record on either side: a null record reads as SchemaAndValue.NULL,
 * as with Confluent's converters (Apicurio's throws NullPointerException, so it is not asked), and
 * JsonConverter writes that as null, not as an envelope.
 *
 * Exit status 0 when every line converted; otherwise 2 for a bad command line or config file and 3
 * for a line that failed, with "line N: <exception and its causes>" on stderr and nothing printed
 * for that line or any after it.
 */

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.connect.data.SchemaAndValue;
import org.apache.kafka.connect.json.JsonConverter;
import org.apache.kafka.connect.storage.Converter;

public final class ConverterReference {
    private static final String CONVERTER = "reference.converter";
    private static final String TOPIC = "reference.topic";
    private static final String IS_KEY = "reference.is.key";
    private static final String NULL_LINE = "null";

    private ConverterReference() {}

    public static void main(String[] args) throws IOException {
        if (args.length != 2 || !(args[0].equals("to-bytes") || args[0].equals("to-envelopes"))) {
            System.err.println("usage: ConverterReference to-bytes|to-envelopes CONFIG_FILE");
            System.exit(2);
        }
        Properties properties = new Properties();
        try (Reader reader = Files.newBufferedReader(Path.of(args[1]), StandardCharsets.UTF_8)) {
            properties.load(reader);
        }
        String className = properties.getProperty(CONVERTER, "");
        String topic = properties.getProperty(TOPIC, "");
        boolean isKey = Boolean.parseBoolean(properties.getProperty(IS_KEY, "false"));
        if (className.isEmpty() || topic.isEmpty()) {
            System.err.println(args[1] + ": expected " + CONVERTER + " and " + TOPIC);
            System.exit(2);
        }
        Map<String, Object> configs = new HashMap<>();
        for (String name : properties.stringPropertyNames()) {
            if (!name.startsWith("reference.")) {
                configs.put(name, properties.getProperty(name));
            }
        }

        Converter reference;
        try {
            reference = (Converter) Class.forName(className).getDeclaredConstructor().newInstance();
            reference.configure(configs, isKey);
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            System.err.println("converter " + className + ": " + describe(e));
            System.exit(2);
            return;
        }
        JsonConverter json = new JsonConverter();
        json.configure(Map.of("schemas.enable", "true"), isKey);

        boolean toBytes = args[0].equals("to-bytes");
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        BufferedWriter out = new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8));
        int number = 0;
        for (String line = in.readLine(); line != null; line = in.readLine()) {
            number++;
            String result;
            try {
                result = toBytes ? toBytes(json, reference, topic, line) : toEnvelope(json, reference, topic, line);
            } catch (RuntimeException | LinkageError e) {
                out.flush();
                System.err.println("line " + number + ": " + describe(e));
                System.exit(3);
                return;
            }
            out.write(result);
            out.write('\n');
        }
        out.flush();
        System.exit(0);
    }

    private static String toBytes(JsonConverter json, Converter reference, String topic, String line) {
        SchemaAndValue connect = json.toConnectData(topic, line.getBytes(StandardCharsets.UTF_8));
        byte[] bytes = reference.fromConnectData(topic, connect.schema(), connect.value());
        return bytes == null ? NULL_LINE : Base64.getEncoder().encodeToString(bytes);
    }

    private static String toEnvelope(JsonConverter json, Converter reference, String topic, String line) {
        // Apicurio's converter throws NullPointerException on a null record (a tombstone), which
        // Confluent's reads as SchemaAndValue.NULL; the reference reads it as Confluent's does.
        SchemaAndValue connect = line.equals(NULL_LINE)
                ? SchemaAndValue.NULL
                : reference.toConnectData(topic, Base64.getDecoder().decode(line.strip()));
        byte[] envelope = json.fromConnectData(topic, connect.schema(), connect.value());
        return envelope == null ? NULL_LINE : new String(envelope, StandardCharsets.UTF_8);
    }

    /** The exception and its causes, class and message each, on one line. */
    private static String describe(Throwable error) {
        StringBuilder text = new StringBuilder();
        for (Throwable e = error; e != null; e = e.getCause() == e ? null : e.getCause()) {
            if (text.length() > 0) {
                text.append(" <- ");
            }
            text.append(e.getClass().getName()).append(": ").append(e.getMessage());
        }
        return text.toString().replace('\n', ' ');
    }
}
