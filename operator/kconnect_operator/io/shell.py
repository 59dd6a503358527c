"""The operator's shared clients, and the handler steps both kinds take with them.

`kafkaconnector.handlers` and `standaloneconnect.handlers` differ in what they decide, not in how
they talk to the API server and the workers: this module holds that common shell, and
`ResourceKind`, what `registration` needs of a kind to run its resources' loops. It does I/O, so
it is not part of the pure core.

A pass (`sync`, given a kind's `Pass`) reads and claims the resource, observes (the kind's
`observe`), decides (its pure `decide`), carries the actions out in order (`act`), decides the
status again from what came of them when something failed, and writes it. A resource's loop
(`run_loop`) wakes on its event or after its interval, whichever comes first,
and never runs two passes closer than `MIN_GAP_S`; one failed pass is logged and counted, and the
loop goes on. The loop removes its wake-up event when it ends, unless a newer loop replaced it.

Ownership (`claim`): each install names itself (`OperatorOptions.instance`) and claims a resource
before it acts on it, by setting the annotation `kconnect.io/operator` with a compare-and-swap
(the patch carries the resourceVersion read). A resource claimed by another install is left
alone, with a Warning Event, so two installs never fight over one resource; removing the
annotation hands it to whichever install claims it next.

The loops are the operator's own tasks, not kopf daemons: kopf puts a finalizer on every object
that has a daemon, so that it can stop the daemon before the object goes; with the operator
down (or uninstalled), such an object could not be deleted, nor its namespace. `Runtime` owns
the loops instead: an event for a resource starts its loop (once per uid), the loop ends by
itself when its pass finds the resource gone or being deleted, and `stop_loops` cancels and
awaits every loop when the operator stops. Only a resource whose deletion needs cleanup (a
KafkaConnector with `deletionPolicy: Delete`) carries kopf's finalizer.

kopf keeps no copy of a resource's spec (`LevelTriggered`): every pass reconciles the whole
resource from what it observes, so nothing depends on what changed since the last pass, and no
spec is too large to be handled or deleted.

Log levels (`observe_loggers`, then `SetLogLevels` actions) are a per-worker setting, not a
cluster one: each ready worker is read and set on its own, and a worker that does not answer
leaves the others unaffected; the removed loggers it still has are reset on a later pass.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from collections.abc import (
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Generic, Protocol, TypeVar, cast

import aiohttp
import kopf
from pydantic import BaseModel, ValidationError

from kconnect_operator.core import children, kafka_security, manifests
from kconnect_operator.core import status as core_status
from kconnect_operator.core.actions import (
    OFFSETS_KEY,
    REST_ACTIONS,
    Action,
    AlterOffsets,
    ApplyChildren,
    AutoRestartConnector,
    DeleteChild,
    DeleteConnector,
    ListOffsets,
    MarkLeaving,
    Note,
    OffsetsAction,
    Outcome,
    RemoveAnnotations,
    ResetOffsets,
    Restart,
    RestartTask,
    SendCommand,
    SendConfig,
    SetLogLevels,
    Warn,
)
from kconnect_operator.core.kafka_security import SecretFacts
from kconnect_operator.core.manifests import REST_PORT
from kconnect_operator.core.options import OperatorOptions
from kconnect_operator.core.shapes import GROUP, VERSION, Condition, JsonObject, WorkerSpec
from kconnect_operator.io import operator_metrics
from kconnect_operator.io.kube import Kube, KubeError, collection_path, object_path
from kconnect_operator.io.worker_rest import WorkerRestClient, WorkerRestError

OPERATOR_ANNOTATION: Final = "kconnect.io/operator"
"""The install that reconciles a resource (`OperatorOptions.instance`)."""
HTTP_BAD_REQUEST: Final = 400
HTTP_NOT_FOUND: Final = 404
HTTP_CONFLICT: Final = 409
HTTP_SERVER_ERROR: Final = 500
NOT_READY_INTERVAL_S: Final = 2.0
"""How often a resource that is not Ready is looked at, without an event."""
MIN_GAP_S: Final = 0.5
"""The shortest pause between two passes of one resource: a burst of events makes one pass."""


LOOP_STOP_TIMEOUT_S: Final = 5.0
"""How long stopping waits for cancelled loops to finish."""


class LevelTriggered(kopf.DiffBaseStorage):
    """kopf's diff base, kept nowhere: it reports the resource as last handled exactly as it is.

    The operator's handlers are level-triggered (each pass reconciles the whole resource), so
    it registers no on-create, on-update or on-resume handlers, and kopf needs no record of the
    last handled spec. kopf's own stores keep that record in an annotation (limited to 256 KiB
    for all of an object's annotations) or in the status: a large spec made the write fail, and
    as the write came with the finalizer's removal, such a resource could never be deleted.
    With this storage kopf never writes it. A handler that needs a diff cannot be registered
    with it: `registration` registers none."""

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return self.build(body=body)

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        return None


@dataclass
class Loop:
    uid: str
    task: asyncio.Task[None]


@dataclass
class Runtime:
    """The operator's shared clients, created at startup and closed at cleanup, and the
    resources' loops, which it owns."""

    options: OperatorOptions
    kube: Kube
    http: aiohttp.ClientSession
    wakeups: dict[tuple[str, str], asyncio.Event] = field(default_factory=dict)
    loops: dict[tuple[str, str], Loop] = field(default_factory=dict)

    def wake(self, namespace: str, name: str) -> None:
        event = self.wakeups.get((namespace, name))
        if event is not None:
            event.set()

    def start_loop(
        self, key: tuple[str, str], uid: str, run: Callable[[], Coroutine[Any, Any, None]]
    ) -> None:
        """Start the loop of the resource `key` with `uid`, unless it runs. A loop of an older
        resource of the same name is cancelled; it ends on its own soon anyway."""
        loop = self.loops.get(key)
        if loop is not None and loop.uid == uid and not loop.task.done():
            return
        if loop is not None:
            loop.task.cancel()
        task = asyncio.create_task(run(), name=f"loop {key[0]}/{key[1]}")
        self.loops[key] = Loop(uid, task)
        task.add_done_callback(lambda done: self._forget(key, done))

    def _forget(self, key: tuple[str, str], task: asyncio.Task[None]) -> None:
        loop = self.loops.get(key)
        if loop is not None and loop.task is task:
            del self.loops[key]
        if not task.cancelled() and task.exception() is not None:
            logging.getLogger(__name__).error(
                "the loop of %s/%s failed", *key, exc_info=task.exception()
            )

    async def stop_loop(self, key: tuple[str, str], uid: str | None = None) -> None:
        """Cancel the loop of `key` (only if it is `uid`'s) and wait for it, within a bound."""
        loop = self.loops.get(key)
        if loop is None or (uid is not None and loop.uid != uid):
            return
        loop.task.cancel()
        await asyncio.wait({loop.task}, timeout=LOOP_STOP_TIMEOUT_S)

    async def stop_loops(self) -> None:
        """Cancel every loop and wait for them, within a bound."""
        tasks = {loop.task for loop in self.loops.values()}
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=LOOP_STOP_TIMEOUT_S)


LoopFactory = Callable[[Runtime, str, str, str, kopf.Logger], Coroutine[Any, Any, None]]
"""A resource's loop: `(runtime, namespace, name, uid, logger)`, running until the resource is
gone or the loop is cancelled."""


@dataclass(frozen=True, slots=True)
class ResourceKind:
    """What the one registration (`kconnect_operator.registration`) needs of a resource kind to
    start, wake and stop its resources' loops: the handlers of a third kind are the same
    handlers, given one more `ResourceKind`."""

    kind: str
    plural: str
    selector_label: str
    """The label that names the owning resource on its children and worker pods."""
    parse_spec: Callable[[Mapping[str, Any]], WorkerSpec]
    """The kind's spec model's `model_validate`: a spec as stored, read for the ConfigMaps it
    feeds into the pods (none when it is invalid)."""
    loop: LoopFactory
    register_more: Callable[[kopf.OperatorRegistry], None] | None = None
    """The kind's own further handlers (a KafkaConnector's clean-up on deletion)."""
    related: Callable[[Mapping[str, Any]], str | None] | None = None
    """The wake key (`wake_key`) of another resource in the same namespace that an event of
    this one concerns: a KafkaConnector's KConnectCluster, whose pass deletes the connector of
    a deleted KafkaConnector."""

    def wake_key(self, name: str) -> str:
        """The name part of a resource's key in `Runtime.wakeups` and `Runtime.loops`:
        `<plural>/<name>`, which no Kubernetes name can be, so two kinds never wake each
        other."""
        return f"{self.plural}/{name}"


def runtime_of(memo: Any) -> Runtime:
    runtime: Runtime = memo.runtime
    return runtime


M = TypeVar("M", bound=BaseModel)


class InvalidSpec(kopf.PermanentError):
    """The spec fails its model: a pass reports it in the status (`sync`)."""


def parse_spec(model: type[M], body: Mapping[str, Any]) -> M:
    """The resource's spec, or an InvalidSpec naming what is wrong. The CRD admits little that
    fails, but it holds the config maps untyped: a value that is not a setting, or a map too
    large, fails only here."""
    try:
        return model.model_validate(dict(body.get("spec") or {}))
    except ValidationError as e:
        raise InvalidSpec(f"invalid spec: {validation_message(e)}") from e


def stored_status(model: type[M], body: Mapping[str, Any]) -> M | None:
    """The status the resource holds, read with `model`; None when absent or unreadable."""
    raw = body.get("status")
    if not raw:
        return None
    keys = core_status.status_keys(model)
    try:
        return model.model_validate({k: v for k, v in dict(raw).items() if k in keys})
    except ValidationError:
        return None


def resource_path(kind: str, body: Mapping[str, Any]) -> str:
    """The API path of the kconnect.io resource `body` (of `kind`)."""
    meta = body["metadata"]
    return object_path(f"{GROUP}/{VERSION}", kind, meta["namespace"], meta["name"])


def validation_message(error: ValidationError) -> str:
    return "; ".join(
        f"spec.{'.'.join(str(p) for p in item['loc'])}: {item['msg']}" for item in error.errors()
    )


async def set_status(
    runtime: Runtime, body: Mapping[str, Any], resource_path: str, status: BaseModel
) -> None:
    """Patch the resource's status to `status`, unless it already is."""
    patch = core_status.status_patch(status, body.get("status"))
    if patch is not None:
        await runtime.kube.merge_patch(resource_path + "/status", patch)


def claimant(body: Mapping[str, Any]) -> str | None:
    """The install that claimed the resource, if any."""
    annotations = body.get("metadata", {}).get("annotations") or {}
    value = annotations.get(OPERATOR_ANNOTATION)
    return str(value) if value else None


async def claim(runtime: Runtime, kind: str, body: Mapping[str, Any]) -> str | None:
    """Claim the resource for this install: None when it is (now) this install's, else the other
    install that holds it. The claim is a compare-and-swap on the resourceVersion, so of two
    installs claiming at once one wins; the loser reads the winner back."""
    me = runtime.options.instance
    current: Mapping[str, Any] | None = body
    for _ in range(3):
        if current is None:
            return None  # gone: nothing to fight over
        holder = claimant(current)
        if holder is not None:
            return None if holder == me else holder
        meta = current["metadata"]
        patch = {
            "metadata": {
                "resourceVersion": meta["resourceVersion"],
                "annotations": {OPERATOR_ANNOTATION: me},
            }
        }
        try:
            await runtime.kube.merge_patch(resource_path(kind, current), patch)
        except KubeError as e:
            if e.status != 409:
                raise
            current = await runtime.kube.get(resource_path(kind, current))
            continue
        return None
    raise KubeError(409, f"could not claim {kind} {body['metadata']['name']}: it keeps changing")


def refuse(body: kopf.Body, kind: str, holder: str, me: str) -> None:
    """The Warning Event of a resource another install reconciles."""
    kopf.warn(
        body,
        reason="OwnedByAnotherOperator",
        message=(
            f"this {kind} is reconciled by the operator install {holder!r} "
            f"(annotation {OPERATOR_ANNOTATION}); the install {me!r} leaves it alone. "
            f"Remove the annotation to hand it over."
        ),
    )


async def versions(runtime: Runtime, kind: str, namespace: str, names: list[str]) -> dict[str, str]:
    """The resourceVersions of the named Secrets or ConfigMaps (`kind`) that exist."""
    found: dict[str, str] = {}
    for name in names:
        obj = await runtime.kube.get(object_path("v1", kind, namespace, name))
        if obj is not None:
            found[name] = obj["metadata"]["resourceVersion"]
    return found


async def kafka_secret_facts(
    runtime: Runtime, namespace: str, spec: WorkerSpec
) -> dict[str, SecretFacts]:
    """What the Secrets `spec.tls` and `spec.authentication` name hold: their keys and keyed
    digests of each key's content (`kafka_security.secret_facts`), read each pass so a rotated
    Secret rolls the workers; a missing Secret is absent. No value is kept."""
    found: dict[str, SecretFacts] = {}
    for name in kafka_security.secret_names(spec):
        obj = await runtime.kube.get(object_path("v1", "Secret", namespace, name))
        if obj is not None:
            uid = str(obj["metadata"].get("uid") or "")
            found[name] = kafka_security.secret_facts(uid, obj.get("data") or {})
    return found


async def kafka_secret_data(
    runtime: Runtime, namespace: str, spec: WorkerSpec
) -> dict[str, dict[str, str]]:
    """The decoded text of the Secrets `spec.tls` and `spec.authentication` name, for a client
    in the operator's own process: held in memory only, never logged. A key that is not UTF-8
    text (a PKCS12 store, say) is left out."""
    found: dict[str, dict[str, str]] = {}
    for name in kafka_security.secret_names(spec):
        obj = await runtime.kube.get(object_path("v1", "Secret", namespace, name))
        if obj is None:
            continue
        data: dict[str, str] = {}
        for key, value in (obj.get("data") or {}).items():
            with contextlib.suppress(ValueError):  # binascii.Error and UnicodeDecodeError
                data[key] = base64.b64decode(value, validate=True).decode()
        found[name] = data
    return found


async def observe_children(
    runtime: Runtime, namespace: str, keys: Iterable[tuple[str, str, str]]
) -> dict[str, JsonObject | None]:
    """Each child named by `(apiVersion, kind, name)`, by `children.child_key`; None when it
    does not exist."""
    return {
        f"{kind}/{name}": await runtime.kube.get(object_path(api_version, kind, namespace, name))
        for api_version, kind, name in keys
    }


@dataclass(frozen=True, slots=True)
class Applied:
    live: dict[str, JsonObject | None]
    """The children as they are after applying (the applied ones as the API server answered)."""
    error: str | None = None
    """Why the API server refused a child: the rest of the plan was not applied."""


async def apply_plan(
    runtime: Runtime,
    body: kopf.Body,
    plan: children.ChildrenPlan,
    live: Mapping[str, JsonObject | None],
    *,
    workers: str,
) -> Applied:
    """Server-side apply `plan`'s children in order, then report what it repaired (a Warning
    Event, DriftRepaired) and the roll with its causes (a Normal Event, Rolling), for the
    children the API server changed. A child the API server refuses (a 4xx answer other than a
    conflict or throttling) stops the plan and is returned for the status; other errors raise,
    and the next pass retries."""
    after = dict(live)
    for child in plan.apply:
        try:
            after[children.child_key(child)] = await runtime.kube.apply(child)
        except KubeError as e:
            if not 400 <= e.status < 500 or e.status in (409, 429):
                raise
            key = children.child_key(child).replace("/", " ")
            return Applied(after, f"the API server refused {key}: {e.message}")
    for key, message in plan.repaired:
        if plan.changed(key, live.get(key), after.get(key)):
            kopf.event(body, type="Warning", reason="DriftRepaired", message=message)
    workload = plan.workload
    if plan.roll and workload and plan.changed(workload, live.get(workload), after.get(workload)):
        kopf.event(
            body,
            type="Normal",
            reason="Rolling",
            message=f"rolling the {workers}: {'; '.join(plan.roll)}",
        )
    return Applied(after)


def report_cause(body: kopf.Body, previous: Sequence[Condition], status: BaseModel) -> None:
    """A Warning Event when the Ready condition newly names a cause (`core_status.cause_event`)."""
    conditions: Sequence[Condition] = getattr(status, "conditions", ())
    event = core_status.cause_event(previous, conditions)
    if event is not None:
        kopf.event(body, type="Warning", reason=event[0], message=event[1])


def connect_client(runtime: Runtime, urls: Sequence[str]) -> WorkerRestClient:
    """A REST client for the given workers, counting its responses."""
    return WorkerRestClient(
        runtime.http,
        list(urls),
        timeout_s=runtime.options.rest_timeout_s,
        on_response=lambda method, code: operator_metrics.REST_REQUESTS.inc(
            method=method, code=str(code)
        ),
    )


LoggerLevels = Mapping[str, str | None] | str
"""One worker's levels of the targeted loggers (None: the worker does not know the logger), or
why they could not be read."""


async def observe_loggers(
    runtime: Runtime,
    workers: Sequence[core_status.Worker],
    spec: WorkerSpec,
    previous: BaseModel | None,
) -> dict[str, LoggerLevels]:
    """Each ready worker's levels of the loggers to set or reset (the spec's, and the ones the
    `previous` status remembers as applied), by pod: `GET /admin/loggers`, and
    `GET /admin/loggers/{name}` for a target the listing leaves out. Nothing is requested when
    there is no target (the spec names no logger and none is left to reset)."""
    remembered = getattr(previous, "applied_loggers", None) or []
    targets = core_status.logger_targets(spec.logging.loggers, remembered)
    found: dict[str, LoggerLevels] = {}
    for worker in workers if targets else ():
        client = connect_client(runtime, [worker.url])
        try:
            listed = await client.loggers()
            levels: dict[str, str | None] = {}
            for name in targets:
                levels[name] = listed.get(name)
                if levels[name] is None:
                    levels[name] = await client.logger(name)
        except WorkerRestError as e:
            found[worker.pod] = e.message
        else:
            found[worker.pod] = levels
    return found


async def act(
    runtime: Runtime,
    body: kopf.Body,
    kind: str,
    actions: Sequence[Action],
    live: Mapping[str, JsonObject | None],
    urls: Sequence[str],
    logger: kopf.Logger,
) -> Outcome:
    """Carry out `actions` in order (`core.actions` says how failures stop them), against the
    children `live` as observed and the ready workers at `urls`; what came of them."""
    apply_error: str | None = None
    after: Mapping[str, JsonObject | None] | None = None
    rest_done: int | None = None
    config_rejected: str | None = None
    unreachable: str | None = None
    offsets_error: str | None = None
    failures: list[str] = []
    levels_set: set[str] = set()
    workers_changed = 0
    leave_failures: list[str] = []
    rest: list[Action] | None = [a for a in actions if isinstance(a, REST_ACTIONS)]
    for action in actions:
        if isinstance(action, REST_ACTIONS):
            if rest:  # the whole sequence, where its first action stands
                rest_done, config_rejected, unreachable, offsets_error = await _act_rest(
                    runtime, body, kind, rest, urls, logger
                )
            rest = None
        elif isinstance(action, ApplyChildren):
            applied = await apply_plan(runtime, body, action.plan, live, workers=action.workers)
            apply_error, after = applied.error, applied.live
        elif isinstance(action, MarkLeaving):
            leave_failures.extend(await mark_leaving(runtime, body, action, logger))
        elif isinstance(action, DeleteChild):
            path = object_path(
                action.api_version, action.kind, body["metadata"]["namespace"], action.name
            )
            if await runtime.kube.delete(path):
                kopf.event(body, type="Normal", reason=action.reason, message=action.message)
                logger.info("%s", action.message)
        elif isinstance(action, Note):
            kopf.event(body, type="Normal", reason=action.reason, message=action.message)
        elif isinstance(action, SetLogLevels):
            client = connect_client(runtime, [action.url])
            try:
                for name, level in action.changes:
                    await client.set_logger(name, level.value)
                    levels_set.add(f"{name}={level.value}")
            except WorkerRestError as e:
                failures.append(f"{action.pod}: {e.message}")
            else:
                workers_changed += 1
    return Outcome(
        apply_error=apply_error,
        live=after,
        rest_done=rest_done,
        config_rejected=config_rejected,
        unreachable=unreachable,
        logger_failures=tuple(failures),
        log_levels_set=tuple(sorted(levels_set)),
        workers_changed=workers_changed,
        leave_failures=tuple(leave_failures),
        offsets_error=offsets_error,
    )


async def mark_leaving(
    runtime: Runtime, body: kopf.Body, action: MarkLeaving, logger: kopf.Logger
) -> list[str]:
    """Write the leave marker into each pod a scale-down removes (`MarkLeaving`); the pods that
    could not be reached, each with a Warning Event `LeaveGroupFailed`: such a pod's worker
    keeps its seat when it stops, and its tasks wait for its session to expire."""
    namespace = body["metadata"]["namespace"]
    failures: list[str] = []
    for pod in action.pods:
        try:
            await runtime.kube.exec(
                namespace, pod, action.container, list(manifests.MARK_LEAVING_COMMAND)
            )
        except KubeError as e:
            failures.append(f"{pod}: {e.message}")
            kopf.warn(
                body,
                reason="LeaveGroupFailed",
                message=(
                    f"could not tell the worker in pod {pod} to leave the group before the "
                    f"scale-down removes it ({e.message}): its tasks move only once its "
                    "session.timeout.ms has passed"
                ),
            )
        else:
            logger.info("pod %s: its worker leaves the group when the scale-down stops it", pod)
    return failures


async def _act_rest(
    runtime: Runtime,
    body: kopf.Body,
    kind: str,
    actions: Sequence[Action],
    urls: Sequence[str],
    logger: kopf.Logger,
) -> tuple[int | None, str | None, str | None, str | None]:
    """The REST sequence: `(done, rejected, unreachable, offsets_error)`; `done` is None when
    all succeeded. An offsets operation refused for good does not stop the sequence."""
    client = connect_client(runtime, urls)
    offsets_error: str | None = None
    for done, action in enumerate(actions):
        try:
            if isinstance(action, ListOffsets | AlterOffsets | ResetOffsets):
                offsets_error = await _act_offsets(runtime, client, body, action, logger)
            else:
                await _act_one(runtime, client, body, kind, action, logger)
        except WorkerRestError as e:
            if isinstance(action, SendConfig) and e.status == HTTP_BAD_REQUEST:
                return done, e.message, None, offsets_error
            return done, None, f"the workers' REST API: {e.message}", offsets_error
    return None, None, None, offsets_error


def _refused_for_good(e: WorkerRestError) -> bool:
    """A worker's answer that the same request would get again: a 4xx but 404 (a connector the
    workers do not know yet, or any more: the next pass looks again) and 409 (rebalancing), or a
    500 (the connector's refusal of the offsets, as in Kafka Connect)."""
    again = (HTTP_NOT_FOUND, HTTP_CONFLICT)
    return (400 <= e.status < 500 and e.status not in again) or e.status == HTTP_SERVER_ERROR


async def _act_offsets(
    runtime: Runtime,
    client: WorkerRestClient,
    body: kopf.Body,
    action: OffsetsAction,
    logger: kopf.Logger,
) -> str | None:
    """One offsets operation; a Normal Event when done, else why it failed for good (with a
    Warning Event `OffsetsFailed`). No answer or a rebalance raises: the next pass retries."""
    try:
        if isinstance(action, ListOffsets):
            offsets = await client.offsets(action.name)
            await _write_offsets(runtime, body, action.config_map, offsets)
            count = len(offsets.get("offsets") or [])
            reason = "OffsetsListed"
            message = f"{count} partitions' offsets listed into ConfigMap {action.config_map}"
        elif isinstance(action, AlterOffsets):
            await client.alter_offsets(action.name, action.offsets)
            count = len(action.offsets.get("offsets") or [])
            reason = "InitialOffsetsApplied" if action.initial else "OffsetsAltered"
            message = f"{count} partitions' offsets written from ConfigMap {action.source}"
        else:
            await client.reset_offsets(action.name)
            reason, message = "OffsetsReset", "the connector's offsets are reset"
    except WorkerRestError as e:
        if not _refused_for_good(e):
            raise
        error = f"the workers refused it (HTTP {e.status}): {e.message}"
    except _OffsetsTargetError as e:
        error = str(e)
    else:
        kopf.event(body, type="Normal", reason=reason, message=message)
        logger.info("connector %s: %s", action.name, message)
        return None
    what = type(action).__name__
    kopf.warn(body, reason="OffsetsFailed", message=f"{what}: {error}")
    return error


class _OffsetsTargetError(Exception):
    """The ConfigMap the offsets are listed into cannot take them."""


async def _write_offsets(runtime: Runtime, body: kopf.Body, name: str, offsets: JsonObject) -> None:
    """Write `offsets` (as indented JSON) into the ConfigMap `name`'s key `offsets.json`: a new
    ConfigMap carries an owner reference to the resource (not a controller one: the operator
    does not reconcile it), so it goes with the resource; an existing one keeps its other keys
    and owners. One another object controls (a worker ConfigMap) is refused."""
    meta = body["metadata"]
    namespace = meta["namespace"]
    text = json.dumps(offsets, indent=2, sort_keys=True) + "\n"
    path = object_path("v1", "ConfigMap", namespace, name)
    try:
        existing = await runtime.kube.get(path)
        if existing is None:
            owner = {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": body.get("kind") or "KafkaConnector",
                "name": meta["name"],
                "uid": meta["uid"],
            }
            await runtime.kube.create(
                collection_path("v1", "ConfigMap", namespace),
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": name, "namespace": namespace, "ownerReferences": [owner]},
                    "data": {OFFSETS_KEY: text},
                },
            )
            return
        refs = (existing.get("metadata") or {}).get("ownerReferences") or []
        for ref in refs:
            if ref.get("controller") and ref.get("uid") != meta["uid"]:
                raise _OffsetsTargetError(
                    f"ConfigMap {name} (spec.listOffsets.toConfigMap) belongs to "
                    f"{ref.get('kind')} {ref.get('name')}: the offsets are not written into it"
                )
        await runtime.kube.merge_patch(path, {"data": {OFFSETS_KEY: text}})
    except KubeError as e:
        if e.status == HTTP_CONFLICT or e.status >= HTTP_SERVER_ERROR:
            raise WorkerRestError(0, f"ConfigMap {name}: {e.message}") from None
        raise _OffsetsTargetError(f"ConfigMap {name}: {e.message}") from None


async def _act_one(
    runtime: Runtime,
    client: WorkerRestClient,
    body: kopf.Body,
    kind: str,
    action: Action,
    logger: kopf.Logger,
) -> None:
    meta = body["metadata"]
    if isinstance(action, SendConfig):
        if action.initial_state is not None:
            await client.create(action.name, action.config, action.initial_state)
        else:
            await client.put_config(action.name, action.config)
        message = f"connector config {action.verb}"
        kopf.event(body, type="Normal", reason="ConfigApplied", message=message)
        logger.info("connector %s: config %s", action.name, action.verb)
    elif isinstance(action, SendCommand):
        await client.command(action.name, action.command)
        kopf.event(body, type="Normal", reason="StateChanged", message=f"sent {action.command}")
    elif isinstance(action, Restart):
        await client.restart(
            action.name, include_tasks=action.include_tasks, only_failed=action.only_failed
        )
        message = (
            f"restarted the connector (includeTasks={str(action.include_tasks).lower()}, "
            f"onlyFailed={str(action.only_failed).lower()})"
        )
        kopf.event(body, type="Normal", reason="Restarted", message=message)
    elif isinstance(action, RestartTask):
        try:
            await client.restart_task(action.name, action.task)
        except WorkerRestError as e:
            if e.status != HTTP_NOT_FOUND:
                raise
            kopf.warn(body, reason="RestartFailed", message=f"task {action.task}: {e}")
            return
        message = f"restarted task {action.task}"
        kopf.event(body, type="Normal", reason="Restarted", message=message)
    elif isinstance(action, DeleteConnector):
        await client.delete(action.name)
        message = f"deleted connector {action.name}: no KafkaConnector names it any more"
        kopf.event(body, type="Normal", reason="ConnectorDeleted", message=message)
        logger.info("%s", message)
    elif isinstance(action, Warn):
        kopf.warn(body, reason=action.reason, message=action.message)
    elif isinstance(action, RemoveAnnotations):
        await runtime.kube.merge_patch(
            resource_path(kind, body),
            {"metadata": {"annotations": dict.fromkeys(action.keys)}},
        )
    elif isinstance(action, AutoRestartConnector):
        await client.restart(action.name, include_tasks=True, only_failed=True)
        operator_metrics.AUTO_RESTARTS.inc(namespace=meta["namespace"], name=action.name)
        kopf.event(
            body,
            type="Normal",
            reason="AutoRestarted",
            message=f"restarted the failed connector and tasks (restart {action.count})",
        )


def report_loggers(
    body: kopf.Body,
    outcome: Outcome,
    observed: Mapping[str, LoggerLevels],
    logger: kopf.Logger,
) -> None:
    """An Event for levels that were set, and a log line for workers that were not reached."""
    if outcome.log_levels_set:
        count = outcome.workers_changed
        workers = "1 worker" if count == 1 else f"{count} workers"
        message = f"log levels set on {workers}: {', '.join(outcome.log_levels_set)}"
        kopf.event(body, type="Normal", reason="LogLevelsSet", message=message)
        logger.info(message)
    read_failures = [f"{pod}: {why}" for pod, why in observed.items() if isinstance(why, str)]
    for failure in (*read_failures, *outcome.logger_failures):
        logger.warning("setting log levels: %s", failure)


class PassObservation(Protocol):
    """What every kind's observation holds that the shared pass uses."""

    @property
    def pods(self) -> Sequence[JsonObject]: ...
    @property
    def live(self) -> Mapping[str, JsonObject | None]: ...
    @property
    def rest_error(self) -> str | None: ...
    @property
    def loggers(self) -> Mapping[str, LoggerLevels]: ...
    @property
    def previous(self) -> BaseModel | None: ...


class PassDecision(Protocol):
    """What every kind's decision holds that the shared pass uses."""

    @property
    def actions(self) -> tuple[Action, ...]: ...
    @property
    def status(self) -> BaseModel: ...
    @property
    def ready(self) -> bool: ...


Obs = TypeVar("Obs", bound=PassObservation)
Dec = TypeVar("Dec", bound=PassDecision)


@dataclass
class Claim:
    """The other install that holds a resource, while one does (for its Event, once)."""

    holder: str | None = None


@dataclass(frozen=True, slots=True)
class Pass(Generic[Obs, Dec]):
    """One kind's pass: how it observes a resource, and how it decides."""

    kind: str
    what: str
    """How the pass's log lines name the resource: `connector`, `standalone`."""
    rest_api: str
    """How they name the REST API: `the workers' REST API`, `the worker's REST API`."""
    observe: Callable[[Runtime, kopf.Body], Awaitable[Obs]]
    decide: Callable[[Obs, Outcome | None], Dec]
    status_model: type[BaseModel] | None = None
    """The kind's status, for a pass that cannot observe because the spec is invalid."""
    decided: Callable[[kopf.Body, Obs, Dec], None] | None = None
    """Called with the final decision before the status is written (metrics, the loop's
    memory)."""


async def sync(
    runtime: Runtime,
    one: Pass[Obs, Dec],
    namespace: str,
    name: str,
    uid: str,
    claimed: Claim,
    logger: kopf.Logger,
) -> bool | None:
    """One pass over a resource: read it and claim it; observe; decide; act; decide the status
    again from what came of the actions when something failed; report; write the status. True
    when Ready, None when the resource is gone or being deleted (the loop then ends)."""
    raw = await runtime.kube.get(object_path(f"{GROUP}/{VERSION}", one.kind, namespace, name))
    if raw is None or raw["metadata"].get("uid") != uid or raw["metadata"].get("deletionTimestamp"):
        return None
    body = kopf.Body(cast(kopf.RawBody, raw))
    holder = await claim(runtime, one.kind, body)
    if holder is not None:
        if claimed.holder != holder:
            refuse(body, one.kind, holder, runtime.options.instance)
        claimed.holder = holder
        return False
    claimed.holder = None
    try:
        observed = await one.observe(runtime, body)
    except InvalidSpec as e:
        if one.status_model is None:
            raise
        stored = stored_status(one.status_model, body)
        status = core_status.invalid_spec_status(
            one.status_model,
            stored,
            str(e),
            generation=body["metadata"].get("generation"),
            now=datetime.now(UTC),
        )
        report_cause(body, getattr(stored, "conditions", None) or (), status)
        await set_status(runtime, body, resource_path(one.kind, body), status)
        return False
    decision = one.decide(observed, None)
    urls = [w.url for w in core_status.ready_workers(observed.pods, REST_PORT)]
    outcome = await act(runtime, body, one.kind, decision.actions, observed.live, urls, logger)
    if outcome != Outcome():
        decision = one.decide(observed, outcome)
    unreachable = outcome.unreachable
    if observed.rest_error is not None and urls:
        unreachable = f"{one.rest_api}: {observed.rest_error}"
    if unreachable is not None:
        logger.info("%s %s/%s: %s", one.what, namespace, name, unreachable)
    report_loggers(body, outcome, observed.loggers, logger)
    if one.decided is not None:
        one.decided(body, observed, decision)
    report_cause(body, getattr(observed.previous, "conditions", None) or (), decision.status)
    await set_status(runtime, body, resource_path(one.kind, body), decision.status)
    return decision.ready


async def observe_workload(
    runtime: Runtime,
    body: Mapping[str, Any],
    spec: WorkerSpec,
    child_keys: Iterable[tuple[str, str, str]],
    selector: str,
) -> tuple[dict[str, str], dict[str, str], dict[str, JsonObject | None], list[JsonObject]]:
    """What a resource's children are built from and what they are: the referenced Secrets' and
    ConfigMaps' versions (read by name), the children (by `children.child_key`), and the worker
    pods."""
    namespace = body["metadata"]["namespace"]
    secret_versions = await versions(
        runtime, "Secret", namespace, manifests.referenced_secrets(spec)
    )
    config_map_versions = await versions(
        runtime, "ConfigMap", namespace, manifests.referenced_config_maps(spec)
    )
    live = await observe_children(runtime, namespace, child_keys)
    pods = await runtime.kube.list(collection_path("v1", "Pod", namespace), label_selector=selector)
    return secret_versions, config_map_versions, live, pods


async def run_loop(
    runtime: Runtime,
    key: tuple[str, str],
    one_pass: Callable[[], Awaitable[bool | None]],
    *,
    kind: str,
    name: str,
    what: str,
    logger: kopf.Logger,
) -> None:
    """Run `one_pass` (True when the resource is Ready, None when it is gone or being deleted)
    until it says the resource is gone or the loop is cancelled, on wake-ups under `key` and
    every `sync_interval_s` (every `NOT_READY_INTERVAL_S` while not Ready)."""
    wake = runtime.wakeups.setdefault(key, asyncio.Event())
    ready: bool | None = False
    try:
        while True:
            wake.clear()
            try:
                ready = await one_pass()
                if ready is None:
                    return
                operator_metrics.RECONCILES.inc(kind=kind, result="ok")
            except (KubeError, WorkerRestError, kopf.PermanentError) as e:
                operator_metrics.RECONCILES.inc(kind=kind, result="error")
                logger.warning("syncing %s: %s", what, e)
            operator_metrics.RESOURCE_SYNCS.inc(kind=kind, namespace=key[0], name=name)
            interval = (
                runtime.options.sync_interval_s
                if ready
                else min(NOT_READY_INTERVAL_S, runtime.options.sync_interval_s)
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=interval)
            await asyncio.sleep(MIN_GAP_S)
    finally:
        if runtime.wakeups.get(key) is wake:
            del runtime.wakeups[key]
        operator_metrics.RESOURCE_SYNCS.remove(kind=kind, namespace=key[0], name=name)
