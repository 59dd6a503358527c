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
