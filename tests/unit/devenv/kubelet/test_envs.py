"""A container's env and command line, as the real kubelet computes them."""

from __future__ import annotations

import base64
from fractions import Fraction
from typing import Any

import pytest

from kconnect_devenv.kubelet import envs

JsonObject = dict[str, Any]


class Objects:
    """ConfigMaps and Secrets as plain dicts, by (namespace, name)."""

    def __init__(
        self,
        config_maps: dict[str, dict[str, str]] | None = None,
        secrets: dict[str, dict[str, str]] | None = None,
    ) -> None:
        self.config_maps = config_maps or {}
        self.secrets = secrets or {}

    def config_map(self, namespace: str, name: str) -> JsonObject | None:
        assert namespace == "ns"
        data = self.config_maps.get(name)
        return None if data is None else {"data": data}

    def secret(self, namespace: str, name: str) -> JsonObject | None:
        assert namespace == "ns"
        data = self.secrets.get(name)
        if data is None:
            return None
        return {"data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def a_pod(**containers: Any) -> JsonObject:
    return {
        "metadata": {
            "name": "web-1",
            "namespace": "ns",
            "uid": "u-1",
            "labels": {"app": "web", "tier": "front"},
            "annotations": {"note": 'say "hi"\n'},
        },
        "spec": {
            "nodeName": "node-a",
            "serviceAccountName": "robot",
            "containers": [{"name": "main", **containers}],
        },
        "status": {
            "podIP": "127.0.1.7",
            "podIPs": [{"ip": "127.0.1.7"}],
            "hostIP": "127.0.0.1",
            "hostIPs": [{"ip": "127.0.0.1"}],
        },
    }


VARS = {"VAR_A": "A", "VAR_B": "B", "VAR_C": "C", "VAR_REF": "$(VAR_A)", "VAR_EMPTY": ""}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$(VAR_A)", "A"),
        ("___$(VAR_B)___", "___B___"),
        ("$(VAR_A)-$(VAR_A)", "A-A"),
        ("$(VAR_A)_$(VAR_B)_$(VAR_C)", "A_B_C"),
        ("$(VAR_A)$(VAR_B)$(VAR_C)", "ABC"),
        ("f000-$$VAR_A", "f000-$VAR_A"),
        ("foo\\$(VAR_C)bar", "foo\\Cbar"),
        ("$(VAR_EMPTY)", ""),
        ("$(VAR_REF)", "$(VAR_A)"),  # one pass: no recursion
        ("$(UNKNOWN)", "$(UNKNOWN)"),
        ("$$(VAR_A)", "$(VAR_A)"),
        ("$$$(VAR_A)", "$A"),
        ("$$$$(VAR_A)", "$$(VAR_A)"),
        ("$(VAR_A", "$(VAR_A"),
        ("$VAR_A", "$VAR_A"),
        ("$", "$"),
        ("$(", "$("),
        ("$()", "$()"),
        ("$(VAR_A)$", "A$"),
        ("no variables", "no variables"),
    ],
)
def test_expansion_follows_kubernetes(text: str, expected: str) -> None:
    assert envs.expand(text, VARS) == expected


def test_the_first_mapping_that_defines_a_name_wins() -> None:
    assert envs.expand("$(X)-$(Y)", {"X": "pod"}, {"X": "service", "Y": "s"}) == "pod-s"


def test_command_and_args_are_expanded_with_the_env() -> None:
    container = {"command": ["serve", "--ip=$(POD_IP)"], "args": ["$(MISSING)", "$$(POD_IP)"]}
    assert envs.command_line(container, {"POD_IP": "127.0.1.2"}) == [
        "serve",
        "--ip=127.0.1.2",
        "$(MISSING)",
        "$(POD_IP)",
    ]


def test_env_follows_the_kubelet_order_and_precedence() -> None:
    container = {
        "envFrom": [
            {"configMapRef": {"name": "base"}},
            {"secretRef": {"name": "creds"}, "prefix": "S_"},
        ],
        "env": [
            {"name": "LEVEL", "value": "from-env"},  # overrides envFrom
            {"name": "URL", "value": "http://$(POD_IP):$(PORT)/$(KUBERNETES_SERVICE_HOST)"},
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "LATER", "value": "$(POD_IP)"},  # defined above by now
            {"name": "RAW", "valueFrom": {"configMapKeyRef": {"name": "base", "key": "RAW"}}},
        ],
    }
    objects = Objects(
        config_maps={"base": {"LEVEL": "from-config-map", "PORT": "8083", "RAW": "$(PORT)"}},
        secrets={"creds": {"token": "t0k"}},
    )
    env = envs.container_env(
        a_pod(**container),
        container,
        objects,
        service_env={"KUBERNETES_SERVICE_HOST": "h"},
        node_allocatable={},
    )
    assert env == {
        "KUBERNETES_SERVICE_HOST": "h",
        "LEVEL": "from-env",
        "PORT": "8083",
        "RAW": "$(PORT)",  # values from objects are never expanded
        "S_token": "t0k",
        # POD_IP was not defined yet when URL was; service variables are.
        "URL": "http://$(POD_IP):8083/h",
        "POD_IP": "127.0.1.7",
        "LATER": "127.0.1.7",
    }


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("metadata.name", "web-1"),
        ("metadata.namespace", "ns"),
        ("metadata.uid", "u-1"),
        ("metadata.labels['tier']", "front"),
        ("metadata.labels['absent']", ""),
        ("metadata.annotations['note']", 'say "hi"\n'),
        ("spec.nodeName", "node-a"),
        ("spec.serviceAccountName", "robot"),
        ("status.podIP", "127.0.1.7"),
        ("status.podIPs", "127.0.1.7"),
        ("status.hostIP", "127.0.0.1"),
        ("status.hostIPs", "127.0.0.1"),
    ],
)
def test_downward_api_fields(field: str, expected: str) -> None:
    assert envs.field_value(a_pod(), field) == expected


def test_whole_label_maps_are_volume_only_and_formatted_like_go() -> None:
    with pytest.raises(envs.ConfigError, match="unsupported fieldPath"):
        envs.field_value(a_pod(), "metadata.labels")
    labels = envs.field_value(a_pod(), "metadata.labels", allowed=envs.VOLUME_FIELDS)
    assert labels == 'app="web"\ntier="front"'
    notes = envs.field_value(a_pod(), "metadata.annotations", allowed=envs.VOLUME_FIELDS)
    assert notes == 'note="say \\"hi\\"\\n"'


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ({"configMapKeyRef": {"name": "nope", "key": "k"}}, 'configmap "nope" not found'),
        ({"configMapKeyRef": {"name": "cm", "key": "k"}}, "couldn't find key k in ConfigMap ns/cm"),
        ({"secretKeyRef": {"name": "nope", "key": "k"}}, 'secret "nope" not found'),
        ({"secretKeyRef": {"name": "s", "key": "k"}}, "couldn't find key k in Secret ns/s"),
        ({"fieldRef": {"fieldPath": "spec.hostname"}}, "unsupported fieldPath: spec.hostname"),
    ],
)
def test_a_missing_reference_says_what_is_missing(ref: JsonObject, message: str) -> None:
    container = {"env": [{"name": "X", "valueFrom": ref}]}
    objects = Objects(config_maps={"cm": {"other": "1"}}, secrets={"s": {"other": "1"}})
    with pytest.raises(envs.ConfigError) as caught:
        envs.container_env(a_pod(), container, objects, service_env={}, node_allocatable={})
    assert str(caught.value) == message


def test_optional_references_that_are_missing_leave_the_variable_unset() -> None:
    container = {
        "envFrom": [{"configMapRef": {"name": "nope", "optional": True}}],
        "env": [
            {
                "name": "A",
                "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k", "optional": True}},
            },
            {
                "name": "B",
                "valueFrom": {"secretKeyRef": {"name": "s", "key": "k", "optional": True}},
            },
        ],
    }
    env = envs.container_env(
        a_pod(), container, Objects(secrets={"s": {}}), service_env={}, node_allocatable={}
    )
    assert env == {}


def test_a_missing_env_from_source_is_an_error_unless_optional() -> None:
    container = {"envFrom": [{"secretRef": {"name": "nope"}}]}
    with pytest.raises(envs.ConfigError, match='secret "nope" not found'):
        envs.container_env(a_pod(), container, Objects(), service_env={}, node_allocatable={})


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Fraction(1, 2)),
        ("2", Fraction(2)),
        ("1.5Gi", Fraction(3 * 2**29)),
        ("128Mi", Fraction(128 * 2**20)),
        ("1k", Fraction(1000)),
        ("2e3", Fraction(2000)),
        ("100n", Fraction(1, 10**7)),
    ],
)
def test_quantities(text: str, value: Fraction) -> None:
    assert envs.parse_quantity(text) == value


def test_a_bad_quantity_is_named() -> None:
    with pytest.raises(ValueError, match="'lots' is not a quantity"):
        envs.parse_quantity("lots")


def test_resource_fields_round_up_and_fall_back_to_the_node() -> None:
    pod = a_pod(resources={"limits": {"cpu": "1500m"}, "requests": {"memory": "64Mi"}})
    allocatable = {"cpu": "8", "memory": "16Gi"}

    def value(resource: str, divisor: str | None = None) -> str:
        return envs.resource_value(pod, "main", resource, divisor, allocatable)

    assert value("limits.cpu") == "2"
    assert value("limits.cpu", "1m") == "1500"
    assert value("limits.memory", "1Gi") == "16"  # no limit: the node's allocatable
    assert value("requests.memory", "1Mi") == "64"
    assert value("requests.cpu") == "2"  # no request: the limit, as API defaulting does
    with pytest.raises(envs.ConfigError, match="unsupported container resource"):
        value("limits.gpu")


def test_the_process_env_puts_the_venv_first_and_the_pod_last() -> None:
    base = {"PATH": "/usr/bin:/bin", "HOME": "/root", "SECRET_OF_THE_KUBELET": "x"}
    env = envs.process_env(base, "/venv/bin", "web-1", {"HOME": "/home/app", "A": "1"})
    assert env == {
        "HOME": "/home/app",
        "PATH": "/venv/bin:/usr/bin:/bin",
        "HOSTNAME": "web-1",
        "A": "1",
    }


def test_the_kubernetes_service_points_at_the_api_server() -> None:
    env = envs.service_env("127.0.0.1", 6443)
    assert env["KUBERNETES_SERVICE_HOST"] == "127.0.0.1"
    assert env["KUBERNETES_SERVICE_PORT"] == "6443"
    assert env["KUBERNETES_PORT"] == "tcp://127.0.0.1:6443"
