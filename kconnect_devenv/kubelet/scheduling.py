"""The test kubelet is also the scheduler of its one node: which pods it takes, and whether they
fit. Pure.

- **Which pods:** not yet bound (no ``spec.nodeName``), for the default scheduler (``schedulerName``
  unset or ``default-scheduler``), not being deleted, not finished, without ``schedulingGates``,
  and in one of the kubelet's namespaces (all when none are given).
- **Whether one fits:** its ``nodeSelector`` and its required node affinity
  (``matchExpressions`` with In, NotIn, Exists, DoesNotExist, Gt, Lt, and ``matchFields`` on
  ``metadata.name``) must match the node. Resources, taints and tolerations, pod (anti-)affinity
  and topology spread are not considered: there is one node, and it takes every pod that may run
  on it.
- **Claims** (``claims.py``): a pod whose ``persistentVolumeClaim`` volumes name a claim that does
  not exist or is being deleted is not bound (``persistentvolumeclaim "x" not found``), and is
  looked at again every second, as the real scheduler requeues it when claims change.
- **A pod that does not fit** stays Pending with the condition ``PodScheduled=False``, reason
  ``Unschedulable`` and the real scheduler's message; :func:`unschedulable_conditions` returns None
  when the pod already says so, so nothing is written twice.
"""

from __future__ import annotations

import datetime
from collections.abc import Collection, Mapping
from typing import Final

from kconnect_devenv.kubelet.api import JsonObject
from kconnect_devenv.kubelet.status import timestamp

DEFAULT_SCHEDULER: Final = "default-scheduler"
NO_MATCH_MESSAGE: Final = (
    "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. "
    "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
)


def wants_scheduling(pod: JsonObject, namespaces: Collection[str]) -> bool:
    metadata, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    status = pod.get("status") or {}
    return (
        not spec.get("nodeName")
        and (spec.get("schedulerName") or DEFAULT_SCHEDULER) == DEFAULT_SCHEDULER
        and not metadata.get("deletionTimestamp")
        and status.get("phase") not in {"Succeeded", "Failed"}
        and not spec.get("schedulingGates")
        and (not namespaces or metadata.get("namespace") in namespaces)
    )


def fits(pod: JsonObject, node_name: str, node_labels: Mapping[str, str]) -> bool:
    spec = pod.get("spec") or {}
    selector = spec.get("nodeSelector") or {}
    if any(node_labels.get(key) != value for key, value in selector.items()):
        return False
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms")
    if terms is None:
        return True
    fields = {"metadata.name": node_name}
    return any(_term_matches(term, node_labels, fields) for term in terms)


def _term_matches(term: JsonObject, labels: Mapping[str, str], fields: Mapping[str, str]) -> bool:
    expressions = term.get("matchExpressions") or []
    field_expressions = term.get("matchFields") or []
    if not expressions and not field_expressions:
        return False  # an empty term matches no node
    return all(_matches(e, labels) for e in expressions) and all(
        _matches(e, fields) for e in field_expressions
    )


def _matches(expression: JsonObject, labels: Mapping[str, str]) -> bool:
    key, operator = expression.get("key", ""), expression.get("operator", "")
    values = [str(v) for v in expression.get("values") or []]
    present = key in labels
    value = labels.get(key)
    if operator == "In":
        return present and value in values
    if operator == "NotIn":
        return not present or value not in values
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in {"Gt", "Lt"}:
        try:
            mine, theirs = int(str(value)), int(values[0])
        except (ValueError, IndexError):
            return False
        return mine > theirs if operator == "Gt" else mine < theirs
    return False


def unschedulable_conditions(
    pod: JsonObject, now: datetime.datetime, message: str = NO_MATCH_MESSAGE
) -> list[JsonObject] | None:
    """The pod's conditions with ``PodScheduled`` False/Unschedulable and ``message``, or None if
    already so."""
    current = list((pod.get("status") or {}).get("conditions") or [])
    previous = next((c for c in current if c.get("type") == "PodScheduled"), None)
    if (
        previous is not None
        and previous.get("status") == "False"
        and previous.get("reason") == "Unschedulable"
        and previous.get("message") == message
    ):
        return None
    since = (
        previous["lastTransitionTime"]
        if previous is not None
        and previous.get("status") == "False"
        and previous.get("lastTransitionTime")
        else timestamp(now)
    )
    condition: JsonObject = {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": message,
        "lastProbeTime": None,
        "lastTransitionTime": since,
    }
    return [condition, *(c for c in current if c.get("type") != "PodScheduled")]


def binding(pod: JsonObject, node_name: str) -> JsonObject:
    """The pods/binding body; its UID makes it fail if the pod was replaced meanwhile."""
    metadata = pod["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {
            "name": metadata["name"],
            "namespace": metadata["namespace"],
            "uid": metadata["uid"],
        },
        "target": {"apiVersion": "v1", "kind": "Node", "name": node_name},
    }
