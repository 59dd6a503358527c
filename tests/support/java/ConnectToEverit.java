// Connect schemas (one JSON descriptor a line on stdin) to JSON Schema text, printed by everit
// (com.github.erosb:everit-json-schema, the library Confluent's JSON Schema support builds on)
// from the builders JsonSchemaData.rawSchemaFromConnectSchema uses: the reference for the key
// order kconnect's JsonSchemaConverter reproduces. Descriptor: {"type", "optional", "name",
// "version", "doc", "parameters": [[k, v], ...], "default", "fields": [[name, schema], ...],
// "keys", "values"}; ordered lists keep the Connect schema's order, which org.json would lose.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import org.everit.json.schema.ArraySchema;
import org.everit.json.schema.BooleanSchema;
import org.everit.json.schema.CombinedSchema;
import org.everit.json.schema.EnumSchema;
import org.everit.json.schema.NullSchema;
import org.everit.json.schema.NumberSchema;
import org.everit.json.schema.ObjectSchema;
import org.everit.json.schema.Schema;
import org.everit.json.schema.StringSchema;
import org.json.JSONArray;
import org.json.JSONObject;

public class ConnectToEverit {
  static final String NAMESPACE = "io.confluent.connect.json";
  static final String ENUM = NAMESPACE + ".Enum";
  static final String DECIMAL = "org.apache.kafka.connect.data.Decimal";

  static JSONObject required(JSONObject s) {
    JSONObject copy = new JSONObject(s.toString());
    copy.put("optional", false);
    return copy;
  }

  static Object defaultOf(JSONObject s) {
    Object d = s.get("default");
    switch (s.getString("type")) {
      case "float32": return ((Number) d).floatValue();
      case "float64": return ((Number) d).doubleValue();
      case "int8": case "int16": case "int32": return ((Number) d).intValue();
      case "int64": return ((Number) d).longValue();
      default: return d;
    }
  }

  static Schema raw(JSONObject s, Integer index, boolean ignoreOptional) {
    String type = s.getString("type");
    boolean optional = s.optBoolean("optional", false);
    String name = s.optString("name", null);
    JSONArray params = s.optJSONArray("parameters");
    Schema.Builder<?> b;
    Map<String, Object> extra = new HashMap<>();
    switch (type) {
      case "int8": case "int16": case "int32": case "int64":
        b = NumberSchema.builder().requiresInteger(true);
        extra.put("connect.type", type);
        break;
      case "float32": case "float64":
        b = NumberSchema.builder().requiresInteger(false);
        extra.put("connect.type", type);
        break;
      case "boolean":
        b = BooleanSchema.builder();
        break;
      case "string": {
        boolean isEnum = false;
        EnumSchema.Builder e = EnumSchema.builder();
        for (int i = 0; params != null && i < params.length(); i++) {
          String k = params.getJSONArray(i).getString(0);
          if (k.equals(ENUM)) isEnum = true;
          if (k.startsWith(ENUM + ".")) e.possibleValue(params.getJSONArray(i).getString(1));
        }
        b = isEnum ? e : StringSchema.builder();
        break;
      }
      case "bytes":
        b = DECIMAL.equals(name) ? NumberSchema.builder() : StringSchema.builder();
        extra.put("connect.type", "bytes");
        break;
      case "array":
        b = ArraySchema.builder().allItemSchema(raw(s.getJSONObject("values"), null, false));
        break;
      case "map": {
        JSONObject keys = s.getJSONObject("keys");
        if (keys.getString("type").equals("string") && !keys.optBoolean("optional", false)) {
          b = ObjectSchema.builder()
              .schemaOfAdditionalProperties(raw(s.getJSONObject("values"), null, false));
        } else {
          ObjectSchema.Builder entry = ObjectSchema.builder();
          entry.addPropertySchema("key", raw(keys, 0, false));
          entry.addPropertySchema("value", raw(s.getJSONObject("values"), 1, false));
          b = ArraySchema.builder().allItemSchema(entry.build());
        }
        extra.put("connect.type", "map");
        break;
      }
      case "struct":
        if (optional && !ignoreOptional) {
          b = CombinedSchema.builder().criterion(CombinedSchema.ONE_CRITERION)
              .subschema(NullSchema.INSTANCE).subschema(raw(required(s), null, false));
        } else {
          ObjectSchema.Builder o = ObjectSchema.builder();
          JSONArray fields = s.getJSONArray("fields");
          for (int i = 0; i < fields.length(); i++) {
            JSONArray f = fields.getJSONArray(i);
            o.addPropertySchema(f.getString(0), raw(f.getJSONObject(1), i, false));
          }
          b = o;
        }
        break;
      default:
        throw new IllegalArgumentException(type);
    }
    if (!(b instanceof CombinedSchema.Builder)) {
      if (name != null) b.title(name);
      if (s.has("version")) extra.put("connect.version", s.getInt("version"));
      if (s.has("doc")) b.description(s.getString("doc"));
      Map<String, String> kept = new HashMap<>();
      for (int i = 0; params != null && i < params.length(); i++) {
        String k = params.getJSONArray(i).getString(0);
        if (!k.startsWith(NAMESPACE)) kept.put(k, params.getJSONArray(i).getString(1));
      }
      if (!kept.isEmpty()) extra.put("connect.parameters", kept);
      if (s.has("default")) b.defaultValue(defaultOf(s));
      if (!ignoreOptional && optional) {
        CombinedSchema.Builder c = CombinedSchema.builder().criterion(CombinedSchema.ONE_CRITERION)
            .subschema(NullSchema.INSTANCE).subschema(b.unprocessedProperties(extra).build());
        if (index != null) c.unprocessedProperties(Collections.singletonMap("connect.index", index));
        b = c;
        extra = new HashMap<>();
      }
    }
    if (index != null) extra.put("connect.index", index);
    return b.unprocessedProperties(extra).build();
  }

  public static void main(String[] args) throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, "UTF-8"));
    for (String line = in.readLine(); line != null; line = in.readLine()) {
      System.out.println(raw(new JSONObject(line), null, false).toString());
    }
  }
}
