"""Fixtures for integration tests that run worker processes, and the secured broker's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kconnect_devenv import oidc_issuer, secured_kafka
from tests.support.cluster import Cluster
from tests.support.workers import Standalone


@pytest.fixture
def standalone(tmp_path: Path, kafka_bootstrap: str) -> Iterator[Standalone]:
    s = Standalone(tmp_path, kafka_bootstrap)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def cluster(tmp_path: Path, kafka_bootstrap: str) -> Iterator[Cluster]:
    """A distributed cluster on the session's broker; its workers are killed at the end."""
    c = Cluster(tmp_path, kafka_bootstrap)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[oidc_issuer.Issuer]:
    """The OIDC issuer whose JWKS the module's secured broker checks tokens against."""
    with oidc_issuer.Issuer(
        tmp_path_factory.mktemp("oidc"), secured_kafka.oauth_clients()
    ) as running:
        yield running


@pytest.fixture(scope="module")
def secured(
    tmp_path_factory: pytest.TempPathFactory, issuer: oidc_issuer.Issuer
) -> Iterator[secured_kafka.SecuredBroker]:
    """One secured broker per module (kconnect_devenv.secured_kafka), ACLs on."""
    state = tmp_path_factory.mktemp("secured-kafka")
    broker = secured_kafka.start(
        state,
        tmp_path_factory.mktemp("pki") / "pki",
        jwks_url=issuer.jwks_url,
        issuer=issuer.url,
        # Only what docs/security.md says a worker needs: tests.support.cluster.Cluster's groups
        # start with "cluster-", the tests' topics with "secured-".
        worker_acls=secured_kafka.connect_worker_acls("cluster-", "secured-"),
        die_with_parent=True,
    )
    try:
        yield broker
    finally:
        secured_kafka.stop(state)
