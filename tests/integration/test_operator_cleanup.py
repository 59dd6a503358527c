"""`deletionPolicy: Delete`'s Kafka cleanup against the real broker: it deletes what exists, and a
second run (a retry after a partial failure) finds everything gone and reports no error."""

from __future__ import annotations

import uuid

from kconnect_operator.kafkaconnector import cleanup
from kconnect_operator.kafkaconnector.model import KafkaConnectorSpec


def test_cleanup_deletes_the_state_and_is_idempotent(
    kafka_bootstrap: str,
    new_topic,  # type: ignore[no-untyped-def]
) -> None:
    spec = KafkaConnectorSpec.model_validate(
        {"class": "DataGen", "bootstrapServers": kafka_bootstrap}
    )
    existing = new_topic()
    missing = f"never-created-{uuid.uuid4().hex[:8]}"
    state = cleanup.KafkaState(topics=(existing, missing), groups=(f"no-such-group-{missing}",))
    config = cleanup.client_config(spec)

    first = cleanup.delete_kafka_state(config, state)
    assert first.errors == ()
    assert first.deleted_topics == (existing,)

    second = cleanup.delete_kafka_state(config, state)
    assert second == cleanup.CleanupReport((), (), ())
