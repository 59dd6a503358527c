"""Exceptions a connector raises, and what the runtime makes of them.

`RetriableError` says the same call may succeed later: a sink's `put` is retried with the same
batch, a source's `poll` is called again. Any other exception fails the task, and its trace is
kept in the task's status.
"""


class ConnectError(Exception):
    """A failure inside a connector or the runtime."""


class RetriableError(ConnectError):
    """The operation failed but may succeed when tried again."""


class ConfigError(ConnectError):
    """A configuration is invalid. The message names the key, the value and what was expected."""


class DataError(ConnectError):
    """A value does not fit its schema, or bytes cannot be converted."""


class FieldPathError(DataError):
    """A DataError raised inside a nested value: each enclosing struct adds its field's name on
    the way out (`at`), so the message names the whole path (`at field 'a.b'`)."""

    def __init__(self, message: str, path: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    def at(self, name: str) -> "FieldPathError":
        return FieldPathError(self.message, (name, *self.path))

    def __str__(self) -> str:
        if not self.path:
            return self.message
        return f"{self.message} (at field '{'.'.join(self.path)}')"
