"""The chart's alerting rules (`charts/kconnect/files/prometheus/kconnect-rules.yaml`) checked and
evaluated by Prometheus' own `promtool` (built once from the pinned Go module:
`kconnect_devenv.opstools`):

- `promtool check rules` accepts the file (PromQL parses, templates render, no duplicate);
- `promtool test rules` runs `prometheus/kconnect-rules-test.yaml` beside this file: each alert
  firing on series that should fire it and silent on ones that should not (a failure that
  recovers, a roll, a leader handover, a scaled-to-zero resource);
- every alert of the file has a test case, each both firing and not firing;
- a rule changed so that it no longer fires fails the unit tests (the tests can fail).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Final

import pytest
import yaml

from kconnect_devenv import opstools

pytestmark = pytest.mark.integration

REPO: Final = Path(__file__).resolve().parents[2]
RULES: Final = REPO / "charts" / "kconnect" / "files" / "prometheus" / "kconnect-rules.yaml"
UNIT_TESTS: Final = Path(__file__).with_name("prometheus") / "kconnect-rules-test.yaml"


@pytest.fixture(scope="module")
def promtool() -> Path:
    return opstools.build() / "promtool"


def run(promtool: Path, *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(promtool), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_promtool_accepts_the_rules(promtool: Path) -> None:
    result = run(promtool, "check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 6 rules found" in result.stdout + result.stderr


def test_the_unit_tests_pass(promtool: Path) -> None:
    result = run(promtool, "test", "rules", str(UNIT_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_is_tested_firing_and_silent() -> None:
    rules = yaml.safe_load(RULES.read_text("utf-8"))
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    cases: list[dict[str, Any]] = [
        case
        for test in yaml.safe_load(UNIT_TESTS.read_text("utf-8"))["tests"]
        for case in test["alert_rule_test"]
    ]
    firing = {c["alertname"] for c in cases if c.get("exp_alerts")}
    silent = {c["alertname"] for c in cases if not c.get("exp_alerts")}
    assert firing == alerts
    assert silent == alerts


def test_a_broken_rule_fails_the_unit_tests(promtool: Path, tmp_path: Path) -> None:
    """The unit tests can fail: the same tests against rules whose task alert waits an hour."""
    rules = RULES.read_text("utf-8")
    broken = rules.replace(
        'kconnect_connector_task_status{status="failed"}) == 1\n        for: 5m',
        'kconnect_connector_task_status{status="failed"}) == 1\n        for: 1h',
    )
    assert broken != rules
    (tmp_path / "rules.yaml").write_text(broken, "utf-8")
    tests = yaml.safe_load(UNIT_TESTS.read_text("utf-8"))
    tests["rule_files"] = ["rules.yaml"]
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests), "utf-8")
    result = run(promtool, "test", "rules", "tests.yaml", cwd=tmp_path)
    assert result.returncode != 0
    assert "KConnectTaskFailed" in result.stdout + result.stderr
