"""The connector's own say on offsets the REST API writes (KIP-875), as Kafka Connect's `Worker`.

Before `PATCH` or `DELETE /connectors/{c}/offsets` writes anything (and once a source's offsets
are known to hold only primitive values, `source_offset_format_error`), a fresh instance of the
connector (never started, as Java's `plugins.newConnector`) is asked through `alter_offsets`,
with the connector's config as its tasks get it (config provider variables resolved) and the
offsets about to be written: the request's, or for a reset every partition the connector has an
offset for, each with None. Its answer decides the request:

- it raises: the request fails with its message (a 500, as Java answers a `ConnectException`) and
  nothing is written; `NotImplementedError` is Java's `UnsupportedOperationException` ("doesn't
  support external modification of offsets"); another exception is named after Java's wrapper,
  "Failed to modify offsets for <kind> connector <c>", with its cause;
- it returns True: the offsets written are its whole position, and the answer says they were
  altered (reset);
- anything else (False, the default): only the framework's offsets were, and the answer says the
  connector's own, if it keeps any, need altering by hand (`modified_message`).

A connector's message may quote its config: it is shown with every resolved secret replaced by
the variable it came from, in the answer and in the log alike.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Literal, NoReturn

from kconnect.api.connector import Connector
from kconnect.config.redaction import Redactor
from kconnect.errors import ConnectError
from kconnect.herder.errors import HerderError

log = logging.getLogger(__name__)

ConnectorKind = Literal["source", "sink"]


def modified_message(connector_agreed: bool, *, reset: bool) -> str:
    """Kafka Connect's answer to a successful alter or reset (`completeModifyOffsetsCallback`)."""
    verb = "reset" if reset else "altered"
    if connector_agreed:
        return f"The offsets for this connector have been {verb} successfully"
    return (
        f"The Connect framework-managed offsets for this connector have been {verb} "
        f"successfully. However, if this connector manages offsets externally, they will need "
        f"to be manually {verb} in the system that the connector uses."
    )


def source_offset_format_error(data: Mapping[str, object] | None) -> str | None:
    """Kafka Connect's `OffsetUtils.validateFormat`, which its `Worker` applies to a source
    partition and offset before asking the connector: their values are primitives or null (a
    nested object or list is refused with Java's message, naming the field and its type)."""
    if data is None:
        return None
    for key, value in data.items():
        kind = "MAP" if isinstance(value, Mapping) else "ARRAY" if isinstance(value, list) else None
        if kind is not None:
            return (
                f"Offsets may only contain primitive types as values, but field {key} contains "
                f"{kind}"
            )
    return None


def ask_connector(
    connector_class: Callable[[], Connector],
    name: str,
    kind: ConnectorKind,
    ask: Callable[[Connector], object],
    redact: Redactor,
) -> bool:
    """Instantiate the connector and `ask` it; True only when it answers True. A refusal is a
    `HerderError` (500) with the connector's message, redacted."""
    try:
        connector = connector_class()
        answer = ask(connector)
    except NotImplementedError as e:
        message = (
            f"Failed to modify offsets for connector {name} because it doesn't support external "
            "modification of offsets"
        )
        _refused(name, kind, message, e, redact)
    except ConnectError as e:
        _refused(name, kind, str(e) or type(e).__name__, e, redact)
    except Exception as e:  # noqa: BLE001 - the connector's own code; its failure is the answer
        message = f"Failed to modify offsets for {kind} connector {name}: {type(e).__name__}: {e}"
        _refused(name, kind, message, e, redact)
    return answer is True


def _refused(
    name: str, kind: ConnectorKind, message: str, error: BaseException, redact: Redactor
) -> NoReturn:
    shown = redact(message)
    log.error(
        "Failed to modify offsets for %s connector %s (%s): %s",
        kind,
        name,
        type(error).__name__,
        shown,
    )
    raise HerderError(shown, 500) from None
