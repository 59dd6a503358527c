"""A benchmark session's private broker: started in a temporary directory, stopped on every path.

Both harnesses (``make bench``, ``make bench-java``) measure against a broker of their own, so no
other test or run shares its topics or its CPU. On the way out, in this order: every worker the
harness started is killed, the harness's own Kafka clients are closed (so they do not log the
broker going away), the broker is stopped, and the directory is removed.

A secured session (``python -m bench.compare --listener sasl_ssl``) runs the secured broker of
:mod:`kconnect_devenv.secured_kafka` the same way, with the OIDC issuer whose JWKS it reads at
start; the issuer stops after the broker. Its certificates are made once into
``$KCONNECT_CACHE/bench-pki`` and reused.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from bench.distributed import Distributed
from bench.measure import Bench
from bench.procs import kill_all
from kconnect_devenv import kafka, lifecycle, oidc_issuer, registry, secured_kafka


@contextlib.contextmanager
def private_broker(
    prefix: str, timeout: float, log: Callable[[str], None]
) -> Iterator[tuple[str, Bench, Distributed]]:
    """The broker's bootstrap address, and the standalone and distributed runners bound to it,
    each with `timeout` seconds for any single run."""
    with _session(prefix, timeout, log, secured=False) as (_, bootstrap, bench, dist):
        yield bootstrap, bench, dist


@contextlib.contextmanager
def private_secured_broker(
    prefix: str, timeout: float, log: Callable[[str], None]
) -> Iterator[tuple[secured_kafka.SecuredBroker, Bench, Distributed]]:
    """A private secured broker (:mod:`kconnect_devenv.secured_kafka`, ``worker`` granted every
    topic and group) with its OIDC issuer, and the runners bound to its PLAINTEXT listener, where
    the harness's own clients are the super user."""
    with _session(prefix, timeout, log, secured=True) as (secured, _, bench, dist):
        assert secured is not None
        yield secured, bench, dist


@contextlib.contextmanager
def _session(
    prefix: str, timeout: float, log: Callable[[str], None], *, secured: bool
) -> Iterator[tuple[secured_kafka.SecuredBroker | None, str, Bench, Distributed]]:
    state_dir = Path(tempfile.mkdtemp(prefix=prefix))
    workdir = state_dir / "runs"
    workdir.mkdir()
    bench: Bench | None = None
    dist: Distributed | None = None
    with contextlib.ExitStack() as stack:
        try:
            log(f"starting a private {'secured ' if secured else ''}broker in {state_dir}")
            broker: secured_kafka.SecuredBroker | None = None
            if secured:
                issuer = stack.enter_context(
                    oidc_issuer.Issuer(state_dir / "oidc", secured_kafka.oauth_clients())
                )
                broker = secured_kafka.start(
                    state_dir / "kafka",
                    lifecycle.cache_root() / "bench-pki",
                    jwks_url=issuer.jwks_url,
                    issuer=issuer.url,
                    die_with_parent=True,
                )
                bootstrap = broker.plaintext_bootstrap
            else:
                bootstrap = kafka.start(state_dir / "kafka", die_with_parent=True).bootstrap
            bench = Bench(bootstrap, workdir, timeout)
            dist = Distributed(bootstrap, workdir, timeout)
            yield broker, bootstrap, bench, dist
        finally:
            kill_all()
            if bench is not None:
                bench.close()
            if dist is not None:
                dist.close()
            # Dropping the last references destroys the Kafka clients before the broker stops.
            bench = dist = None
            try:
                kafka.stop(state_dir / "kafka")
            finally:
                shutil.rmtree(state_dir, ignore_errors=True)


@contextlib.contextmanager
def private_registry(bootstrap: str, log: Callable[[str], None]) -> Iterator[str]:
    """A Schema Registry of the session's own (:mod:`kconnect_devenv.registry`, no auth) on the
    broker at `bootstrap`; yields the URL converters take as ``schema.registry.url``. Stopped, and
    its directory removed, on every path."""
    state_dir = Path(tempfile.mkdtemp(prefix="kconnect-bench-registry-"))
    try:
        log(f"starting a private Schema Registry in {state_dir}")
        started = registry.start(
            state_dir, bootstrap=bootstrap, topic_prefix="bench-registry", die_with_parent=True
        )
        yield started.url
    finally:
        try:
            registry.stop(state_dir)
        finally:
            shutil.rmtree(state_dir, ignore_errors=True)
