"""The `KafkaConnector` resource: a dedicated distributed worker cluster running one connector.

`model` (the CRD's pydantic models), `build` (its children, pure), `decide` (config, state,
restarts and status, pure), `offsets` (the offsets annotation, the offsets ConfigMaps and
`spec.initialOffsets`, pure), `handlers` (its kind's registration and the pass that observes,
decides and acts), `cleanup` (the Kafka state a `deletionPolicy: Delete` removes). It never
imports `standaloneconnect` (import-linter checks it).
"""
