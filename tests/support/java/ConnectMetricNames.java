// Prints every metric Apache Kafka Connect's worker defines, for tests/integration/test_java_metric_names.py.
//
// One line per metric template of ConnectMetricsRegistry: its group, a tab, its name.

import org.apache.kafka.common.MetricNameTemplate;
import org.apache.kafka.connect.runtime.ConnectMetricsRegistry;

public final class ConnectMetricNames {
    private ConnectMetricNames() {
    }

    public static void main(String[] args) {
        StringBuilder out = new StringBuilder();
        for (MetricNameTemplate template : new ConnectMetricsRegistry().getAllTemplates()) {
            out.append(template.group()).append('\t').append(template.name()).append('\n');
        }
        System.out.print(out);
    }
}
