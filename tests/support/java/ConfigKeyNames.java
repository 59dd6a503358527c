// Prints the config key names Apache Kafka Connect defines, for tests/integration/test_java_config_keys.py.
//
// Each argument is one target; each answer is one line: the target, a tab, and the key names in
// ConfigDef order, separated by commas. A target is
//   static:<class>#<member>   a static ConfigDef: a method taking no argument (or Connect's Crypto),
//                             or a field; private members are read too
//   plugin:<class>            a plugin's config(): a new instance of the class, its ConfigDef
//   constants:<class>         the values of the class's public static String fields named *_CONFIG
//                             (the config providers, which declare their keys only so)
// A target that cannot be read ends the program with exit code 1 and the reason on stderr.

import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;

import org.apache.kafka.common.config.ConfigDef;

public final class ConfigKeyNames {
    private ConfigKeyNames() {
    }

    public static void main(String[] args) throws Exception {
        StringBuilder out = new StringBuilder();
        for (String target : args) {
            List<String> names;
            try {
                names = names(target);
            } catch (Exception e) {
                System.err.println(target + ": " + e);
                System.exit(1);
                return;
            }
            out.append(target).append('\t').append(String.join(",", names)).append('\n');
        }
        System.out.print(out);
    }

    private static List<String> names(String target) throws Exception {
        int colon = target.indexOf(':');
        String kind = target.substring(0, colon);
        String rest = target.substring(colon + 1);
        switch (kind) {
            case "static": {
                int hash = rest.indexOf('#');
                return new ArrayList<>(staticDef(Class.forName(rest.substring(0, hash)), rest.substring(hash + 1)).names());
            }
            case "plugin": {
                Object plugin = Class.forName(rest).getDeclaredConstructor().newInstance();
                ConfigDef def = (ConfigDef) plugin.getClass().getMethod("config").invoke(plugin);
                return new ArrayList<>(def.names());
            }
            case "constants": {
                List<String> names = new ArrayList<>();
                for (Field f : Class.forName(rest).getFields()) {
                    if (Modifier.isStatic(f.getModifiers()) && f.getType() == String.class && f.getName().endsWith("_CONFIG")) {
                        names.add((String) f.get(null));
                    }
                }
                return names;
            }
            default:
                throw new IllegalArgumentException("unknown target kind " + kind);
        }
    }

    private static ConfigDef staticDef(Class<?> cls, String member) throws Exception {
        for (Method m : cls.getDeclaredMethods()) {
            if (!m.getName().equals(member) || !Modifier.isStatic(m.getModifiers()) || m.getReturnType() != ConfigDef.class) {
                continue;
            }
            Class<?>[] params = m.getParameterTypes();
            m.setAccessible(true);
            if (params.length == 0) {
                return (ConfigDef) m.invoke(null);
            }
            if (params.length == 1 && params[0].getSimpleName().equals("Crypto")) {
                return (ConfigDef) m.invoke(null, params[0].getField("SYSTEM").get(null));
            }
        }
        Field f = cls.getDeclaredField(member);
        f.setAccessible(true);
        return (ConfigDef) f.get(null);
    }
}
