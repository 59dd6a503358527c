"""The connectors that ship with kconnect.

- `kconnect.connectors.file`: `FileStreamSourceConnector` and `FileStreamSinkConnector`, with the
  keys and behaviour of Apache Kafka's `connect-file` plugin.
- `kconnect.connectors.datagen`: `DataGenConnector`, a deterministic record generator for demos,
  tests and benchmarks.
- `kconnect.connectors.jdbc`: `JdbcSinkConnector`, Confluent's JDBC sink
  (`io.confluent.connect.jdbc.JdbcSinkConnector`) for PostgreSQL.
- `kconnect.connectors.pgcdc`: `PostgresCdcConnector` (`PostgresCdcSource`), PostgreSQL's changes
  through logical replication in Debezium's event format
  (`io.debezium.connector.postgresql.PostgresConnector`).

They are found through the `kconnect.plugins` entry points like any third-party plugin; nothing is
imported here, so loading one connector never pays for another.
"""
