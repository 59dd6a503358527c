"""The Helm chart's files that must agree with the rest of the repository.

- `charts/kconnect/crds/` carries exactly the CRDs that `make crds` generates into `crds/` (Helm
  installs the chart's copies, so a stale copy would install an old schema).
- The chart's appVersion is the distribution's version (it is the default image tag).
- Every top-level key of `values.yaml` is declared in `values.schema.json`, which refuses unknown
  keys: a value documented but not declared would make the chart's own defaults invalid.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Final

REPO: Final = Path(__file__).resolve().parents[2]
CHART: Final = REPO / "charts" / "kconnect"


def test_chart_crds_equal_the_generated_crds() -> None:
    generated = {p.name: p.read_bytes() for p in sorted((REPO / "crds").glob("*.yaml"))}
    carried = {p.name: p.read_bytes() for p in sorted((CHART / "crds").glob("*.yaml"))}
    assert generated, "no CRDs in crds/"
    assert sorted(carried) == sorted(generated), "copy crds/*.yaml to charts/kconnect/crds/"
    stale = [name for name in generated if carried[name] != generated[name]]
    assert not stale, f"stale in charts/kconnect/crds/: {stale}; copy them from crds/"


def test_app_version_is_the_distribution_version() -> None:
    chart = (CHART / "Chart.yaml").read_text("utf-8")
    project = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]
    assert re.search(r'(?m)^appVersion: "?([^"\s]+)"?$', chart)[1] == project["version"]  # type: ignore[index]


def test_every_value_is_declared_in_the_schema() -> None:
    # values.yaml's top-level keys: unindented `key:` lines (comments aside).
    values = re.findall(r"(?m)^([A-Za-z]\w*):", (CHART / "values.yaml").read_text("utf-8"))
    schema = json.loads((CHART / "values.schema.json").read_text("utf-8"))
    assert schema["additionalProperties"] is False
    assert set(values) <= set(schema["properties"])
