"""The operator's kopf handlers, registered once for every resource kind on `registry`.

Each resource kind (`KINDS`: KafkaConnector, StandaloneConnect) describes itself as an
`io.shell.ResourceKind`; the handlers here are written once and serve every kind:

- **the resource's events** start its loop (owned by `Runtime`, not a kopf daemon: see
  `io.shell`) on the first event, the operator's listing included; wake it on every other; and
  stop it once the resource is gone or being deleted;
- **an index per kind** of the ConfigMaps each resource feeds into its pods, and **one
  ConfigMap handler** that wakes every resource a changed ConfigMap feeds (its next pass sees the
  new version and rolls the pods). Secrets are not watched (the operator needs no cluster-wide
  read access to them): a changed Secret is seen by the next pass;
- **one handler per child kind** (ConfigMap, Service, Deployment, StatefulSet, PDB,
  NetworkPolicy) and **one for worker pods**: a child or pod the operator made names its owner in
  its kind's selector label; its owner's loop is woken, and its next pass puts back what drifted.

A kind's own further handlers (`ResourceKind.register_more`: a KafkaConnector's clean-up on
deletion) are registered with it. Adding a kind is one more entry in `KINDS`.

`startup` configures kopf (its finalizer, no diff base: see `io.shell.LevelTriggered`) and
builds the shared `Runtime` from the same login as kopf's (`io.kube.login`); `shutdown` stops the
loops and closes the clients.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, Final

import aiohttp
import kopf
from pydantic import ValidationError

from kconnect_operator.core.manifests import MANAGED_BY, referenced_config_maps
from kconnect_operator.core.options import OperatorOptions
from kconnect_operator.core.shapes import GROUP, VERSION
from kconnect_operator.io.kube import Kube, login
from kconnect_operator.io.shell import LevelTriggered, ResourceKind, Runtime, runtime_of
from kconnect_operator.kafkaconnector import cluster_handlers as kconnectcluster
from kconnect_operator.kafkaconnector import handlers as kafkaconnector
from kconnect_operator.standaloneconnect import handlers as standaloneconnect

PREFIX: Final = "kconnect.io"
FINALIZER: Final = f"{PREFIX}/finalizer"
MANAGED: Final = {"app.kubernetes.io/managed-by": MANAGED_BY}

KINDS: Final[tuple[ResourceKind, ...]] = (
    kafkaconnector.RESOURCE_KIND,
    standaloneconnect.RESOURCE_KIND,
    kconnectcluster.RESOURCE_KIND,
)

CHILD_KINDS: Final = (
    ("", "v1", "configmaps"),
    ("", "v1", "services"),
    ("apps", "v1", "deployments"),
    ("apps", "v1", "statefulsets"),
    ("policy", "v1", "poddisruptionbudgets"),
    ("networking.k8s.io", "v1", "networkpolicies"),
)
"""The kinds of children the operator watches for drift."""

registry = kopf.OperatorRegistry()


def _options(memo: Any) -> OperatorOptions:
    options = getattr(memo, "options", None)
    return options if isinstance(options, OperatorOptions) else OperatorOptions()


@kopf.on.startup(registry=registry)
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=PREFIX)
    settings.persistence.diffbase_storage = LevelTriggered()
    # Events are posted explicitly; handler logs stay logs.
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    memo.runtime = Runtime(
        options=_options(memo),
        kube=Kube(await asyncio.to_thread(login), relogin=login),
        http=aiohttp.ClientSession(),
    )


@kopf.on.cleanup(registry=registry)
async def shutdown(memo: kopf.Memo, **_: Any) -> None:
    runtime: Runtime | None = getattr(memo, "runtime", None)
    if runtime is not None:
        await runtime.stop_loops()
        await runtime.http.close()
        await runtime.kube.close()


def index_id(kind: ResourceKind) -> str:
    """The id of `kind`'s ConfigMap index, which kopf passes to handlers under this name."""
    return f"{kind.plural}_config_map_references"


def register(kind: ResourceKind) -> None:
    """The handlers of one resource kind: its events and its ConfigMap index."""

    async def resource_changed(
        type: str | None,
        body: kopf.Body,
        namespace: str | None,
        name: str,
        uid: str | None,
        memo: kopf.Memo,
        logger: kopf.Logger,
        **_: Any,
    ) -> None:
        runtime = runtime_of(memo)
        key = (namespace or "", kind.wake_key(name))
        related = kind.related(body) if kind.related is not None else None
        if related is not None:
            runtime.wake(namespace or "", related)
        if type == "DELETED" or body.get("metadata", {}).get("deletionTimestamp"):
            await runtime.stop_loop(key, uid)
            return
        runtime.start_loop(
            key, uid or "", lambda: kind.loop(runtime, namespace or "", name, uid or "", logger)
        )
        runtime.wake(*key)

    def config_map_references(
        namespace: str | None, name: str, spec: kopf.Spec, **_: Any
    ) -> dict[tuple[str, str], str]:
        try:
            parsed = kind.parse_spec(dict(spec))
        except ValidationError:
            return {}
        return {(namespace or "", cm): name for cm in referenced_config_maps(parsed)}

    resource = (GROUP, VERSION, kind.plural)
    kopf.on.event(*resource, registry=registry, id=f"{kind.plural}_changed")(resource_changed)
    kopf.index(*resource, registry=registry, id=index_id(kind))(config_map_references)
    if kind.register_more is not None:
        kind.register_more(registry)


@kopf.on.event("", "v1", "configmaps", registry=registry)
async def config_map_changed(
    namespace: str | None, name: str, memo: kopf.Memo, **kwargs: Any
) -> None:
    """A referenced ConfigMap rolls its users' pods. A cluster-scoped event (no namespace)
    concerns none."""
    if namespace is None:
        return
    runtime = runtime_of(memo)
    for kind in KINDS:
        references: Mapping[tuple[str, str], Any] = kwargs[index_id(kind)]
        for owner in references.get((namespace, name), []):
            runtime.wake(namespace, kind.wake_key(owner))


async def owned_changed(
    namespace: str | None, labels: Mapping[str, str], memo: kopf.Memo, **_: Any
) -> None:
    """A child or a worker pod that changed or went: its owner's next pass puts back what
    drifted and reports what the pods say."""
    runtime = runtime_of(memo)
    for kind in KINDS:
        owner = labels.get(kind.selector_label)
        if owner:
            runtime.wake(namespace or "", kind.wake_key(owner))


for _group, _version, _plural in (*CHILD_KINDS, ("", "v1", "pods")):
    kopf.on.event(
        _group, _version, _plural, registry=registry, id=f"owned_changed/{_plural}", labels=MANAGED
    )(owned_changed)

for _kind in KINDS:
    register(_kind)
