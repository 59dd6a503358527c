import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.Map;
import java.util.Properties;

/**
 * java.util.Properties on both sides of kconnect's `.properties` reader and writer.
 *
 * <p>{@code load DIR}: for each {@code *.properties} file in DIR, reads it with
 * {@code Properties.load(InputStream)} (as Kafka's {@code Utils.loadProps} does) and writes
 * {@code FILE.pairs}: one line per entry, key and value as hexadecimal UTF-8, tab-separated.
 *
 * <p>{@code store DIR}: for each {@code *.pairs} file in DIR, builds a Properties from its lines and
 * writes {@code FILE.stored} with {@code Properties.store(OutputStream, comment)}.
 */
public final class PropertiesFiles {
    private static final HexFormat HEX = HexFormat.of();

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[1]);
        try (var files = Files.list(dir)) {
            for (Path file : files.sorted().toList()) {
                String name = file.getFileName().toString();
                if (args[0].equals("load") && name.endsWith(".properties")) {
                    load(file, dir.resolve(name + ".pairs"));
                } else if (args[0].equals("store") && name.endsWith(".pairs")) {
                    store(file, dir.resolve(name + ".stored"));
                }
            }
        }
    }

    private static void load(Path in, Path out) throws Exception {
        Properties props = new Properties();
        try (InputStream stream = Files.newInputStream(in)) {
            props.load(stream);
        }
        try (BufferedWriter writer = Files.newBufferedWriter(out, StandardCharsets.US_ASCII)) {
            for (Map.Entry<Object, Object> e : props.entrySet()) {
                writer.write(hex((String) e.getKey()) + "\t" + hex((String) e.getValue()) + "\n");
            }
        }
    }

    private static void store(Path in, Path out) throws Exception {
        Properties props = new Properties();
        try (BufferedReader reader = Files.newBufferedReader(in, StandardCharsets.US_ASCII)) {
            String line;
            while ((line = reader.readLine()) != null) {
                String[] pair = line.split("\t", -1);
                props.setProperty(text(pair[0]), text(pair[1]));
            }
        }
        try (OutputStream stream = Files.newOutputStream(out)) {
            props.store(stream, "written by java.util.Properties#store");
        }
    }

    private static String hex(String s) {
        return HEX.formatHex(s.getBytes(StandardCharsets.UTF_8));
    }

    private static String text(String hex) {
        return new String(HEX.parseHex(hex), StandardCharsets.UTF_8);
    }
}
