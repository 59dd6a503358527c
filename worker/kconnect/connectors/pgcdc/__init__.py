"""PostgresCdcSource: change data capture from PostgreSQL in Debezium's event format.

The modules, from the wire up:

- `pgoutput`: a pure decoder of the built-in `pgoutput` plugin's protocol (version 1).
- `types`: Debezium's mapping of PostgreSQL column types onto Connect schemas, and the parse of
  the text form pgoutput sends into Connect values.
- `events`: the record shapes (key, `...Value`, `...Envelope`, `io.debezium.connector.postgresql
  .Source`) and the envelope values.
- `position`: offsets in Debezium's shape and the resume rule (what a restarted task skips).
- `config`: the connector's keys, as Debezium names them.
- `catalog`: what the system catalogs add to a Relation message (nullability, defaults, keys).
- `replication`: the CopyBoth stream read and answered through libpq, so that the server is told
  exactly the position the task confirmed.
- `source`: the connector and its task, which own the connections.
"""
