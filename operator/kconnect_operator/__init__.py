"""The kconnect operator: `KafkaConnector` and `StandaloneConnect` run as worker pods.

The package is laid out by what each part is, in layers that only import downward (import-linter
checks them):

- `cli` (the process), `crdgen` and `refdoc` (the CRDs and their reference docs, generated);
- `registration`: the kopf handlers, written once for every resource kind;
- one package per resource, `kafkaconnector` and `standaloneconnect`, which never import each
  other: its `model` (the CRD's pydantic models), `build` (its children), `decide` (its
  commands and status), all pure, and `handlers` (its pass: observe, decide, act);
- `io`: the one Kubernetes client, the workers' REST client, leader election's Lease, the health
  server, the metric families, and the steps both resources' passes take (`io.shell`);
- `core`: what both resources share, pure: spec shapes, names, labels and pod template pieces,
  which children to apply, what pods and workers say, conditions, leader election's decision.
"""
