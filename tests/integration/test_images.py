"""The worker and operator images, built from the Dockerfile by ``make images`` and run for real.

The images are built (or found built: the engine keeps its build cache, so after ``make images``
this takes seconds) in the project's engine, ``$KCONNECT_CACHE/engine``, on the local Debian bases.
Every container runs as production runs it: as uid 1001 (the images' user), with a read-only root
filesystem, every capability dropped, no new privileges and no network at all.

What is checked: each image's entry point works; the worker's native module is the compiled one
(``KCONNECT_NATIVE=require`` in the build stages, so it can never silently be the pure-Python
fallback); the operator's dependencies stay out of the worker image; the machine's package-index
settings, which the build stages need, did not reach the shipped images (no pip configuration, no
``PIP_*`` variable, nothing in their history, none of the machine's extra CA certificates, no
mirror host); and the OCI labels. The build environment image, which does carry the settings, is
probed the same way, so the probe is shown to find them where they are.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import subprocess
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kconnect_devenv import baseimage, engine, images

# A cold build (debootstrap of both bases, every wheel downloaded) takes several minutes on 2 cores.
pytestmark = pytest.mark.timeout(3600)
RUN_TIMEOUT_S = 120.0
SHIPPED = ("worker", "operator")
VENV = "/opt/kconnect/venv"
PEM = re.compile(rb"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.DOTALL)

# Runs inside a container: every certificate in a PEM file under ROOTS, as a sha256 of its DER.
CERT_PROBE = r"""
import base64, hashlib, json, os, re, sys
pem = re.compile(rb"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.DOTALL)
found = set()
for root in sys.argv[1:]:
    for directory, _, files in os.walk(root):
        for name in files:
            path = os.path.join(directory, name)
            try:
                if os.path.islink(path) or os.path.getsize(path) > 4_000_000:
                    continue
                data = open(path, "rb").read()
            except OSError:
                continue
            for block in pem.findall(data):
                try:
                    der = base64.b64decode(b"".join(block.split()), validate=True)
                except ValueError:
                    continue  # not a certificate: a PEM marker in some source or doc
                found.add(hashlib.sha256(der).hexdigest())
print(json.dumps(sorted(found)))
"""
CERT_ROOTS = ("/etc", "/usr/share/ca-certificates", "/usr/local", "/usr/lib/ssl", "/opt")

# Runs inside a container: the files under ROOTS whose contents name NEEDLE.
NAME_PROBE = r"""
import os, sys
needle = sys.argv[1].encode()
for root in sys.argv[2:]:
    for directory, _, files in os.walk(root):
        for name in files:
            path = os.path.join(directory, name)
            try:
                if os.path.islink(path) or os.path.getsize(path) > 4_000_000:
                    continue
                if needle in open(path, "rb").read():
                    print(path)
            except OSError:
                pass
"""


@pytest.fixture(scope="module")
def docker_engine() -> Iterator[engine.Engine]:
    """The project's engine: the running one, or one started for this module and stopped after."""
    with engine.session() as running:
        yield running


@pytest.fixture(scope="module")
def built(docker_engine: engine.Engine) -> dict[str, str]:
    return images.build(docker_engine)


def run(
    docker_engine: engine.Engine, image: str, *command: str, entrypoint: str | None = None
) -> str:
    """``command`` in a container of ``image``, run as a pod with the builders' securityContext
    would run it; returns its standard output."""
    options = [
        "run",
        "--rm",
        "--read-only",
        "--cap-drop=ALL",
        "--security-opt=no-new-privileges",
        "--network=none",
        "--tmpfs=/tmp",
    ]
    if entrypoint is not None:
        options.append(f"--entrypoint={entrypoint}")
    return docker_engine.docker(*options, image, *command, timeout=RUN_TIMEOUT_S)


def python_in(docker_engine: engine.Engine, image: str, code: str, *args: str) -> str:
    return run(docker_engine, image, "-c", code, *args, entrypoint="python")


IDENTITY = (
    "import os, json; status = dict(l.split(':\\t', 1) for l in open('/proc/self/status') "
    "if ':\\t' in l); print(json.dumps([os.getuid(), os.getgid(), status['CapEff'].strip()]))"
)


@pytest.mark.parametrize("target", SHIPPED)
def test_images_run_as_uid_1001_without_capabilities(
    docker_engine: engine.Engine, built: dict[str, str], target: str
) -> None:
    uid, gid, caps = json.loads(python_in(docker_engine, built[target], IDENTITY))
    assert (uid, gid) == (1001, 1001)
    assert int(caps, 16) == 0


def test_worker_image_runs_kconnect_with_the_compiled_native_module(
    docker_engine: engine.Engine, built: dict[str, str]
) -> None:
    help_ = run(docker_engine, built["worker"], "--help")
    assert "standalone" in help_
    assert "distributed" in help_
    native = python_in(
        docker_engine,
        built["worker"],
        "from kconnect.data import _javatext; print(_javatext.NATIVE.__file__); "
        "print(_javatext.java_text({'a': [1.0e7, b'x']}))",
    )
    so, text = native.splitlines()
    assert so.startswith(f"{VENV}/lib/python3.11/site-packages/kconnect/data/_javatextc")
    assert so.endswith(".so")
    assert text == "{a=[1.0E7, x]}"
    names = json.loads(python_in(docker_engine, built["worker"], ENTRY_POINTS))
    assert {"DataGen", "FileStreamSource", "FileStreamSink", "JsonConverter"} <= set(names)
    found = python_in(
        docker_engine,
        built["worker"],
        "from kconnect.plugins.registry import default_registry; "
        "print(default_registry().resolve('DataGen').__name__)",
    )
    assert found.strip() == "DataGenConnector"


def test_worker_image_leaves_the_operator_dependencies_out(
    docker_engine: engine.Engine, built: dict[str, str]
) -> None:
    found = python_in(
        docker_engine,
        built["worker"],
        "import importlib.util as u; print([m for m in ('kopf', 'kconnect') if u.find_spec(m)])",
    )
    assert found.strip() == "['kconnect']"


def test_operator_image_runs_kconnect_operator(
    docker_engine: engine.Engine, built: dict[str, str]
) -> None:
    help_ = run(docker_engine, built["operator"], "--help")
    assert "usage" in help_.lower()
    imported = python_in(
        docker_engine,
        built["operator"],
        "import kopf, kconnect_operator.cli, kconnect.cli; print('ok')",
    )
    assert imported.strip() == "ok"
    assert "DataGen" in json.loads(python_in(docker_engine, built["operator"], ENTRY_POINTS))
    # The operator's one Kubernetes client is its own: the generated client is not installed.
    found = python_in(
        docker_engine,
        built["operator"],
        "import importlib.util as u; print(u.find_spec('kubernetes') is None)",
    )
    assert found.strip() == "True"


ENTRY_POINTS = (
    "import json, importlib.metadata as m; "
    "print(json.dumps(sorted(e.name for e in m.entry_points(group='kconnect.plugins'))))"
)


def _inspect(docker_engine: engine.Engine, image: str) -> dict[str, object]:
    (inspected,) = json.loads(docker_engine.docker("image", "inspect", image, timeout=60))
    config = inspected["Config"]
    assert isinstance(config, dict)
    return config


def _history(docker_engine: engine.Engine, image: str) -> str:
    return docker_engine.docker(
        "history", "--no-trunc", "--format", "{{.CreatedBy}}", image, timeout=60
    )


PIP_PROBE = r"""
import importlib.util, json, os, subprocess, sys
files = [p for p in ("/etc/pip.conf", "/etc/xdg/pip/pip.conf", "/etc/kconnect-build")
         if os.path.exists(p)]
listed = None
if importlib.util.find_spec("pip") is not None:
    listed = subprocess.run([sys.executable, "-m", "pip", "config", "list"],
                            capture_output=True, text=True, check=True).stdout
conf = open("/etc/pip.conf").read() if os.path.isfile("/etc/pip.conf") else ""
print(json.dumps({"files": files, "pip_config_list": listed, "pip_conf": conf}))
"""


def _pip_config(docker_engine: engine.Engine, image: str) -> dict[str, object]:
    """The pip configuration files in ``image`` and what its pip (if it has one) reports."""
    found = json.loads(python_in(docker_engine, image, PIP_PROBE))
    assert isinstance(found, dict)
    return found


@pytest.mark.parametrize("target", SHIPPED)
def test_shipped_images_carry_no_package_index_settings(
    docker_engine: engine.Engine, built: dict[str, str], target: str
) -> None:
    image = built[target]
    env = _inspect(docker_engine, image)["Env"]
    assert isinstance(env, list)
    assert not [e for e in env if e.startswith("PIP_")], env
    history = _history(docker_engine, image)
    for needle in ("pip.conf", images.BUILD_CONFIG_DIR, "index-url", "trusted-host", "PIP_"):
        assert needle not in history, f"{needle!r} in the history of {image}"
    found = _pip_config(docker_engine, image)
    assert found["files"] == []
    assert found["pip_config_list"] == "", "the venv's pip, which connector authors use, is bare"


def test_the_build_environment_does_carry_them_where_the_probe_finds_them(
    docker_engine: engine.Engine, built: dict[str, str]
) -> None:
    """The probe of the test above, on the image that must have the settings."""
    found = _pip_config(docker_engine, images.BUILD_ENV_TAG)
    assert "/etc/pip.conf" in found["files"]
    conf = found["pip_conf"]
    assert isinstance(conf, str)
    for key in images.machine_pip_config():
        assert f"\n{key} = " in conf


def _der_digests(pem_text: bytes) -> set[str]:
    return {
        hashlib.sha256(base64.b64decode(b"".join(block.split()))).hexdigest()
        for block in PEM.findall(pem_text)
    }


def _machine_extra_cas() -> set[str]:
    """Certificates in the CA bundle pip uses here that Debian's ca-certificates does not ship."""
    cert = images.machine_pip_config().get("cert")
    if cert is None:
        return set()
    public: set[str] = set()
    for path in Path("/usr/share/ca-certificates").rglob("*.crt"):
        public |= _der_digests(path.read_bytes())
    return _der_digests(Path(cert).read_bytes()) - public


@pytest.mark.parametrize("target", SHIPPED)
def test_shipped_images_hold_none_of_the_machines_extra_ca_certificates(
    docker_engine: engine.Engine, built: dict[str, str], target: str
) -> None:
    in_image = set(json.loads(python_in(docker_engine, built[target], CERT_PROBE, *CERT_ROOTS)))
    assert len(in_image) > 100, "the probe finds the public CA certificates the image has"
    assert in_image.isdisjoint(_machine_extra_cas())


def test_the_build_environment_holds_the_machines_ca_bundle(
    docker_engine: engine.Engine, built: dict[str, str]
) -> None:
    extras = _machine_extra_cas()
    if not extras:
        pytest.skip("pip here uses no CA bundle beyond Debian's public certificates")
    in_build = set(
        json.loads(python_in(docker_engine, images.BUILD_ENV_TAG, CERT_PROBE, *CERT_ROOTS))
    )
    assert extras <= in_build


@pytest.mark.parametrize("target", SHIPPED)
def test_shipped_images_do_not_name_the_machines_debian_mirror(
    docker_engine: engine.Engine, built: dict[str, str], target: str
) -> None:
    host = re.sub(r"^\w+://([^/:]+).*$", r"\1", baseimage.machine_mirror())
    named = run(
        docker_engine,
        built[target],
        "-c",
        NAME_PROBE,
        host,
        "/etc",
        "/var",
        "/usr/share/doc",
        entrypoint="python",
    )
    assert named.split() == []


@pytest.mark.parametrize("target", SHIPPED)
def test_images_are_labelled_with_the_checkout_and_their_base(
    docker_engine: engine.Engine, built: dict[str, str], target: str
) -> None:
    labels = _inspect(docker_engine, built[target])["Labels"]
    assert isinstance(labels, dict)
    checkout = images.checkout_labels()
    assert labels["org.opencontainers.image.title"] == f"kconnect-{target}"
    assert labels["org.opencontainers.image.version"] == images.project_version()
    assert labels["org.opencontainers.image.revision"] == checkout.revision
    assert labels["org.opencontainers.image.created"] == checkout.created
    assert labels["org.opencontainers.image.base.name"] == baseimage.RUNTIME.tag
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"


def test_a_failed_build_names_the_image_and_shows_the_end_of_its_log(
    docker_engine: engine.Engine, built: dict[str, str]
) -> None:
    dockerfile = f"FROM {baseimage.RUNTIME.tag}\nRUN echo 'the step that fails' && exit 3\n"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile.encode()))
    with pytest.raises(images.ImageBuildError) as failure:
        images.docker_build(docker_engine, "failing-probe", ["-"], buffer.getvalue())
    message = str(failure.value)
    assert message.startswith("docker build of failing-probe exited with ")
    assert str(images.build_log("failing-probe")) in message
    assert "the step that fails" in message
    assert "returned a non-zero code: 3" in message
    left = docker_engine.docker("ps", "--all", "--no-trunc", "--format", "{{.Command}}", timeout=60)
    assert "the step that fails" not in left, "the failed step's container is removed"


def test_an_image_is_archived_once_for_loading_into_another_runtime(
    docker_engine: engine.Engine, built: dict[str, str]
) -> None:
    path = images.archive(docker_engine, built["worker"])
    assert path == images.archive(docker_engine, built["worker"])
    with tarfile.open(path) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert manifest[0]["RepoTags"] == [built["worker"]]
    image_id = images.image_id(docker_engine, built["worker"]).strip()
    assert manifest[0]["Config"].removesuffix(".json") == image_id.removeprefix("sha256:")


UNREACHABLE_WORKER = """\
bootstrap.servers=127.0.0.1:9
offset.storage.file.filename=/tmp/offsets
key.converter=org.apache.kafka.connect.storage.StringConverter
value.converter=org.apache.kafka.connect.storage.StringConverter
listeners=http://127.0.0.1:8083
"""
WAIT_FOR_LOG_S = 60.0


def test_worker_as_pid_1_stops_on_sigterm_while_it_waits_for_kafka(
    docker_engine: engine.Engine, built: dict[str, str], tmp_path: Path
) -> None:
    """In a container the worker is PID 1, for which the kernel drops a SIGTERM that has no
    handler: before the worker serves, `docker stop` (a pod's deletion) must still end it with
    SIGTERM's exit code, not wait for SIGKILL (137)."""
    config = tmp_path / "config"
    config.mkdir(mode=0o755)
    (config / "worker.properties").write_text(UNREACHABLE_WORKER)
    (config / "worker.properties").chmod(0o644)
    name = f"kconnect-test-{uuid.uuid4().hex[:8]}"
    docker_engine.docker(
        "run", "--detach", f"--name={name}", "--read-only", "--cap-drop=ALL",
        "--security-opt=no-new-privileges", "--network=none", "--tmpfs=/tmp",
        f"--volume={config}:/config:ro", built["worker"],
        "standalone", "/config/worker.properties",
        timeout=RUN_TIMEOUT_S,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + WAIT_FOR_LOG_S
        logs = ""
        while "127.0.0.1:9" not in logs:  # librdkafka's first failed connect: Kafka is awaited
            assert time.monotonic() < deadline, f"the worker never tried Kafka:\n{logs}"
            time.sleep(0.2)
            logs = docker_engine.docker("logs", name, timeout=60, merge_stderr=True)
        docker_engine.docker("stop", "--time=30", name, timeout=RUN_TIMEOUT_S)
        code = docker_engine.docker("inspect", "--format", "{{.State.ExitCode}}", name, timeout=60)
        assert int(code) == 128 + 15
    finally:
        docker_engine.docker("rm", "--force", name, timeout=RUN_TIMEOUT_S)


def test_a_build_keeps_only_layers_a_tag_reaches(
    docker_engine: engine.Engine, built: dict[str, str]
) -> None:
    """Superseded layers are pruned after each build; the build stages are tagged, so their
    locked-dependency layers stay cached."""
    dangling = docker_engine.docker(
        "images", "--quiet", "--filter", "dangling=true", timeout=60
    ).split()
    assert dangling == []
    tags = docker_engine.docker("images", "--format", "{{.Repository}}:{{.Tag}}", timeout=60)
    for stage in images.BUILD_STAGES.values():
        assert f"{images.BUILD_CACHE_REPOSITORY}:{stage}" in tags.split()


def test_a_clean_checkout_is_named_by_its_commit_and_a_changed_one_is_not(
    docker_engine: engine.Engine, tmp_path: Path
) -> None:
    checkout = tmp_path / "checkout"
    subprocess.run(
        ["git", "clone", "--quiet", "--no-hardlinks", str(images.REPO), str(checkout)], check=True
    )
    settings = images.pip_settings(images.machine_pip_config())

    def digest() -> str | None:
        labels = images.checkout_labels(checkout)
        return images.inputs_digest(docker_engine, labels, settings, checkout)

    clean = digest()
    assert clean is not None
    assert digest() == clean
    (checkout / "untracked.txt").write_text("new\n")
    assert digest() is None
    (checkout / "untracked.txt").unlink()
    readme = checkout / "README.md"
    readme.write_text(readme.read_text() + "\nchanged\n")
    assert digest() is None
    git = ["git", "-C", str(checkout), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "commit", "--quiet", "-am", "changed"], check=True)
    assert digest() not in {None, clean}


def test_images_of_a_clean_checkout_are_not_built_again(
    docker_engine: engine.Engine, built: dict[str, str]
) -> None:
    """The `built` fixture has built them; a build from the same inputs runs no docker build
    (its logs stay as they were). A checkout with changes is always built, so then this checks
    only that the images carry no digest."""
    labels = images.checkout_labels()
    digest = images.inputs_digest(
        docker_engine, labels, images.pip_settings(images.machine_pip_config())
    )
    for tag in built.values():
        assert images.built_from(docker_engine, tag) == digest
    if digest is None:
        return
    logs = {t: images.build_log(t).stat().st_mtime_ns for t in images.TARGETS}
    assert images.build(docker_engine) == built
    assert {t: images.build_log(t).stat().st_mtime_ns for t in images.TARGETS} == logs
