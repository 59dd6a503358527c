"""`kconnect-operator`'s flags, the options built from them and the environment, and the probes."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from kconnect_operator import cli
from kconnect_operator.core.election import LeaseTiming
from kconnect_operator.core.options import DEFAULT_IMAGE, OperatorOptions
from kconnect_operator.io import operator_metrics
from kconnect_operator.io.health import HealthServer


def parse(
    *argv: str, environ: Mapping[str, str] | None = None, namespace_file: Path | None = None
) -> cli.Config:
    return cli.parse_config(
        list(argv),
        environ=environ or {},
        hostname="node-host",
        namespace_file=namespace_file or Path("/nonexistent/namespace"),
    )


def bad_flags(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Runs `main` with bad flags; returns argparse's message after checking it exits 2."""
    with pytest.raises(SystemExit) as exited:
        cli.main(list(argv))
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: kconnect-operator")
    return err.splitlines()[-1]


def test_defaults_serve_all_namespaces_with_leader_election() -> None:
    config = parse()
    assert config.clusterwide
    assert config.namespaces == ()
    assert (config.health_host, config.health_port) == ("0.0.0.0", 8080)
    assert config.lease is not None
    assert config.lease.name == "kconnect-operator"
    assert config.lease.namespace == "default"
    assert config.lease.timing == LeaseTiming(15, 10.0, 2.0)
    assert config.lease.identity.startswith("node-host_")
    assert config.options == OperatorOptions(image=DEFAULT_IMAGE, operator_namespace="default")
    assert (config.verbose, config.quiet) == (False, False)


def test_identities_are_unique_per_process_start() -> None:
    first, second = parse().lease, parse().lease
    assert first is not None
    assert second is not None
    assert first.identity != second.identity


def test_namespaces_are_repeatable_and_deduplicated() -> None:
    config = parse("--namespace", "team-a", "--namespace", "team-b", "--namespace", "team-a")
    assert config.namespaces == ("team-a", "team-b")
    assert not config.clusterwide
    assert parse("--all-namespaces").clusterwide


def test_the_environment_gives_identity_namespaces_and_image() -> None:
    environ = {
        "POD_NAME": "kconnect-operator-7d9f-x2x",
        "POD_NAMESPACE": "kconnect-system",
        "KCONNECT_WORKER_IMAGE": "registry.example/kconnect:1.2",
    }
    config = parse(environ=environ)
    assert config.lease is not None
    assert config.lease.identity.startswith("kconnect-operator-7d9f-x2x_")
    assert config.lease.namespace == "kconnect-system"
    assert config.options.operator_namespace == "kconnect-system"
    assert config.options.image == "registry.example/kconnect:1.2"


def test_the_service_account_namespace_is_the_fallback(tmp_path: Path) -> None:
    namespace_file = tmp_path / "namespace"
    namespace_file.write_text("ops\n")
    config = parse(namespace_file=namespace_file)
    assert config.lease is not None
    assert config.lease.namespace == "ops"
    assert config.options.operator_namespace == "ops"
    # POD_NAMESPACE wins over the file.
    config = parse(environ={"POD_NAMESPACE": "env-ns"}, namespace_file=namespace_file)
    assert config.options.operator_namespace == "env-ns"


def test_flags_win_over_the_environment() -> None:
    config = parse(
        "--image",
        "mine:2",
        "--operator-namespace",
        "ops",
        "--lease-namespace",
        "leases",
        "--lease-name",
        "kconnect.leader",
        "--lease-duration",
        "3",
        "--renew-deadline",
        "2",
        "--retry-period",
        "0.5",
        "--sync-interval",
        "2.5",
        "--restart-backoff",
        "3",
        "--restart-backoff-max",
        "30",
        "--health-host",
        "127.0.0.1",
        "--health-port",
        "9100",
        "--quiet",
        environ={"KCONNECT_WORKER_IMAGE": "env:1", "POD_NAMESPACE": "env-ns"},
    )
    assert config.options == OperatorOptions(
        image="mine:2",
        operator_namespace="ops",
        sync_interval_s=2.5,
        restart_backoff_s=3,
        restart_backoff_max_s=30,
        instance="leases/kconnect.leader",
    )
    assert config.lease is not None
    assert (config.lease.name, config.lease.namespace) == ("kconnect.leader", "leases")
    assert config.lease.timing == LeaseTiming(3, 2.0, 0.5)
    assert (config.health_host, config.health_port) == ("127.0.0.1", 9100)
    assert config.quiet


def test_leader_election_can_be_turned_off() -> None:
    config = parse("--no-leader-election", "--renew-deadline", "99")
    assert config.lease is None


@pytest.mark.parametrize(
    ("argv", "flag", "detail"),
    [
        (["--health-port", "70000"], "--health-port", "expected 0 to 65535"),
        (["--health-port", "http"], "--health-port", "not a port number"),
        (["--namespace", "Team_A"], "--namespace", "DNS-1123 label"),
        (["--lease-namespace=-x"], "--lease-namespace", "DNS-1123 label"),
        (["--lease-name", "Leader!"], "--lease-name", "DNS-1123 subdomain"),
        (["--lease-duration", "1.5"], "--lease-duration", "whole number"),
        (["--lease-duration", "0"], "--lease-duration", "at least 1"),
        (["--retry-period", "-1"], "--retry-period", "positive"),
        (["--sync-interval", "nan"], "--sync-interval", "positive"),
        (["--renew-deadline", "20"], "--renew-deadline", "less than --lease-duration (15s)"),
        (["--retry-period", "9"], "--retry-period", "too long for --renew-deadline 10s"),
        (["--image", " "], "--image", "must not be empty"),
        (["--namespace", "a", "--all-namespaces"], "--all-namespaces", "not allowed with"),
        (["--verbose", "--quiet"], "--quiet", "not allowed with"),
        (["--bogus"], "--bogus", "unrecognized arguments"),
    ],
)
def test_bad_flags_exit_2_naming_the_flag(
    capsys: pytest.CaptureFixture[str], argv: list[str], flag: str, detail: str
) -> None:
    message = bad_flags(capsys, *argv)
    assert flag in message
    assert detail in message


async def _get(client: TestClient[object, object], path: str) -> tuple[int, str, str]:
    response = await client.get(path)
    return response.status, await response.text(), response.headers["Content-Type"]


def test_probes_report_liveness_readiness_and_metrics() -> None:
    registry = operator_metrics.Registry()
    up = operator_metrics.Gauge("kconnect_operator_leader", "leads", registry=registry)
    state = {"live": True, "ready": False}
    server = HealthServer(
        "127.0.0.1",
        0,
        live=lambda: state["live"],
        ready=lambda: state["ready"],
        registry=registry,
    )

    async def scenario() -> None:
        async with TestClient(TestServer(server.make_app())) as client:
            assert (await _get(client, "/healthz"))[:2] == (200, "ok")
            assert (await _get(client, "/readyz"))[0] == 503
            state["ready"] = True
            assert (await _get(client, "/readyz"))[:2] == (200, "ok")
            state["live"] = False
            assert (await _get(client, "/healthz"))[0] == 500
            up.set(1)
            status, body, content_type = await _get(client, "/metrics")
            assert status == 200
            assert content_type == "text/plain; version=0.0.4; charset=utf-8"
            assert body == registry.render()
            assert "kconnect_operator_leader 1\n" in body
            assert (await _get(client, "/nope"))[0] == 404

    asyncio.run(scenario())


def test_the_health_server_listens_and_reports_a_taken_port() -> None:
    async def scenario() -> None:
        first = HealthServer("127.0.0.1", 0, live=lambda: True, ready=lambda: True)
        await first.start()
        try:
            assert first.port != 0
            second = HealthServer("127.0.0.1", first.port, live=lambda: True, ready=lambda: True)
            with pytest.raises(OSError, match=f"cannot serve the probes on 127.0.0.1:{first.port}"):
                await second.start()
        finally:
            await first.stop()

    asyncio.run(scenario())


def test_without_a_kubernetes_configuration_the_operator_exits_1(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing-kubeconfig"))
    monkeypatch.setenv("HOME", str(tmp_path))
    config = parse("--health-host", "127.0.0.1", "--health-port", "0")
    assert asyncio.run(cli.run(config)) == 1
    assert "cannot configure the Kubernetes client" in caplog.text
    assert operator_metrics.LEADER.value() == 0


def test_the_install_is_named_after_its_lease_unless_told() -> None:
    config = parse("--lease-namespace", "ops", "--lease-name", "kc-kconnect")
    assert config.options.instance == "ops/kc-kconnect"
    assert parse("--instance", "team-a").options.instance == "team-a"
    # Two installs with their own Leases are two instances.
    assert (
        parse("--lease-name", "a").options.instance != parse("--lease-name", "b").options.instance
    )


def test_the_lease_owner_is_the_named_deployment() -> None:
    lease = parse("--lease-owner", "kc-kconnect").lease
    assert lease is not None
    assert lease.owner_deployment == "kc-kconnect"
    default = parse().lease
    assert default is not None
    assert default.owner_deployment is None
