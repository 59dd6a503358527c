"""The kconnect operator: one dedicated distributed worker cluster per `KafkaConnector`.

The pure core lives here and does no I/O: `models` (the custom resource), `crdgen` (the CRD
generated from the models) and `builders` (the child manifests, as functions of the spec).
"""
