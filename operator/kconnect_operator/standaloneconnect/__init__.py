"""The `StandaloneConnect` resource: one standalone worker pod running connectors from files.

`model` (the CRD's pydantic models), `build` (its children, pure), `decide` (its status, pure),
`handlers` (its kind's registration and the pass that observes, decides and acts). It never
imports `kafkaconnector` (import-linter checks it).
"""
