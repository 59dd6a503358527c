"""JdbcSink: Confluent's JDBC sink connector (`io.confluent.connect.jdbc.JdbcSinkConnector`) for
PostgreSQL, with its keys and behaviour.

The package is split by job:

- `url`: reading a `jdbc:postgresql://...` URL into libpq's connection keywords, and the same URL
  with its secrets masked for messages;
- `config`: the connector's keys as a pydantic model;
- `dialect`: what is particular to a database (identifier quoting, the Connect → SQL type map, the
  statements, which errors may pass), behind the small `Dialect` interface; PostgreSQL first;
- `rows`: which columns a record gives (`pk.mode`, `pk.fields`, `fields.whitelist`) and its row
  values: pure functions over records and schemas;
- `writer`: the database I/O: one connection, tables created and evolved, batches written in one
  transaction per `put`;
- `sink`: the connector and its task: retries, errant records, the offsets contract.
"""
