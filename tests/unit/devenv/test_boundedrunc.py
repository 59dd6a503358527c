"""The engine's runtime wrapper asks runc only for capabilities the bounding set holds."""

from __future__ import annotations

import json
from pathlib import Path

from kconnect_devenv import boundedrunc

STATUS = "Name:\tx\nCapBnd:\t000001fffeffffff\nCapAmb:\t0000000000000000\n"


def test_the_capabilities_missing_from_the_bounding_set_are_named() -> None:
    assert boundedrunc.missing_capabilities(STATUS) == {"CAP_SYS_RESOURCE"}
    assert boundedrunc.missing_capabilities("CapBnd:\t000001ffffffffff\n") == set()


def test_a_privileged_containers_spec_loses_only_what_is_missing(tmp_path: Path) -> None:
    everything = [f"CAP_{name}" for name in boundedrunc.CAPABILITIES]
    spec = {"process": {"capabilities": {"bounding": everything, "effective": ["CAP_CHOWN"]}}}
    (tmp_path / "config.json").write_text(json.dumps(spec))
    boundedrunc.bound(
        ["--root", "/r", "create", "--bundle", str(tmp_path), "id"], {"CAP_SYS_RESOURCE"}
    )
    written = json.loads((tmp_path / "config.json").read_text())["process"]["capabilities"]
    assert written["bounding"] == [c for c in everything if c != "CAP_SYS_RESOURCE"]
    assert written["effective"] == ["CAP_CHOWN"]


def test_an_exec_process_file_is_bounded_and_other_calls_are_untouched(tmp_path: Path) -> None:
    process = tmp_path / "process.json"
    process.write_text(
        json.dumps({"capabilities": {"permitted": ["CAP_SYS_RESOURCE", "CAP_KILL"]}})
    )
    boundedrunc.bound(["exec", "--process", str(process), "id"], {"CAP_SYS_RESOURCE"})
    assert json.loads(process.read_text())["capabilities"]["permitted"] == ["CAP_KILL"]
    assert boundedrunc.spec_file(["state", "id"]) is None
    assert boundedrunc.spec_file(["run", "-b", "/b", "id"]) == (Path("/b/config.json"), True)
