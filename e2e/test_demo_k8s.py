"""The steps of `make demo-k8s` and of the operator tour that ends `make demo`, on the session's
platform: `examples/connector.yaml` applied as the demo applies it (only `bootstrapServers`
replaced) goes Ready on the real node, and the records it writes are read back. The platform's
parts are those of the session (e2e/conftest.py), which `kconnect_devenv.operatorplatform` starts
with the same modules; only one node runs per machine, so the demo's own `up` and `down` are not
run beside it.
"""

from __future__ import annotations

import json

from examples import demo_k8s
from kconnect_devenv.cluster import Kubectl


def test_the_example_connector_goes_ready_and_writes_records(
    system: Kubectl, namespace: str, kafka_bootstrap: str
) -> None:
    values = demo_k8s.show_connector(system, kafka_bootstrap, namespace)
    # DataGen's `users` schema as JSON without the schema envelope, as the example configures.
    record = json.loads(values[0])
    assert isinstance(record, dict)
    assert {"seq", "user_id", "email"} <= set(record)
    pods = system.items("pods", namespace, f"kconnect.io/connector={demo_k8s.CONNECTOR}")
    assert len(pods) == 2  # the example's `replicas: 2`
