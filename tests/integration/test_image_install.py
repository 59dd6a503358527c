"""The Dockerfile read as Docker reads it, and the connector author's image built on the worker's.

The Dockerfile is parsed: its stages' bases, users, labels, and that build stages install only
from their hash-pinned locks, which must satisfy pyproject.toml. What the built images hold is
tested on the images themselves (test_images.py).

The connector author's three-line Dockerfile in docs/images.md runs on a venv made by the worker
build stage's RUN lines, run in order through ``/bin/sh -c`` as Docker runs them, from the
repository root (what ``COPY . .`` gives the build), with ``VIRTUAL_ENV`` and ``PATH`` pointing at
a temporary venv instead of ``/opt/kconnect/venv`` and ``python`` this interpreter's base Python
3.11, the image's. pip's cache is used (the image build turns it off), and find-links from this
machine's environment are dropped (the image has none). A tiny connector package's
``kconnect.plugins`` entry point must then be found.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
DOCS = REPO / "docs" / "images.md"
IMAGE_VENV = "/opt/kconnect/venv"
RUN_TIMEOUT_S = 480.0
CHECK_TIMEOUT_S = 60.0
# The worker stage, from a cold pip cache, downloads about 40 MB; warm, it takes half a minute.
pytestmark = pytest.mark.timeout(900)

IMAGES = {"worker": "build-worker", "operator": "build-operator"}  # image: its build stage
ENTRY_POINT = {"worker": "kconnect", "operator": "kconnect-operator"}
LOCKS = {image: REPO / image / "requirements.lock" for image in IMAGES}


# --------------------------------------------------------------------------------------------------
# Reading the Dockerfile and the locks.


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, ENV, ...
    args: str  # continuation lines joined with a space


def parse_dockerfile(text: str) -> dict[str, list[Instruction]]:
    """Instructions by stage name (``FROM x AS name``); ARGs before the first FROM go under ``""``.
    Comments, also inside continued lines, are dropped, as Docker drops them."""
    stages: dict[str, list[Instruction]] = {"": []}
    current = ""
    logical = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            logical += line[:-1].strip() + " "
            continue
        keyword, _, args = (logical + line).partition(" ")
        logical = ""
        instruction = Instruction(keyword.upper(), args.strip())
        if instruction.keyword == "FROM":
            match = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", instruction.args, re.IGNORECASE)
            assert match, f"unreadable FROM line: {instruction.args!r}"
            current = match.group(2) or f"stage-{len(stages)}"
            assert current not in stages, f"stage {current!r} is defined twice"
            stages[current] = []
        stages[current].append(instruction)
    assert not logical, "the Dockerfile ends inside a continued line"
    return stages


def dockerfile() -> dict[str, list[Instruction]]:
    return parse_dockerfile(DOCKERFILE.read_text("utf-8"))


def args_of(stage: list[Instruction], keyword: str) -> list[str]:
    return [i.args for i in stage if i.keyword == keyword]


def env_of(stage: list[Instruction]) -> dict[str, str]:
    """The stage's ENV settings, unexpanded (only the ``K=V`` form is used)."""
    env: dict[str, str] = {}
    for args in args_of(stage, "ENV"):
        for word in shlex.split(args):
            key, sep, value = word.partition("=")
            assert sep, f"ENV uses the `K=V` form: {args!r}"
            env[key] = value
    return env


def read_lock(path: Path) -> dict[str, tuple[str, list[str]]]:
    """``{name: (version, hashes)}`` of a pip-compile lock; names are normalized."""
    pins: dict[str, tuple[str, list[str]]] = {}
    text = re.sub(r"\\\n", " ", path.read_text("utf-8"))
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        requirement, *options = line.split(" --hash=")
        name, sep, version = requirement.strip().partition("==")
        assert sep, f"{path.name}: {requirement!r} is not pinned with =="
        pins[normalize(name)] = (version, [o.strip() for o in options])
    return pins


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def project_requirements(extra: str | None) -> list[Requirement]:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]
    found = [Requirement(r) for r in project["dependencies"]]
    if extra is not None:
        found += [Requirement(r) for r in project["optional-dependencies"][extra]]
    return found


# --------------------------------------------------------------------------------------------------
# Static checks: cheap, and they say what is wrong before a slow install would.


def test_images_share_a_slim_python_311_base_and_run_as_uid_1001() -> None:
    stages = dockerfile()
    global_args = dict(a.partition("=")[::2] for a in args_of(stages[""], "ARG"))
    assert global_args["PYTHON_IMAGE"] == "python:3.11-slim"
    assert args_of(stages["base"], "FROM") == ["${PYTHON_IMAGE} AS base"]
    base_env = env_of(stages["base"])
    assert base_env["VIRTUAL_ENV"] == IMAGE_VENV
    assert base_env["PATH"] == f"{IMAGE_VENV}/bin:$PATH"
    for image, build in IMAGES.items():
        final = stages[image]
        assert args_of(final, "FROM") == [f"base AS {image}"], "final images start from the base"
        assert args_of(final, "USER") == ["1001:1001"]
        assert any(f"--from={build}" in c and IMAGE_VENV in c for c in args_of(final, "COPY"))
        assert not args_of(final, "RUN"), "the final stage installs nothing: it only copies"
        assert args_of(final, "ENTRYPOINT") == [json.dumps([ENTRY_POINT[image]])]


def test_build_stages_start_from_a_build_base_that_requires_the_native_module() -> None:
    """The venv is built on BUILD_IMAGE (a compiler and the Python headers) and copied into
    PYTHON_IMAGE: the native module is compiled, and a build that cannot compile it fails."""
    stages = dockerfile()
    global_args = dict(a.partition("=")[::2] for a in args_of(stages[""], "ARG"))
    assert global_args["BUILD_IMAGE"] == "python:3.11", "python:3.11-slim has no compiler"
    assert args_of(stages["build-base"], "FROM") == ["${BUILD_IMAGE} AS build-base"]
    build_env = env_of(stages["build-base"])
    assert build_env["KCONNECT_NATIVE"] == "require"
    assert build_env["VIRTUAL_ENV"] == IMAGE_VENV
    for build in IMAGES.values():
        assert args_of(stages[build], "FROM") == [f"build-base AS {build}"]
    # The final stages start from the runtime base, so nothing of the build base is shipped.
    for image in IMAGES:
        assert args_of(stages[image], "FROM") == [f"base AS {image}"]
    assert "PIP_" not in " ".join(args_of(stages["base"], "ENV"))


def test_images_carry_oci_labels_with_version_and_revision_from_build_args() -> None:
    stages = dockerfile()
    for image in IMAGES:
        final = stages[image]
        labels = " ".join(args_of(final, "LABEL"))
        declared = {a.partition("=")[0] for a in args_of(final, "ARG")}
        assert {"VERSION", "REVISION"} <= declared
        assert 'org.opencontainers.image.version="${VERSION}"' in labels
        assert 'org.opencontainers.image.revision="${REVISION}"' in labels
        assert f'org.opencontainers.image.title="kconnect-{image}"' in labels
        for key in ("source", "licenses", "created", "base.name", "description"):
            assert f"org.opencontainers.image.{key}=" in labels


def test_build_stages_install_only_from_their_hash_pinned_lock() -> None:
    stages = dockerfile()
    for image, build in IMAGES.items():
        lock = LOCKS[image].relative_to(REPO).as_posix()
        runs = " && ".join(args_of(stages[build], "RUN"))
        assert f"--require-hashes --only-binary=:all: --no-deps -r {lock}" in runs
        assert "pip check" in runs
        assert IMAGE_VENV not in runs, (
            "RUN lines name the venv as $VIRTUAL_ENV (this test swaps it)"
        )
        # The lock is copied on its own first, so its layer is cached across source changes.
        assert args_of(stages[build], "COPY")[0] == f"{lock} {lock}"


@pytest.mark.parametrize("image", IMAGES)
def test_lock_pins_every_dependency_with_hashes_and_satisfies_pyproject(image: str) -> None:
    pins = read_lock(LOCKS[image])
    for name, (version, hashes) in pins.items():
        assert hashes, f"{name}=={version} has no --hash"
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), name
    for requirement in project_requirements("operator" if image == "operator" else None):
        name = normalize(requirement.name)
        assert name in pins, (
            f"{name} (pyproject.toml) is not in {LOCKS[image].name}: make image-lock"
        )
        assert requirement.specifier.contains(pins[name][0]), (
            f"{name}=={pins[name][0]} is outside pyproject's {requirement}: make image-lock"
        )
    assert "kopf" in pins if image == "operator" else "kopf" not in pins


def test_the_operator_lock_pins_the_workers_dependencies_alike() -> None:
    worker, operator = read_lock(LOCKS["worker"]), read_lock(LOCKS["operator"])
    assert {n: worker[n] for n in worker} == {n: operator.get(n) for n in worker}


# --------------------------------------------------------------------------------------------------
# The installs, for real.


def clean_env(venv: Path, python_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {"PIP_FIND_LINKS", "PIP_NO_CACHE_DIR", "PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}
    }
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = os.pathsep.join([str(venv / "bin"), str(python_dir), env.get("PATH", "")])
    return env


def run_shell(command: str, env: Mapping[str, str], cwd: Path) -> None:
    result = subprocess.run(
        ["/bin/sh", "-c", command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    output = f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert result.returncode == 0, f"RUN {command}\n{output}"


def base_python_dir(tmp: Path) -> Path:
    """A directory whose ``python`` is the base interpreter, as ``python`` is in the image."""
    bin_dir = tmp / "python-bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(getattr(sys, "_base_executable", sys.executable))
    return bin_dir


@dataclass(frozen=True)
class Venv:
    path: Path
    env: dict[str, str]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.path / "bin" / args[0]), *args[1:]],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=CHECK_TIMEOUT_S,
            check=False,
        )

    def python(self, code: str) -> str:
        result = self.run("python", "-c", code)
        assert result.returncode == 0, result.stderr
        return result.stdout


@pytest.fixture(scope="module")
def worker_venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """The worker image's venv, made by its build stage's RUN lines. (What the built images hold
    is tested on the images themselves, in test_images.py.)"""
    stages = dockerfile()
    tmp = tmp_path_factory.mktemp("images")
    venv = Venv(tmp / "worker", clean_env(tmp / "worker", base_python_dir(tmp)))
    for command in args_of(stages[IMAGES["worker"]], "RUN"):
        run_shell(command, venv.env, REPO)
    return venv


ENTRY_POINTS = (
    "import json, importlib.metadata as m; "
    "print(json.dumps(sorted(e.name for e in m.entry_points(group='kconnect.plugins'))))"
)


HELLO_PYPROJECT = """\
[build-system]
requires = ["hatchling>=1.25"]
build-backend = "hatchling.build"

[project]
name = "hello-kconnect-connector"
version = "1.0.0"

[project.entry-points."kconnect.plugins"]
Hello = "hello_connector:HelloConnector"

[tool.hatch.build.targets.wheel]
only-include = ["hello_connector.py"]
"""

HELLO_MODULE = """\
from kconnect import SourceConnector


class HelloConnector(SourceConnector):
    '''A connector author's plugin: found through its entry point, never imported by name.'''
"""


def connector_author_dockerfile() -> list[Instruction]:
    """The first ```dockerfile block of docs/images.md: the connector author's image."""
    match = re.search(r"```dockerfile\n(.*?)```", DOCS.read_text("utf-8"), re.DOTALL)
    assert match, "docs/images.md shows the connector author's Dockerfile in a ```dockerfile block"
    (stage,) = [s for name, s in parse_dockerfile(match.group(1)).items() if name]
    return stage


def test_connector_authors_three_line_dockerfile_installs_a_discovered_plugin(
    worker_venv: Venv, tmp_path: Path
) -> None:
    from_, copy, run = connector_author_dockerfile()
    assert (from_.keyword, copy.keyword, run.keyword) == ("FROM", "COPY", "RUN")
    assert "kconnect-worker" in from_.args
    source, target = shlex.split(copy.args)[-2:]
    assert source == "."
    assert "--chown=1001:1001" in copy.args, "the image's user owns what it pip installs"
    assert run.args.startswith("pip install ")
    package = tmp_path / "hello-connector"
    package.mkdir()
    (package / "pyproject.toml").write_text(HELLO_PYPROJECT, "utf-8")
    (package / "hello_connector.py").write_text(HELLO_MODULE, "utf-8")
    worker = worker_venv
    run_shell(run.args.replace(target, str(package)), worker.env, tmp_path)
    try:
        assert "Hello" in json.loads(worker.python(ENTRY_POINTS))
        found = worker.python(
            "from kconnect import SourceConnector; "
            "from kconnect.plugins.registry import default_registry; "
            "cls = default_registry().resolve('Hello'); "
            "print(cls.__module__, issubclass(cls, SourceConnector))"
        )
        assert found.split() == ["hello_connector", "True"]
    finally:
        uninstall = worker.run("pip", "uninstall", "--yes", "hello-kconnect-connector")
        assert uninstall.returncode == 0, uninstall.stderr
