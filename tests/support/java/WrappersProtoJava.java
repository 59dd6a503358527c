import com.google.protobuf.BoolValue;
import com.google.protobuf.ByteString;
import com.google.protobuf.BytesValue;
import com.google.protobuf.DoubleValue;
import com.google.protobuf.FloatValue;
import com.google.protobuf.Int32Value;
import com.google.protobuf.Int64Value;
import com.google.protobuf.Message;
import com.google.protobuf.StringValue;
import com.google.protobuf.WrappersProto;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * protobuf-java's google/protobuf/wrappers.proto, for tests/integration/test_protobuf_wrappers_java.py.
 *
 * <p>First line out: the base64 of {@code WrappersProto.getDescriptor().toProto()}, the
 * FileDescriptorProto Confluent's converter prints for a primitive root. Then one line in per
 * value, {@code <kind> <literal>} (int32/int64 decimal; float/double the IEEE bits in hex;
 * bool true/false; string/bytes base64), one line out: the hex of the wrapper message with that
 * value as protobuf-java writes it ({@code Message.toByteArray}, what the serializer writes).
 */
public final class WrappersProtoJava {
  private WrappersProtoJava() {}

  public static void main(String[] args) throws Exception {
    Base64.Decoder base64 = Base64.getDecoder();
    System.out.println(
        Base64.getEncoder().encodeToString(WrappersProto.getDescriptor().toProto().toByteArray()));
    BufferedReader in =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line;
    while ((line = in.readLine()) != null) {
      if (line.isEmpty()) {
        continue;
      }
      String[] parts = line.split(" ", 2);
      String v = parts.length > 1 ? parts[1] : "";
      Message message;
      switch (parts[0]) {
        case "int32":
          message = Int32Value.of(Integer.parseInt(v));
          break;
        case "int64":
          message = Int64Value.of(Long.parseLong(v));
          break;
        case "float":
          message = FloatValue.of(Float.intBitsToFloat(Integer.parseUnsignedInt(v, 16)));
          break;
        case "double":
          message = DoubleValue.of(Double.longBitsToDouble(Long.parseUnsignedLong(v, 16)));
          break;
        case "bool":
          message = BoolValue.of(Boolean.parseBoolean(v));
          break;
        case "string":
          message = StringValue.of(new String(base64.decode(v), StandardCharsets.UTF_8));
          break;
        case "bytes":
          message = BytesValue.of(ByteString.copyFrom(base64.decode(v)));
          break;
        default:
          throw new IllegalArgumentException("unknown kind " + parts[0]);
      }
      StringBuilder hex = new StringBuilder();
      for (byte b : message.toByteArray()) {
        hex.append(String.format("%02x", b & 0xff));
      }
      System.out.println(hex);
    }
  }
}
