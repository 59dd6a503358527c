"""DataGen: a deterministic record generator for demos, tests and benchmarks.

Invariants:

- **Content is a pure function of (seed, schema, seq).** A restarted task regenerates exactly the
  records it made before, and two connectors with the same seed make the same data. The text lines
  come from a pool of precomputed bodies, so making one costs a string format, not a random draw.
- **Sequence numbers are global, dealt out in blocks to a fixed set of slots.** The seqs are cut
  into blocks of `BLOCK` consecutive seqs, and block b belongs to slot b % `SLOTS`, whatever
  `tasks.max` is. Each slot is a source partition, `{"datagen.slot": q}`, whose offset
  `{"seq": s}` is the last seq made in it; a slot's seqs are made in order. With n tasks, task i
  owns the slots i, i+n, i+2n, ... (so at most `SLOTS` tasks run). All tasks together make each
  seq once, and `max.records = T` makes exactly the seqs 0..T-1; a test that collects the records
  proves nothing was lost or repeated by checking that set.
- **Changing `tasks.max` moves whole slots between tasks** and changes nothing else: the new
  owner of a slot continues after the slot's committed seq, so nothing already made is made
  again and nothing is skipped, however often the count grows or shrinks. (Keying the offsets by
  task, as this connector first did, cannot do that: task i's stride depends on the count.)
- **Every record says its seq**: as the `seq` field of a struct, at the start of a text line
  (`seq=000000123 ...`), and as its key (a STRING). Keys are unique across tasks.
- **Offsets of the earlier layout stay readable.** Before slots, task i of n made seq i, i+n, ...
  and committed `{"seq": s}` under `{"datagen.task": i}`. Those offsets are still read: a seq
  such a task made is never made again (`LegacyLanes`). The count n they were made with is taken
  to be the current task count when their seqs fit it, else one more than the highest task index
  found; offsets that fit neither fail the task with a message saying so.
- **A task makes the lowest seq its slots have left first**, a block's run at a time: with one
  task the seqs come out in order, 0, 1, 2, ..., and a run shares one source partition, so the
  runtime's per-partition offset bookkeeping runs once per run, not once per record.
- **Throttling** (`records.per.second`, split across tasks by the slots they own) is a token
  bucket refilled from the monotonic clock. Fractions of a token carry over, so the long-run rate
  does not drift, and `poll` waits once per batch, never per record.
- **`stop()` is prompt.** Every wait is on the stop `Event`; a task whose share is done waits there
  and returns nothing, without spinning.
"""

from __future__ import annotations

import functools
import heapq
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import ClassVar, Literal, Self

from pydantic import Field, field_validator, model_validator

from kconnect.api.config import ConnectorConfig
from kconnect.api.connector import ExactlyOnceSupport, SourceConnector
from kconnect.api.records import SourceRecord
from kconnect.api.task import SourceTask
from kconnect.api.types import SourceOffset, SourcePartition
from kconnect.data import logical
from kconnect.data.schema import Schema, SchemaBuilder, Struct
from kconnect.errors import ConnectError

TASK_FIELD = "datagen.task"
"""The source partition's key in offsets of the earlier, per-task layout (read, never written)."""
SLOT_FIELD = "datagen.slot"
SEQ_FIELD = "seq"
TASK_INDEX_CONFIG = "datagen.task.index"
TASK_COUNT_CONFIG = "datagen.task.count"

SchemaName = Literal["text", "users", "orders", "customers"]


class DataGenConfig(ConnectorConfig):
    topic: str = Field(
        description="The topic to publish data to",
        json_schema_extra={"importance": "HIGH", "display_name": "Topic"},
    )
    schema_name: SchemaName = Field(
        "text",
        alias="schema",
        description=(
            "What records look like. 'text': a STRING line of about 100 bytes that starts with "
            "'seq=<sequence number>'. 'users', 'orders' and 'customers': STRUCT records with "
            "typed fields and a 'seq' field; 'orders' has a Decimal price and a Timestamp; "
            "'customers' has what schema-registry formats map specially (an enum, a nested and "
            "an optional struct, an array, a map, bytes, Decimal, Date, Timestamp, docs and "
            "defaults)."
        ),
        json_schema_extra={"importance": "HIGH", "display_name": "Schema"},
    )
    seed: int = Field(
        0,
        description=(
            "Seed of the generator. The same seed, schema and sequence number always give the "
            "same record."
        ),
        json_schema_extra={"importance": "MEDIUM", "display_name": "Seed", "type": "LONG"},
    )
    max_records: int = Field(
        -1,
        alias="max.records",
        ge=-1,
        description=(
            "Total number of records to generate across all tasks; -1 for no limit. Each task "
            "makes its share, and then stays idle."
        ),
        json_schema_extra={"importance": "MEDIUM", "display_name": "Max records", "type": "LONG"},
    )
    records_per_second: float = Field(
        0.0,
        alias="records.per.second",
        ge=0,
        allow_inf_nan=False,
        description=(
            "Total rate across all tasks, in records per second; 0 for as fast as possible. The "
            "rate is split across tasks by the share of the 360 slots each owns (evenly when "
            "tasks.max divides 360)."
        ),
        json_schema_extra={"importance": "MEDIUM", "display_name": "Records per second"},
    )
    batch_size: int = Field(
        1000,
        alias="batch.size",
        ge=1,
        description="The maximum number of records a task returns from one poll",
        json_schema_extra={"importance": "LOW", "display_name": "Batch size"},
    )

    @field_validator("topic")
    @classmethod
    def _non_empty_topic(cls, value: str) -> str:
        if not value:
            raise ValueError("expected a non-empty topic name")
        return value


class DataGenTaskConfig(DataGenConfig):
    """A task's config: the connector's, plus which of how many tasks it is."""

    task_index: int = Field(0, alias=TASK_INDEX_CONFIG, ge=0)
    task_count: int = Field(1, alias=TASK_COUNT_CONFIG, ge=1)

    @model_validator(mode="after")
    def _index_below_count(self) -> Self:
        if self.task_index >= self.task_count:
            raise ValueError(
                f"'{TASK_INDEX_CONFIG}'={self.task_index} must be below "
                f"'{TASK_COUNT_CONFIG}'={self.task_count}"
            )
        return self


# --- the work split -------------------------------------------------------------------------

SLOTS = 360
"""How many slots the seqs are dealt into: the most tasks DataGen runs. 360 has many divisors, so
most task counts get equal numbers of slots."""
BLOCK = 100
"""Consecutive seqs in one block. A task makes a block's seqs as one run under one source
partition; block b belongs to slot b % SLOTS."""
_ROUND = SLOTS * BLOCK


def slot_of(seq: int) -> int:
    """The slot seq belongs to."""
    return seq // BLOCK % SLOTS


def task_slots(tasks: int, index: int) -> range:
    """The slots task `index` of `tasks` owns."""
    return range(index, SLOTS, tasks)


def slot_seq_from(slot: int, seq: int) -> int:
    """The first seq of `slot` at or after `seq`."""
    block = seq // BLOCK
    if block % SLOTS == slot:
        return seq
    return (block + (slot - block) % SLOTS) * BLOCK


def slot_share(total: int, slot: int) -> int:
    """How many of the seqs below `total` belong to `slot`."""
    rounds, rest = divmod(total, _ROUND)
    return rounds * BLOCK + min(BLOCK, max(0, rest - slot * BLOCK))


def task_share(total: int, tasks: int, index: int) -> int:
    """How many of `total` records task `index` of `tasks` makes (-1: no limit)."""
    if total < 0:
        return -1
    return sum(slot_share(total, q) for q in task_slots(tasks, index))


def seq_from_offset(offset: SourceOffset | None, where: str) -> int | None:
    """The last seq committed under a source partition (`where` names it in the error)."""
    if offset is None:
        return None
    seq = offset.get(SEQ_FIELD)
    if seq is None:
        return None
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise ConnectError(
            f"The committed offset of DataGen {where} has '{SEQ_FIELD}'={seq!r}; "
            "expected a non-negative integer"
        )
    return seq


def validate_offsets(offsets: Sequence[tuple[SourcePartition, SourceOffset | None]]) -> bool:
    """May these offsets be written (`PATCH /connectors/{c}/offsets`)? Raises `ConnectError`
    naming what a task would fail on: a partition that is neither a slot (`datagen.slot`, 0 to
    `SLOTS`-1) nor a task of the earlier layout (`datagen.task`, 0 or more), or a `seq` that is
    not a non-negative integer. A tombstone is always allowed, as Java's FileStreamSource allows
    it, so that any partition can be cleaned up. True: DataGen keeps no position but these."""
    for partition, offset in offsets:
        if offset is None:
            continue
        slot, lane = partition.get(SLOT_FIELD), partition.get(TASK_FIELD)
        if SLOT_FIELD in partition:
            if isinstance(slot, bool) or not isinstance(slot, int) or not 0 <= slot < SLOTS:
                raise ConnectError(
                    f"The value for the '{SLOT_FIELD}' key in the partition is expected to be an "
                    f"integer from 0 to {SLOTS - 1}, not {slot!r}"
                )
        elif TASK_FIELD in partition:
            if isinstance(lane, bool) or not isinstance(lane, int) or lane < 0:
                raise ConnectError(
                    f"The value for the '{TASK_FIELD}' key in the partition is expected to be a "
                    f"non-negative integer, not {lane!r}"
                )
        else:
            raise ConnectError(
                f"Partition objects should contain the key '{SLOT_FIELD}' (or '{TASK_FIELD}', "
                f"of the earlier layout); got {partition!r}"
            )
        if SEQ_FIELD not in offset:
            raise ConnectError(
                f"Offset objects should either be null or contain the key '{SEQ_FIELD}'"
            )
        seq = offset[SEQ_FIELD]
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
            raise ConnectError(
                f"The value for the '{SEQ_FIELD}' key in the offset is expected to be a "
                f"non-negative integer, not {seq!r}"
            )
    return True


def next_seq(slot: int, committed: int | None) -> int:
    """The first seq `slot` makes after its committed seq (None: nothing made yet)."""
    return slot * BLOCK if committed is None else slot_seq_from(slot, committed + 1)


@dataclass(frozen=True, slots=True)
class LegacyLanes:
    """What the earlier, per-task layout made: lane i of `tasks` made i, i+tasks, ... up to
    `last[i]` (None: nothing). Every seq up to `low` was made, none after `high`."""

    tasks: int
    last: tuple[int | None, ...]

    @property
    def low(self) -> int:
        return min(-1 if s is None else s for s in self.last) if self.last else -1

    @property
    def high(self) -> int:
        return max(-1 if s is None else s for s in self.last) if self.last else -1

    def made(self, seq: int) -> bool:
        lane = seq % self.tasks
        last = self.last[lane] if lane < len(self.last) else None
        return last is not None and seq <= last

    def first_unmade(self, slot: int, seq: int) -> int:
        """The first seq of `slot` at or after `seq` (one of the slot's) not made already;
        None of the seqs after `high` was."""
        seq = slot_seq_from(slot, max(seq, self.low + 1))
        while seq <= self.high and self.made(seq):
            seq = slot_seq_from(slot, seq + 1)
        return seq


def legacy_lanes(found: Mapping[int, int], tasks_now: int) -> LegacyLanes | None:
    """The earlier layout, from the last seqs found under `{"datagen.task": i}` by lane i."""
    if not found:
        return None
    top = max(found) + 1
    counts = tuple(dict.fromkeys((tasks_now, top)))
    for tasks in counts:
        if top <= tasks and all(seq % tasks == lane for lane, seq in found.items()):
            return LegacyLanes(tasks, tuple(found.get(i) for i in range(tasks)))
    shown = ", ".join(f"task {lane}: seq {seq}" for lane, seq in sorted(found.items()))
    tried = " or ".join(str(n) for n in counts)
    raise ConnectError(
        f"DataGen offsets of the earlier per-task layout ({shown}) were not made by {tried} "
        "tasks (task i of n makes the seqs i, i+n, ...), so what they made cannot be told; "
        "reset the connector's offsets (DELETE /connectors/<name>/offsets while it is STOPPED) "
        "to start again from seq 0"
    )


# --- throttling -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenBucket:
    """Records allowed so far: `rate` per second, at most `capacity` saved up.

    `tokens` is what was there at monotonic time `updated`. Tokens are floats, so the fraction
    left after a take counts towards the next one and the long-run rate is exactly `rate`.
    """

    rate: float
    capacity: float
    tokens: float
    updated: float

    @classmethod
    def full(cls, rate: float, capacity: float, now: float) -> TokenBucket:
        return cls(rate, capacity, capacity, now)

    def take(self, now: float, wanted: int) -> tuple[int, TokenBucket]:
        """As many whole tokens as there are at `now`, up to `wanted`, and the bucket after."""
        tokens = min(self.capacity, self.tokens + max(0.0, now - self.updated) * self.rate)
        granted = min(wanted, int(tokens))
        return granted, replace(self, tokens=tokens - granted, updated=now)

    def wait_for(self, count: int) -> float:
        """Seconds after `updated` until `count` tokens are there (0 when they already are)."""
        return max(0.0, (min(count, self.capacity) - self.tokens) / self.rate)


def bucket_capacity(rate: float, batch_size: int) -> float:
    """A tenth of a second's worth of records, at least one and at most a batch.

    Small enough that a throttled task sends roughly even bursts, ten a second at most; large
    enough that a fast one fills whole batches.
    """
    return max(1.0, min(float(batch_size), rate / 10))


# --- record content -------------------------------------------------------------------------

_WORDS = (
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
    "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
    "uniform", "victor", "whiskey", "xray", "yankee", "zulu", "kafka", "connect", "stream",
    "record", "topic", "offset", "partition", "broker", "schema", "struct", "source", "sink",
    "task", "worker", "cluster", "replica", "leader", "commit", "batch", "queue",
)  # fmt: skip
_FIRST_NAMES = (
    "Ada", "Alan", "Barbara", "Claude", "Dennis", "Edsger", "Frances", "Grace", "Hedy", "Ivan",
    "John", "Ken", "Leslie", "Margaret", "Niklaus", "Radia", "Shafi", "Tim", "Barbara", "Donald",
)  # fmt: skip
_LAST_NAMES = (
    "Lovelace", "Turing", "Liskov", "Shannon", "Ritchie", "Dijkstra", "Allen", "Hopper",
    "Lamarr", "Sutherland", "McCarthy", "Thompson", "Lamport", "Hamilton", "Wirth", "Perlman",
    "Goldwasser", "Berners-Lee", "Knuth", "Kernighan",
)  # fmt: skip
_COUNTRIES = ("BE", "BR", "CA", "DE", "FR", "GB", "IN", "JP", "NG", "NL", "US", "ZA")
_PRODUCTS = (
    "keyboard", "mouse", "monitor", "laptop", "headset", "webcam", "dock", "cable", "chair",
    "desk", "lamp", "microphone",
)  # fmt: skip

_TEXT_BODY_CHARS = 86  # with "seq=000000000 " in front, a line of 100 bytes
_TEXT_POOL_SIZE = 1021  # prime, so that any task stride walks through all of the pool
_TEXT_POOL_STEP = 7919
_MASK64 = (1 << 64) - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_BASE_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z: generated times start there


@functools.lru_cache(maxsize=16)
def _text_pool(seed: int) -> tuple[str, ...]:
    rng = random.Random(seed)
    bodies = []
    for _ in range(_TEXT_POOL_SIZE):
        words: list[str] = []
        length = -1
        while length < _TEXT_BODY_CHARS:
            word = rng.choice(_WORDS)
            words.append(word)
            length += len(word) + 1
        bodies.append(" ".join(words)[:_TEXT_BODY_CHARS])
    return tuple(bodies)


def text_value(seed: int, seq: int) -> str:
    """The `text` record of `seq`: `seq=000000123 ` and a body, 100 ASCII bytes in all."""
    pool = _text_pool(seed)
    return "seq=%09d %s" % (seq, pool[seq * _TEXT_POOL_STEP % _TEXT_POOL_SIZE])  # noqa: UP031


def mix(seed: int, seq: int) -> int:
    """64 well-mixed bits from (seed, seq): SplitMix64's finaliser over both."""
    z = (seed * 0x9E3779B97F4A7C15 + (seq + 1) * 0xD1B54A32D192ED03) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def _timestamp(millis: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=millis)


@functools.cache
def users_schema() -> Schema:
    """The value schema of `users` records."""
    return (
        SchemaBuilder.struct()
        .name("kconnect.datagen.User")
        .field("seq", Schema.INT64)
        .field("user_id", Schema.STRING)
        .field("name", Schema.STRING)
        .field("email", Schema.STRING)
        .field("age", Schema.INT32)
        .field("country", Schema.OPTIONAL_STRING)
        .field("active", Schema.BOOLEAN)
        .field("registered_at", logical.Timestamp.builder().build())
        .build()
    )


@functools.cache
def orders_schema() -> Schema:
    """The value schema of `orders` records."""
    return (
        SchemaBuilder.struct()
        .name("kconnect.datagen.Order")
        .field("seq", Schema.INT64)
        .field("order_id", Schema.STRING)
        .field("user_id", Schema.STRING)
        .field("product", Schema.STRING)
        .field("quantity", Schema.INT32)
        .field("price", logical.Decimal.schema(2))
        .field("ordered_at", logical.Timestamp.builder().build())
        .build()
    )


CUSTOMER_TIERS = ("BRONZE", "SILVER", "GOLD", "PLATINUM")
ENUM_PARAMETER = "io.confluent.connect.avro.Enum"
"""The parameter by which Confluent's converters know a STRING schema as an enum (and its symbols
as `<parameter>.<symbol>`): with it, the `tier` field registers as an Avro enum."""


@functools.cache
def address_schema() -> Schema:
    """The schema of a customer's `address`."""
    return (
        SchemaBuilder.struct()
        .name("kconnect.datagen.Address")
        .field("street", Schema.STRING)
        .field("city", Schema.STRING)
        .field("postcode", Schema.OPTIONAL_STRING)
        .field("country", Schema.STRING)
        .build()
    )


@functools.cache
def customers_schema() -> Schema:
    """The value schema of `customers` records: every shape a registry format maps specially."""
    tier = SchemaBuilder.string().parameter(ENUM_PARAMETER, "kconnect.datagen.Tier")
    for symbol in CUSTOMER_TIERS:
        tier.parameter(f"{ENUM_PARAMETER}.{symbol}", symbol)
    return (
        SchemaBuilder.struct()
        .name("kconnect.datagen.Customer")
        .version(1)
        .doc("A customer, as kconnect's DataGen makes them")
        .field("seq", Schema.INT64)
        .field(
            "customer_id",
            SchemaBuilder.string().doc("customer-<seq>, unique across tasks").build(),
        )
        .field("name", Schema.STRING)
        .field("tier", tier.default_value("BRONZE").build())
        .field("address", address_schema())
        .field(
            "billing_address",
            SchemaBuilder.of(address_schema()).optional().build(),
        )
        .field("tags", SchemaBuilder.array(Schema.STRING).build())
        .field("visits", SchemaBuilder.map(Schema.STRING, Schema.INT32).build())
        .field("credit_limit", logical.Decimal.schema(2))
        .field("birth_date", logical.Date.builder().build())
        .field("last_seen", logical.Timestamp.builder().optional().build())
        .field("avatar", Schema.OPTIONAL_BYTES)
        .field("newsletter", SchemaBuilder.bool().default_value(False).build())
        .build()
    )


_TAGS = ("new", "loyal", "wholesale", "returning", "vip", "trial")
_CHANNELS = ("web", "mobile", "store")


def customer_value(seed: int, seq: int) -> Struct:
    """The `customers` record of `seq`."""
    h = mix(seed, seq)
    first = _FIRST_NAMES[h % len(_FIRST_NAMES)]
    last = _LAST_NAMES[(h >> 8) % len(_LAST_NAMES)]
    country = _COUNTRIES[(h >> 12) % len(_COUNTRIES)]
    address = (
        Struct(address_schema())
        .put("street", f"{1 + (h >> 16) % 200} {last} Street")
        .put("city", f"{first}ville")
        .put("postcode", None if (h >> 24) % 5 == 0 else f"{(h >> 28) % 100_000:05d}")
        .put("country", country)
    )
    billing = None if (h >> 32) % 3 else address
    ntags = (h >> 34) % 3
    tags = [_TAGS[(h >> (36 + 3 * i)) % len(_TAGS)] for i in range(ntags)]
    visits = {c: (h >> (44 + 4 * i)) % 16 for i, c in enumerate(_CHANNELS) if (h >> (56 + i)) & 1}
    born_days = 3_650 + (h >> 20) % 18_250  # 1980 .. 2019
    return (
        Struct(customers_schema())
        .put("seq", seq)
        .put("customer_id", f"customer-{seq:09d}")
        .put("name", f"{first} {last}")
        .put("tier", CUSTOMER_TIERS[(h >> 60) % len(CUSTOMER_TIERS)])
        .put("address", address)
        .put("billing_address", billing)
        .put("tags", tags)
        .put("visits", visits)
        .put("credit_limit", Decimal((h >> 40) % 1_000_000).scaleb(-2))
        .put("birth_date", (_EPOCH + timedelta(days=born_days)).date())
        .put("last_seen", None if (h >> 62) & 1 else _timestamp(_BASE_MS + seq * 60_000))
        .put("avatar", None if (h >> 63) & 1 else h.to_bytes(8, "big"))
        .put("newsletter", bool((h >> 59) & 1))
    )


def user_value(seed: int, seq: int) -> Struct:
    """The `users` record of `seq`."""
    h = mix(seed, seq)
    first = _FIRST_NAMES[h % len(_FIRST_NAMES)]
    last = _LAST_NAMES[(h >> 8) % len(_LAST_NAMES)]
    country = None if (h >> 16) % 10 == 0 else _COUNTRIES[(h >> 20) % len(_COUNTRIES)]
    registered_ms = _BASE_MS - (h >> 24) % (3 * 365 * 86_400_000)
    return (
        Struct(users_schema())
        .put("seq", seq)
        .put("user_id", f"user-{seq:09d}")
        .put("name", f"{first} {last}")
        .put("email", f"{first}.{last}.{seq}@example.com".lower())
        .put("age", 18 + (h >> 56) % 63)
        .put("country", country)
        .put("active", (h >> 63) == 0)
        .put("registered_at", _timestamp(registered_ms))
    )


def order_value(seed: int, seq: int) -> Struct:
    """The `orders` record of `seq`: one order a second from 2024-01-01, give or take."""
    h = mix(seed, seq)
    cents = 99 + h % 99_901  # 0.99 .. 999.99
    return (
        Struct(orders_schema())
        .put("seq", seq)
        .put("order_id", f"order-{seq:09d}")
        .put("user_id", f"user-{(h >> 20) % 100_000:09d}")
        .put("product", _PRODUCTS[(h >> 40) % len(_PRODUCTS)])
        .put("quantity", 1 + (h >> 48) % 10)
        .put("price", Decimal(cents).scaleb(-2))
        .put("ordered_at", _timestamp(_BASE_MS + seq * 1000 + (h >> 52) % 1000))
    )


_STRUCT_KINDS: dict[str, tuple[Callable[[], Schema], Callable[[int, int], Struct]]] = {
    "users": (users_schema, user_value),
    "orders": (orders_schema, order_value),
    "customers": (customers_schema, customer_value),
}


def value_schema(schema_name: SchemaName) -> Schema:
    """The value schema of records of `schema_name`."""
    if schema_name == "text":
        return Schema.STRING
    return _STRUCT_KINDS[schema_name][0]()


def record_value(schema_name: SchemaName, seed: int, seq: int) -> str | Struct:
    """The value of record `seq`: what a task makes for it, every time."""
    if schema_name == "text":
        return text_value(seed, seq)
    return _STRUCT_KINDS[schema_name][1](seed, seq)


# --- connector and task ---------------------------------------------------------------------


class DataGenConnector(SourceConnector):
    """Generates records; up to `tasks.max` tasks (at most `SLOTS`) share the slots."""

    config_model = DataGenConfig

    def __init__(self) -> None:
        self._props: dict[str, str] = {}

    def start(self, props: Mapping[str, str]) -> None:
        DataGenConfig.parse(props)
        self._props = dict(props)

    def task_class(self) -> type[DataGenTask]:
        return DataGenTask

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        tasks = min(max_tasks, SLOTS)
        return [
            {**self._props, TASK_INDEX_CONFIG: str(i), TASK_COUNT_CONFIG: str(tasks)}
            for i in range(tasks)
        ]

    def exactly_once_support(self, config: Mapping[str, str]) -> ExactlyOnceSupport:
        # A slot's offset is the last seq made in it, and a record is a pure function of its
        # seq: a task resumed from a committed offset makes exactly what was not committed.
        return ExactlyOnceSupport.SUPPORTED

    def alter_offsets(
        self,
        connector_config: Mapping[str, str],
        offsets: Sequence[tuple[SourcePartition, SourceOffset | None]],
    ) -> bool:
        """Refuse what a task would fail on (`validate_offsets`); else True: the framework's
        offsets are DataGen's whole position, as FileStreamSource's are (Java's answers True)."""
        DataGenConfig.parse(connector_config)
        return validate_offsets(offsets)


class DataGenTask(SourceTask):
    """Makes the seqs of its slots, a block's run at a time, lowest first; throttled when asked."""

    idle_wait_s: ClassVar[float] = 0.5
    """How long `poll` waits before returning nothing when the task's share is done."""
    max_throttle_wait_s: ClassVar[float] = 1.0

    def __init__(self) -> None:
        self._stopping = threading.Event()
        self._topic = ""
        self._schema_name: SchemaName = "text"
        self._seed = 0
        self._batch_size = 1000
        self._limit: int | None = None
        self._bucket: TokenBucket | None = None
        self._legacy: LegacyLanes | None = None
        # (next seq, slot) of every slot with seqs left to make, lowest seq first.
        self._heap: list[tuple[int, int]] = []
        self._partitions: dict[int, SourcePartition] = {}

    def start(self, props: Mapping[str, str]) -> None:
        config = DataGenTaskConfig.parse(props)
        self._topic = config.topic
        self._schema_name = config.schema_name
        self._seed = config.seed
        self._batch_size = config.batch_size
        self._limit = config.max_records if config.max_records >= 0 else None
        slots = task_slots(config.task_count, config.task_index)
        reader = self.context.offset_storage_reader
        self._legacy = self._read_legacy(config.task_count)
        self._partitions = {q: {SLOT_FIELD: q} for q in slots}
        stored = reader.offsets(list(self._partitions.values()))
        self._heap = []
        for q, (_, offset) in zip(slots, stored, strict=True):
            committed = seq_from_offset(offset, f"slot {q}")
            self._heap.append((self._unmade(q, next_seq(q, committed)), q))
        heapq.heapify(self._heap)
        rate = config.records_per_second * len(slots) / SLOTS
        self._bucket = (
            TokenBucket.full(rate, bucket_capacity(rate, self._batch_size), time.monotonic())
            if rate > 0
            else None
        )

    def _read_legacy(self, tasks_now: int) -> LegacyLanes | None:
        """The offsets of the earlier per-task layout: lanes 0.. up to the current count and
        then as long as there are more."""
        reader = self.context.offset_storage_reader
        found: dict[int, int] = {}
        lane = 0
        while True:
            seq = seq_from_offset(reader.offset({TASK_FIELD: lane}), f"task {lane}")
            if seq is None and lane >= tasks_now:
                break
            if seq is not None:
                found[lane] = seq
            lane += 1
        return legacy_lanes(found, tasks_now)

    def _unmade(self, slot: int, seq: int) -> int:
        """The first seq of `slot` from `seq` on that was not made already."""
        if self._legacy is None:
            return slot_seq_from(slot, seq)
        return self._legacy.first_unmade(slot, seq)

    def poll(self) -> list[SourceRecord] | None:
        if self._stopping.is_set():
            return None
        heap = self._heap
        limit = self._limit
        while heap and limit is not None and heap[0][0] >= limit:
            heapq.heappop(heap)  # this slot's share is done
        if not heap:
            self._stopping.wait(self.idle_wait_s)
            return None
        wanted = self._batch_size
        if self._bucket is not None:
            wanted = self._throttle(wanted)
            if wanted == 0:
                return None
        return self._make(wanted) or None

    def _make(self, wanted: int) -> list[SourceRecord]:
        """Up to `wanted` records: runs of the lowest slot's block, one slot at a time."""
        heap = self._heap
        limit = self._limit
        legacy = self._legacy
        out: list[SourceRecord] = []
        while heap and len(out) < wanted:
            seq, slot = heap[0]
            if limit is not None and seq >= limit:
                heapq.heappop(heap)
                continue
            end = min((seq // BLOCK + 1) * BLOCK, seq + wanted - len(out))
            if limit is not None:
                end = min(end, limit)
            seqs: range | list[int] = range(seq, end)
            if legacy is not None and seq <= legacy.high:
                seqs = [s for s in seqs if not legacy.made(s)]
            out += self._records(seqs, self._partitions[slot])
            heapq.heapreplace(heap, (self._unmade(slot, end), slot))
        return out

    def stop(self) -> None:
        self._stopping.set()

    def _throttle(self, wanted: int) -> int:
        """How many of `wanted` records the rate allows now, after at most one wait."""
        assert self._bucket is not None
        granted, self._bucket = self._bucket.take(time.monotonic(), wanted)
        if granted:
            return granted
        wait = self._bucket.wait_for(wanted)
        if self._stopping.wait(min(wait, self.max_throttle_wait_s)):
            return 0
        granted, self._bucket = self._bucket.take(time.monotonic(), wanted)
        return granted

    def _records(self, seqs: range | list[int], partition: SourcePartition) -> list[SourceRecord]:
        topic = self._topic
        key_schema = Schema.STRING
        if self._schema_name == "text":
            # `text_value`, inlined: this loop is the source side of the throughput benchmark,
            # and %-formatting is the fastest way CPython has to make these lines.
            pool = _text_pool(self._seed)
            step = _TEXT_POOL_STEP
            size = _TEXT_POOL_SIZE
            return [
                SourceRecord(
                    topic,
                    "seq=%09d %s" % (s, pool[s * step % size]),  # noqa: UP031
                    source_partition=partition,
                    source_offset={SEQ_FIELD: s},
                    value_schema=key_schema,
                    key=str(s),
                    key_schema=key_schema,
                )
                for s in seqs
            ]
        schema_of, make = _STRUCT_KINDS[self._schema_name]
        schema = schema_of()
        seed = self._seed
        return [
            SourceRecord(
                topic,
                make(seed, s),
                source_partition=partition,
                source_offset={SEQ_FIELD: s},
                value_schema=schema,
                key=str(s),
                key_schema=key_schema,
            )
            for s in seqs
        ]
