"""What PostgresCdcSource reads from the system catalogs, over an ordinary connection.

The catalog describes a table as it is now, which for a change decoded from the WAL may be later
than when the change was made (a column added and dropped again in between); the Relation
message pgoutput sends before a table's first change, and again after the table changed, is what
decides the columns and their types, and the catalog adds only what that message lacks:
nullability, defaults, the primary key, and the labels of enums.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from psycopg2.extensions import connection

from kconnect.connectors.pgcdc.types import PgType, catalog_oids_needed


@dataclass(frozen=True, slots=True)
class CatalogColumn:
    name: str
    type_oid: int
    type_modifier: int
    not_null: bool
    default_expr: str | None


@dataclass(frozen=True, slots=True)
class CatalogTable:
    oid: int
    schema_name: str
    table_name: str
    columns: tuple[CatalogColumn, ...]
    primary_key: tuple[str, ...]


_COLUMNS = """
SELECT a.attname, a.atttypid, a.atttypmod, a.attnotnull, pg_get_expr(d.adbin, d.adrelid)
FROM pg_attribute a
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
ORDER BY a.attnum
"""

_PRIMARY_KEY = """
SELECT a.attname
FROM pg_index i
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
WHERE i.indrelid = %s AND i.indisprimary
ORDER BY array_position(i.indkey::int2[], a.attnum)
"""

_TABLES = """
SELECT c.oid, n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%'
  AND n.nspname NOT LIKE 'pg_temp%%'
ORDER BY n.nspname, c.relname
"""

_TYPES = """
SELECT t.oid, t.typname, t.typtype, t.typelem, t.typbasetype,
       coalesce(array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
                FILTER (WHERE e.enumlabel IS NOT NULL), '{}')
FROM pg_type t LEFT JOIN pg_enum e ON e.enumtypid = t.oid
WHERE t.oid = ANY(%s)
GROUP BY t.oid, t.typname, t.typtype, t.typelem, t.typbasetype
"""


def tables(conn: connection) -> list[tuple[int, str, str]]:
    """(oid, schema, table) of every ordinary and partitioned table outside the system schemas."""
    with conn.cursor() as cur:
        cur.execute(_TABLES)
        return [(int(oid), str(s), str(t)) for oid, s, t in cur.fetchall()]


def table(conn: connection, oid: int, schema_name: str, table_name: str) -> CatalogTable:
    with conn.cursor() as cur:
        cur.execute(_COLUMNS, (oid,))
        columns = tuple(
            CatalogColumn(str(n), int(t), int(m), bool(nn), None if d is None else str(d))
            for n, t, m, nn, d in cur.fetchall()
        )
        cur.execute(_PRIMARY_KEY, (oid,))
        pk = tuple(str(r[0]) for r in cur.fetchall())
    return CatalogTable(oid, schema_name, table_name, columns, pk)


def load_types(conn: connection, oids: Iterable[int], known: dict[int, PgType]) -> None:
    """Add to `known` the catalog's entries for `oids` and, transitively, their element and base
    types."""
    wanted = [o for o in catalog_oids_needed(list(oids)) if o not in known]
    with conn.cursor() as cur:
        while wanted:
            cur.execute(_TYPES, (wanted,))
            found: list[int] = []
            for oid, name, kind, elem, base, labels in cur.fetchall():
                t = PgType(int(oid), str(name), str(kind), int(elem), int(base), tuple(labels))
                known[t.oid] = t
                found.extend(o for o in (t.element_oid, t.base_oid) if o)
            wanted = [o for o in catalog_oids_needed(found) if o not in known]


_QUOTED = re.compile(r"^'((?:[^']|'')*)'(?:::[\w .\"]+(?:\[\])?)?$")
_NUMBER = re.compile(r"^\(?(-?\d+(?:\.\d+)?)\)?(?:::[\w .\"]+)?$")


def default_literal(expr: str | None) -> str | None:
    """The text of a constant default (`'abc'::text`, `42`, `true`); None for an expression
    (`nextval(...)`, `now()`), whose value the catalog cannot tell."""
    if expr is None:
        return None
    m = _QUOTED.match(expr)
    if m:
        return m.group(1).replace("''", "'")
    m = _NUMBER.match(expr)
    if m:
        return m.group(1)
    if expr in ("true", "false"):
        return expr[0]
    return None
