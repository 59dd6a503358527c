"""Statements and queries on a test's PostgreSQL database, each on a connection of its own."""

from __future__ import annotations

import contextlib
from typing import Any

import psycopg2

from kconnect_devenv import postgres


def query(database: postgres.Database, sql: str, *params: object) -> list[tuple[Any, ...]]:
    """The rows of `sql` (`%s` for each of `params`; without params `%` is not special)."""
    with contextlib.closing(psycopg2.connect(database.dsn)) as conn, conn.cursor() as cur:
        cur.execute(sql, params or None)
        return list(cur.fetchall())


def execute(database: postgres.Database, *statements: str) -> None:
    """Each statement in a transaction of its own (autocommit)."""
    with contextlib.closing(psycopg2.connect(database.dsn)) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
