"""Errors the herder raises for the REST layer, each with its HTTP status code.

They map onto Kafka Connect's `{"error_code": N, "message": ...}` bodies.
"""

from __future__ import annotations


class HerderError(Exception):
    status: int = 500

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class NotFoundError(HerderError):
    status = 404


class AlreadyExistsError(HerderError):
    status = 409


class ConflictError(HerderError):
    """The cluster can't act on the request now (a rebalance, a connector not STOPPED)."""

    status = 409


class BadRequestError(HerderError):
    status = 400


class NotReadyError(HerderError):
    """The worker has not finished starting up (the config log isn't read yet)."""

    status = 503
