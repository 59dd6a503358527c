"""Which broken replication streams end the task at once instead of being reconnected."""

from __future__ import annotations

from kconnect.connectors.pgcdc.replication import ReplicationError
from kconnect.connectors.pgcdc.source import fatal_stream_error


def test_a_missing_publication_ends_the_task_naming_slot_publication_and_the_fix() -> None:
    error = ReplicationError(
        'the server ended the replication stream: ERROR:  publication "pub_a" does not exist'
    )
    fatal = fatal_stream_error("slot_a", error)
    assert fatal is not None
    text = str(fatal)
    assert 'publication "pub_a" does not exist' in text
    assert "replication slot 'slot_a'" in text
    assert "create the publication before the slot" in text


def test_a_closed_connection_or_a_shutdown_is_reconnected() -> None:
    for message in (
        "the server ended the replication stream: the connection closed",
        "the server ended the replication stream: FATAL:  terminating connection due to "
        "administrator command",
        'reading the replication stream failed: publication "x" exists',
    ):
        assert fatal_stream_error("s", ReplicationError(message)) is None
