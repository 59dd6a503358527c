"""PostgresCdcSource: change data capture from PostgreSQL in Debezium's event format.

The modules, from the wire up:

- `pgoutput`: a pure decoder of the built-in `pgoutput` plugin's protocol (version 1).
- `types`: Debezium's mapping of PostgreSQL column types onto Connect schemas, and the parse of
  the text form pgoutput sends into Connect values.
- `events`: the record shapes (key, `...Value`, `...Envelope`, `io.debezium.connector.postgresql
  .Source`) and the envelope values.
- `position`: offsets in Debezium's shape and the resume rule (what a restarted task skips).
- `config`: the connector's keys, as Debezium names them.
- `source`: the connector and its task, the only module that talks to the server.
"""
