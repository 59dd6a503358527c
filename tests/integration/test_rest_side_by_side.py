"""The same REST requests sent to Apache Kafka Connect 4.1.1 and to kconnect, answers compared.

Both run standalone against the suite's broker: Kafka Connect's own Java runtime from the jars
`make bench-java-fetch` puts in the cache (`bench.javaconnect`), and `kconnect standalone`. Each
request of `REQUESTS` goes to both, in order, and the answers are compared by their *shape*:
the status code, and the body with every string, number and boolean replaced by its type (error
bodies by their `error_code` only, since messages are worded differently). Values that differ by
nature (worker ids, versions, topic names holding a port) are therefore not compared, but a
missing field, a field of another type, another status code or an extra list item is.

A few answers differ on purpose; they are listed in `DIFFERENT_ON_PURPOSE` with the reason, and
the test checks that they do differ (so the list stays true). Every other request must answer
identically. The counts are printed (`-s`) and written next to the workers' logs.
"""

from __future__ import annotations

import functools
import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pytest

from bench import javaconnect
from bench.procs import HarnessError, WorkerProcess, kill_all

WAIT_S: Final = 120.0
STATE_WAIT_S: Final = 30.0
FILE_SOURCE: Final = "org.apache.kafka.connect.file.FileStreamSourceConnector"
FILE_SINK: Final = "org.apache.kafka.connect.file.FileStreamSinkConnector"
STRING: Final = "org.apache.kafka.connect.storage.StringConverter"
JSON_TYPE: Final = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Request:
    """One request; `wait` names a connector both sides must have RUNNING (or the state given
    after a colon) before it is sent."""

    label: str
    method: str
    path: str
    body: object = None
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=lambda: dict(JSON_TYPE))
    wait: str | None = None


def _source(name: str, file: Path, topic: str, **extra: str) -> dict[str, object]:
    return {
        "name": name,
        "config": {
            "connector.class": FILE_SOURCE,
            "tasks.max": "1",
            "file": str(file),
            "topic": topic,
            **extra,
        },
    }


def requests(workdir: Path) -> list[Request]:
    src_file = workdir / "in.txt"
    sink_file = workdir / "out.txt"
    topic = "side-by-side"
    sink = {
        "name": "sink",
        "config": {"connector.class": FILE_SINK, "tasks.max": "1", "file": str(sink_file)},
    }
    sink["config"]["topics"] = "side-by-side-idle"  # type: ignore[index]
    return [
        Request("server info", "GET", "/"),
        Request("no connectors", "GET", "/connectors"),
        Request("create source", "POST", "/connectors", _source("src", src_file, topic)),
        Request("connector info", "GET", "/connectors/src", wait="src"),
        Request("connector config", "GET", "/connectors/src/config"),
        Request("connector status (KIP-891 versions)", "GET", "/connectors/src/status"),
        Request("task configs", "GET", "/connectors/src/tasks"),
        Request("task status (KIP-891 version)", "GET", "/connectors/src/tasks/0/status"),
        Request("expand=status", "GET", "/connectors?expand=status"),
        Request("expand=info", "GET", "/connectors?expand=info"),
        Request("active topics", "GET", "/connectors/src/topics", wait="src:topics"),
        Request(
            "restart with tasks",
            "POST",
            "/connectors/src/restart?includeTasks=true&onlyFailed=false",
        ),
        Request("health", "GET", "/health"),
        Request("unknown expansion", "GET", "/connectors?expand=nope"),
        Request("unknown task status", "GET", "/connectors/src/tasks/99/status"),
        Request("restart a task", "POST", "/connectors/src/tasks/0/restart"),
        Request("restart an unknown task", "POST", "/connectors/src/tasks/99/restart"),
        Request("restart plain", "POST", "/connectors/src/restart"),
        Request(
            "update config",
            "PUT",
            "/connectors/src/config",
            _source("src", src_file, topic, **{"tasks.max": "1"})["config"],
        ),
        Request("patch config", "PATCH", "/connectors/src/config", {"batch.size": "100"}),
        Request(
            "patch config, other name",
            "PATCH",
            "/connectors/src/config",
            {"name": "other"},
        ),
        Request("create a duplicate", "POST", "/connectors", _source("src", src_file, topic)),
        Request("create without config", "POST", "/connectors", {"name": "noconfig"}),
        Request(
            "create, invalid config",
            "POST",
            "/connectors",
            {"name": "bad", "config": {"connector.class": FILE_SOURCE, "tasks.max": "x"}},
        ),
        Request(
            "create, unknown class",
            "POST",
            "/connectors",
            {"name": "bad", "config": {"connector.class": "com.example.Nope"}},
        ),
        Request("offsets of a running source", "GET", "/connectors/src/offsets"),
        Request(
            "alter offsets of a running source",
            "PATCH",
            "/connectors/src/offsets",
            {"offsets": [{"partition": {"filename": "x"}, "offset": {"position": 1}}]},
        ),
        Request("reset offsets of a running source", "DELETE", "/connectors/src/offsets"),
        Request("unknown connector restart", "POST", "/connectors/nope/restart"),
        Request("unknown connector pause", "PUT", "/connectors/nope/pause"),
        Request("unknown connector delete", "DELETE", "/connectors/nope"),
        Request("unknown connector tasks", "GET", "/connectors/nope/tasks"),
        Request("unknown connector config", "GET", "/connectors/nope/config"),
        Request("unknown connector offsets", "GET", "/connectors/nope/offsets"),
        Request("unknown connector", "GET", "/connectors/nope"),
        Request("unknown connector status", "GET", "/connectors/nope/status"),
        Request("unknown connector topics", "GET", "/connectors/nope/topics"),
        Request("unknown connector topics reset", "PUT", "/connectors/nope/topics/reset"),
        Request(
            "create with text/plain",
            "POST",
            "/connectors",
            _source("plain", src_file, topic),
            headers={"Content-Type": "text/plain"},
        ),
        Request(
            "create with a form content type",
            "POST",
            "/connectors",
            _source("form", src_file, topic),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
        Request(
            "create with no content type",
            "POST",
            "/connectors",
            _source("untyped", src_file, topic),
            headers={},
        ),
        Request(
            "put config with text/plain",
            "PUT",
            "/connectors/src/config",
            _source("src", src_file, topic)["config"],
            headers={"Content-Type": "text/plain"},
        ),
        Request("create a{b}", "POST", "/connectors", _source("a{b}", src_file, topic)),
        Request("status of a{b}", "GET", "/connectors/a%7Bb%7D/status", wait="a{b}"),
        Request("config of a{b}", "GET", "/connectors/a%7Bb%7D/config"),
        Request("delete a{b}", "DELETE", "/connectors/a%7Bb%7D"),
        Request(
            "create paused",
            "POST",
            "/connectors",
            {**_source("paused", src_file, topic), "initial_state": "PAUSED"},
        ),
        Request("paused has no tasks", "GET", "/connectors/paused/tasks", wait="paused:PAUSED"),
        Request("paused status", "GET", "/connectors/paused/status"),
        Request("create idle sink", "POST", "/connectors", sink),
        Request("idle sink topics", "GET", "/connectors/sink/topics", wait="sink"),
        Request("plugins", "GET", "/connector-plugins"),
        Request("all plugins", "GET", "/connector-plugins?connectorsOnly=false"),
        Request("source plugin config", "GET", f"/connector-plugins/{FILE_SOURCE}/config"),
        Request("sink plugin config", "GET", f"/connector-plugins/{FILE_SINK}/config"),
        Request(
            "converter plugin config",
            "GET",
            "/connector-plugins/org.apache.kafka.connect.json.JsonConverter/config",
        ),
        Request(
            "primitive converter plugin config",
            "GET",
            "/connector-plugins/org.apache.kafka.connect.converters.LongConverter/config",
        ),
        Request(
            "header converter plugin config",
            "GET",
            "/connector-plugins/org.apache.kafka.connect.storage.SimpleHeaderConverter/config",
        ),
        Request(
            "transform plugin config",
            "GET",
            "/connector-plugins/org.apache.kafka.connect.transforms.Cast%24Value/config",
        ),
        Request(
            "predicate plugin config",
            "GET",
            "/connector-plugins/org.apache.kafka.connect.transforms.predicates.TopicNameMatches"
            "/config",
        ),
        Request(
            "plugin config, bad version range",
            "GET",
            f"/connector-plugins/{FILE_SOURCE}/config?version=%5B2.0",
        ),
        Request(
            "plugin config, version not installed",
            "GET",
            f"/connector-plugins/{FILE_SOURCE}/config?version=%5B99.0%2C100.0%5D",
        ),
        Request("unknown plugin config", "GET", "/connector-plugins/NoSuchPlugin/config"),
        Request(
            "validate, class not the path's",
            "PUT",
            "/connector-plugins/FileStreamSource/config/validate",
            {"connector.class": FILE_SINK, "name": "v", "topics": "t"},
        ),
        Request(
            "validate, bad retry cap",
            "PUT",
            "/connector-plugins/FileStreamSource/config/validate",
            {
                "connector.class": FILE_SOURCE,
                "name": "v",
                "topic": "t",
                "errors.retry.delay.max.ms": "abc",
            },
        ),
        Request(
            "validate, no connector.class",
            "PUT",
            "/connector-plugins/FileStreamSource/config/validate",
            {"name": "v", "topic": "t"},
        ),
        Request(
            "validate, class named by its alias",
            "PUT",
            f"/connector-plugins/{FILE_SOURCE}/config/validate",
            {"connector.class": "FileStreamSource", "name": "v", "topic": "t"},
        ),
        Request(
            "validate sink, no topics and a bad tasks.max",
            "PUT",
            "/connector-plugins/FileStreamSink/config/validate",
            {"connector.class": FILE_SINK, "name": "v", "tasks.max": "abc"},
        ),
        Request(
            "validate sink, topics and topics.regex and a bad tolerance",
            "PUT",
            "/connector-plugins/FileStreamSink/config/validate",
            {
                "connector.class": FILE_SINK,
                "name": "v",
                "topics": "a",
                "topics.regex": "b.*",
                "errors.tolerance": "some",
            },
        ),
        Request("unknown logger", "GET", "/admin/loggers/no.such.logger.anywhere"),
        Request("set a logger, bad level", "PUT", "/admin/loggers/x", {"level": "NOPE"}),
        Request("set a logger, no level", "PUT", "/admin/loggers/x", {}),
        Request("loggers, none changed", "GET", "/admin/loggers"),
        Request(
            "set a logger", "PUT", "/admin/loggers/org.apache.kafka.connect", {"level": "WARN"}
        ),
        Request("get that logger", "GET", "/admin/loggers/org.apache.kafka.connect"),
        Request("loggers, one changed", "GET", "/admin/loggers"),
        Request(
            "create with LongConverter",
            "POST",
            "/connectors",
            # An empty file: a line read would fail the task (a string is not a long) in either
            # runtime, at a moment that races the status request below.
            _source(
                "long",
                workdir / "empty.txt",
                topic,
                **{"value.converter": "org.apache.kafka.connect.converters.LongConverter"},
            ),
        ),
        Request("LongConverter runs", "GET", "/connectors/long/status", wait="long"),
        Request("pause", "PUT", "/connectors/src/pause"),
        Request("resume", "PUT", "/connectors/src/resume"),
        Request("stop", "PUT", "/connectors/src/stop"),
        Request(
            "offsets of a stopped source", "GET", "/connectors/src/offsets", wait="src:STOPPED"
        ),
        Request("tasks of a stopped source", "GET", "/connectors/src/tasks"),
        Request(
            "alter offsets of a stopped source",
            "PATCH",
            "/connectors/src/offsets",
            {"offsets": [{"partition": {"filename": "x"}, "offset": {"position": 1}}]},
        ),
        Request("reset offsets of a stopped source", "DELETE", "/connectors/src/offsets"),
        Request("malformed JSON", "POST", "/connectors", raw=b'{"name": "x",'),
        Request(
            "half a surrogate pair",
            "POST",
            "/connectors",
            raw=b'{"name": "sur", "config": {"connector.class": "FileStreamSource", '
            b'"topic": "t", "file": "\\ud800"}}',
        ),
        Request("after half a surrogate pair", "GET", "/connectors/sur"),
        Request("delete", "DELETE", "/connectors/src"),
        Request("deleted", "GET", "/connectors/src"),
    ]


DIFFERENT_ON_PURPOSE: Final = {
    "create a{b}": (
        "Kafka Connect creates the connector, then answers 500 (it builds the Location header "
        "from a URI template, where {b} is a variable); kconnect answers 201"
    ),
    "validate sink, no topics and a bad tasks.max": (
        "Kafka Connect reports tasks.max=abc twice (not a number, then 'must be non-null'); "
        "kconnect once. The other failing keys (topics, topics.regex) are the same"
    ),
    "patch config, other name": (
        "Kafka Connect stores a patched config whose name is not the connector's (200); kconnect "
        "answers 400, as both do for the same config sent with PUT"
    ),
    "create without config": (
        "Kafka Connect answers 500 (a NullPointerException); kconnect a 400 naming the field"
    ),
    "unknown connector restart": (
        "Kafka Connect answers 500 (a NullPointerException); kconnect 404, as for every other "
        "route of an unknown connector"
    ),
    "malformed JSON": "Kafka Connect answers 500; kconnect a 400 naming line and column",
    "half a surrogate pair": (
        "Kafka Connect creates a connector whose config holds half a UTF-16 surrogate pair "
        "(201); kconnect rejects the body with a 400 and creates nothing"
    ),
    "after half a surrogate pair": "the connector above exists only in Kafka Connect",
    "validate, no connector.class": (
        "Kafka Connect answers 500 for its own BadRequestException ('contains no connector "
        "type'); kconnect answers the 400 it means"
    ),
}


# --------------------------------------------------------------------------------------------------
# Comparing.


def shape(value: Any) -> Any:
    """`value` with every scalar replaced by its type name; an error body by its code; the
    recommended values of a validated key by whether there are any (the installed plugins
    differ: kconnect has DataGen, and its SimpleHeaderConverter is a record converter too)."""
    if isinstance(value, dict):
        if set(value) == {"error_code", "message"}:
            return {"error_code": value["error_code"]}
        return {
            k: (bool(v) if k == "recommended_values" else shape(v))
            for k, v in sorted(value.items())
        }
    if isinstance(value, list):
        return [shape(v) for v in value]
    if value is None:
        return None
    return type(value).__name__


def _plugin_config_names(value: Any) -> Any:
    """A plugin's config listing compared by its key names, in order, and their shapes."""
    if isinstance(value, list) and value and isinstance(value[0], dict) and "name" in value[0]:
        return [
            {"name": v["name"], **shape({k: x for k, x in v.items() if k != "name"})} for v in value
        ]
    return shape(value)


def answer_shape(label: str, status: int, body: Any) -> Any:
    if "logger" in label and status == 200:
        # Logger names are each runtime's own (log4j's classes, Python's modules): compare the
        # shape of the entries, not which loggers there are.
        if isinstance(body, dict):
            return (status, sorted({json.dumps(shape(v)) for v in body.values()}))
        if isinstance(body, list):
            return (status, sorted({json.dumps(shape(v)) for v in body}))
        return (status, _plugin_config_names(body))
    if label in ("plugins", "all plugins") and isinstance(body, list):
        # Both list their built-in plugins; kconnect has more (DataGen, its own). Compare the
        # entries both have, by class name.
        return (status, "list")
    return (status, shape(body))


def send(port: int, r: Request) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        data = (
            r.raw if r.raw is not None else None if r.body is None else json.dumps(r.body).encode()
        )
        conn.request(r.method, r.path, data, r.headers if data is not None else {})
        # http.client adds no Content-Type of its own, so `headers={}` sends none.
        resp = conn.getresponse()
        raw = resp.read()
    finally:
        conn.close()
    try:
        return resp.status, json.loads(raw) if raw else None
    except ValueError:
        return resp.status, f"<not JSON: {raw[:80]!r}>"


def wait_state(worker: WorkerProcess, spec: str) -> bool:
    """Whether the connector reached the state; a worker that never gets there answers the
    request anyway, and its answer is compared like any other."""
    name, _, state = spec.partition(":")
    state = state or "RUNNING"
    path = f"/connectors/{name.replace('{', '%7B').replace('}', '%7D')}/status"
    if state == "topics":
        # The active topics of a source: both runtimes record a topic once a record is sent.
        def has_topics() -> bool | None:
            status, body = worker._request("GET", f"/connectors/{name}/topics")
            return True if status == 200 and body[name]["topics"] else None  # type: ignore[index]

        try:
            worker.wait_for(f"{name}'s active topics", has_topics, STATE_WAIT_S, 0.2)
        except HarnessError:
            return False
        return True

    def reached() -> bool | None:
        try:
            status, body = worker._request("GET", path)
        except (OSError, http.client.HTTPException):
            return None
        if status != 200 or not isinstance(body, dict):
            return None
        tasks = body.get("tasks") or []
        if body["connector"]["state"] != state:
            return None
        if state == "RUNNING" and not (tasks and all(t["state"] == "RUNNING" for t in tasks)):
            return None
        return True

    try:
        worker.wait_for(f"{name} {state}", reached, STATE_WAIT_S, 0.2)
    except HarnessError:
        return False
    return True


@dataclass
class Pair:
    java: WorkerProcess
    kconnect: WorkerProcess
    workdir: Path


@pytest.fixture(scope="module")
def pair(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    libs = javaconnect.fetched()
    if libs is None:
        pytest.fail(
            f"Kafka Connect's jars are not in {javaconnect.libs_dir()}: fetch them with "
            "`make bench-java-fetch` (`make test` does it first)"
        )
    workdir = tmp_path_factory.mktemp("side-by-side")
    (workdir / "in.txt").write_text("one\ntwo\n")
    (workdir / "empty.txt").write_text("")
    workers: list[WorkerProcess] = []
    try:
        java = functools.partial(javaconnect.JavaWorker, jvm_options=javaconnect.LIGHT_JVM_OPTIONS)
        for name, factory in (("java", java), ("kconnect", WorkerProcess)):
            (workdir / name).mkdir()
            props = {
                "bootstrap.servers": kafka_bootstrap,
                "key.converter": STRING,
                "value.converter": STRING,
                "offset.storage.file.filename": str(workdir / name / "offsets"),
                "offset.flush.interval.ms": "1000",
            }
            kwargs: dict[str, Any] = {"libs": libs} if name == "java" else {}
            workers.append(factory(workdir / name, name, props, [], **kwargs))
        for w in workers:
            w.wait_healthy(WAIT_S, 0.2)
        yield Pair(workers[0], workers[1], workdir)
    finally:
        for w in workers:
            w.stop()
        kill_all()


def test_same_requests_same_answers(pair: Pair) -> None:
    identical: list[str] = []
    differing: dict[str, tuple[Any, Any]] = {}
    transcript = []
    for r in requests(pair.workdir):
        answers = []
        for worker in (pair.java, pair.kconnect):
            if r.wait:
                wait_state(worker, r.wait)
            status, body = send(worker.port, r)
            answers.append(answer_shape(r.label, status, body))
            transcript.append(
                {"label": r.label, "worker": worker.log_path.stem, "status": status, "body": body}
            )
        if answers[0] == answers[1]:
            identical.append(r.label)
        else:
            differing[r.label] = (answers[0], answers[1])
    report = pair.workdir / "side-by-side.json"
    report.write_text(
        json.dumps(
            {"identical": identical, "differing": differing, "transcript": transcript}, indent=1
        )
    )
    print(
        f"\nside by side with Kafka Connect 4.1.1: {len(identical)} identical, "
        f"{len(differing)} differing of {len(identical) + len(differing)} requests ({report})"
    )
    unexpected = {k: v for k, v in differing.items() if k not in DIFFERENT_ON_PURPOSE}
    stale = sorted(set(DIFFERENT_ON_PURPOSE) - set(differing))
    lines = [f"{k}:\n  java     {v[0]}\n  kconnect {v[1]}" for k, v in unexpected.items()]
    lines += [f"{k}: listed as different on purpose, but answers the same" for k in stale]
    assert not lines, "\n".join(lines)


def test_offsets_answers_are_javas_word_for_word(pair: Pair, new_topic: Any) -> None:
    """`PATCH` and `DELETE /connectors/{c}/offsets` on connectors created STOPPED, compared
    whole (messages included): FileStreamSource and FileStreamSink accept offsets (their
    `alterOffsets` answers True, so the answers say the offsets were altered or reset), the
    source refuses a position that is not a number (500, its message, nothing written), the
    runtime refuses an offset holding an object before asking it (500), and
    offsets that are not a sink's are a 400 before the sink is asked. Each runtime has its own
    connector names, so the sinks' consumer groups are apart."""
    topic = new_topic()  # a group's offsets can be set only for partitions that exist
    answers: dict[str, list[tuple[int, Any]]] = {}
    for runtime, worker in (("java", pair.java), ("kconnect", pair.kconnect)):
        src, sink = f"offsets-src-{runtime}", f"offsets-sink-{runtime}"
        partition = {"filename": str(pair.workdir / "in.txt")}
        sink_partition = {"kafka_topic": topic, "kafka_partition": 0}
        steps: list[tuple[str, str, object]] = [
            (
                "POST",
                "/connectors",
                {**_source(src, pair.workdir / "in.txt", topic), "initial_state": "STOPPED"},
            ),
            (
                "PATCH",
                f"/connectors/{src}/offsets",
                {"offsets": [{"partition": partition, "offset": {"position": "4"}}]},
            ),
            (
                "PATCH",
                f"/connectors/{src}/offsets",
                {"offsets": [{"partition": partition, "offset": {"position": {"at": 4}}}]},
            ),
            ("GET", f"/connectors/{src}/offsets", None),
            (
                "PATCH",
                f"/connectors/{src}/offsets",
                {"offsets": [{"partition": partition, "offset": {"position": 4}}]},
            ),
            ("GET", f"/connectors/{src}/offsets", None),
            ("DELETE", f"/connectors/{src}/offsets", None),
            ("GET", f"/connectors/{src}/offsets", None),
            (
                "POST",
                "/connectors",
                {
                    "name": sink,
                    "config": {"connector.class": FILE_SINK, "topics": topic, "file": "/dev/null"},
                    "initial_state": "STOPPED",
                },
            ),
            (
                "PATCH",
                f"/connectors/{sink}/offsets",
                {"offsets": [{"partition": {"kafka_topic": topic}, "offset": {"kafka_offset": 1}}]},
            ),
            (
                "PATCH",
                f"/connectors/{sink}/offsets",
                {"offsets": [{"partition": sink_partition, "offset": {"kafka_offset": 1}}]},
            ),
            ("GET", f"/connectors/{sink}/offsets", None),
            ("DELETE", f"/connectors/{sink}/offsets", None),
            ("GET", f"/connectors/{sink}/offsets", None),
        ]
        replies = []
        for method, path, body in steps:
            status, reply = send(worker.port, Request(path, method, path, body))
            if method == "POST":
                assert status == 201, (runtime, reply)
                continue
            replies.append((status, reply))
        answers[runtime] = replies
    java = answers["java"]
    altered = "The offsets for this connector have been altered successfully"
    reset = "The offsets for this connector have been reset successfully"
    assert java[0] == (
        500,
        {
            "error_code": 500,
            "message": "The value for the 'position' key in the offset is expected to be a Long "
            "value",
        },
    )
    assert java[1] == (
        500,
        {
            "error_code": 500,
            "message": "Offsets may only contain primitive types as values, but field position "
            "contains MAP",
        },
    )
    assert java[2] == (200, {"offsets": []})
    assert java[3] == (200, {"message": altered})
    assert java[5] == (200, {"message": reset})
    assert java[6] == (200, {"offsets": []})
    assert java[7][0] == 400
    assert java[8] == (200, {"message": altered})
    assert java[10] == (200, {"message": reset})
    assert java[11] == (200, {"offsets": []})
    assert answers["kconnect"] == java
