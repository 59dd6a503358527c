"""The handlers registered with kopf: nothing that would put a finalizer on every resource, and
nothing that needs kopf's record of the last handled spec."""

from __future__ import annotations

from typing import Any

import kopf

from kconnect_operator import registration
from kconnect_operator.io.shell import LevelTriggered


def test_no_daemon_or_timer_puts_a_finalizer_on_every_resource() -> None:
    # kopf adds its finalizer to every object that has a daemon or a timer (to stop it before
    # the object goes): the loops are the operator's own tasks instead. The registry's parts
    # are kopf internals; this is the only way to list them.
    assert registration.registry._spawning.get_all_handlers() == []


def test_the_only_changing_handler_is_the_optional_cleanup_on_deletion() -> None:
    changing = registration.registry._changing.get_all_handlers()
    assert [h.id for h in changing] == ["delete_kafka_state"]
    (cleanup,) = changing
    when: Any = cleanup.when  # only resources with deletionPolicy: Delete
    assert when(spec={"deletionPolicy": "Delete"}) is True
    assert when(spec={"deletionPolicy": "Retain"}) is False


def test_the_diff_base_is_never_stored_and_never_differs() -> None:
    body = kopf.Body(
        {  # type: ignore[typeddict-item]
            "apiVersion": "kconnect.io/v1alpha1",
            "kind": "KafkaConnector",
            "metadata": {"name": "big", "namespace": "ns", "uid": "u"},
            "spec": {"config": {"k": "x" * 300_000}},
        }
    )
    storage = LevelTriggered()
    patch = kopf.Patch()
    storage.store(body=body, patch=patch, essence=storage.build(body=body))
    assert not patch
    assert storage.fetch(body=body) == storage.build(body=body)
