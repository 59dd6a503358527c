"""The pure parts of ``make images``: the machine's apt and pip settings read, the build planned."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from kconnect_devenv import baseimage, engine, images

DEB822 = """\
Types: deb
# a comment line
URIs: http://archive.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://archive.example/debian-security
Suites: bookworm-security
Components: main

Types: deb-src
URIs: http://sources.example/debian
Suites: bookworm
"""


def test_deb822_sources_give_each_deb_stanza_and_the_archive_is_the_one_serving_the_suite() -> None:
    sources = baseimage.parse_deb822_sources(DEB822)
    assert sources == [
        baseimage.AptSource("http://archive.example/debian", ("bookworm", "bookworm-updates")),
        baseimage.AptSource("http://archive.example/debian-security", ("bookworm-security",)),
    ]
    assert baseimage.archive_uri(reversed(sources)) == "http://archive.example/debian"


def test_disabled_deb822_stanzas_are_skipped() -> None:
    text = "Types: deb\nURIs: http://a.example/debian\nSuites: bookworm\nEnabled: no\n"
    assert baseimage.parse_deb822_sources(text) == []


def test_one_line_sources_skip_options_comments_and_deb_src() -> None:
    text = (
        "# deb http://old.example/debian bookworm main\n"
        "deb-src http://src.example/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://b.example/debian-security bookworm-security m\n"
        "deb http://b.example/debian trixie main\n"
    )
    sources = baseimage.parse_one_line_sources(text)
    assert [s.uri for s in sources] == [
        "http://b.example/debian-security",
        "http://b.example/debian",
    ]
    # No source lists bookworm itself: the first one serving a main suite is the archive.
    assert baseimage.archive_uri(sources) == "http://b.example/debian"
    assert baseimage.archive_uri(sources[:1]) is None


def test_the_two_bases_share_the_interpreter_and_only_the_build_base_has_a_compiler() -> None:
    runtime, build = set(baseimage.RUNTIME.packages), set(baseimage.BUILD.packages)
    assert runtime <= build
    assert {"python3", "python-is-python3"} <= runtime
    assert {"gcc", "python3-dev", "python3-venv"} <= build - runtime
    assert baseimage.RUNTIME.tag != baseimage.BUILD.tag
    assert baseimage.RUNTIME.tag.startswith("kconnect-python:3.11-bookworm-")
    # An imported image has no PATH of its own.
    assert any(change.startswith("ENV PATH=/usr/local/sbin:") for change in baseimage.IMAGE_CHANGES)


def test_clean_rootfs_removes_what_names_the_host_or_its_mirror(tmp_path: Path) -> None:
    for name in (
        "etc/resolv.conf",
        "etc/hostname",
        "etc/apt/sources.list",
        "var/lib/apt/lists/archive.example_debian_dists_bookworm_Release",
        "var/log/bootstrap.log",
        "usr/share/doc/python3/copyright",
        "usr/share/doc/python3/changelog.gz",
        "usr/share/man/man1/python3.1.gz",
        "etc/passwd",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    baseimage.clean_rootfs(tmp_path)
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert left == ["etc/passwd", "usr/share/doc/python3/copyright"]
    assert (tmp_path / "var/lib/apt/lists/partial").is_dir()


PIP_CONFIG_LIST = """\
global.cert='/etc/ssl/certs/ca-certificates.crt'
global.index-url='https://global.example/simple'
install.index-url='https://install.example/simple'
global.no-cache-dir='true'
:env:.default-timeout='180'
:env:.find-links='/opt/wheels'
:env:.trusted-host='a.example b.example'
"""


def test_pip_settings_take_pips_precedence_and_drop_local_find_links() -> None:
    config = images.parse_pip_config_list(PIP_CONFIG_LIST)
    assert config == {
        "cert": "/etc/ssl/certs/ca-certificates.crt",
        "index-url": "https://install.example/simple",
        "timeout": "180",
        "trusted-host": "a.example b.example",
    }


def test_the_build_environment_copies_the_ca_bundle_and_points_pip_at_the_copy(
    tmp_path: Path,
) -> None:
    bundle = tmp_path / "bundle.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    settings = images.pip_settings({"cert": str(bundle), "index-url": "https://i.example/simple"})
    assert settings.values["cert"] == "/etc/kconnect-build/ca.pem"
    conf = settings.pip_conf()
    assert conf.startswith("[global]\n")
    assert "index-url = https://i.example/simple" in conf
    context = images.build_env_context("kconnect-python-build:x", settings)
    with tarfile.open(fileobj=io.BytesIO(context)) as tar:
        names = sorted(tar.getnames())
        dockerfile = tar.extractfile("Dockerfile").read().decode()  # type: ignore[union-attr]
        copied = tar.extractfile("ca.pem").read()  # type: ignore[union-attr]
    assert names == ["Dockerfile", "ca.pem", "pip.conf"]
    assert "FROM kconnect-python-build:x" in dockerfile
    assert "COPY ca.pem /etc/kconnect-build/ca.pem" in dockerfile
    assert copied == bundle.read_bytes()


def test_a_pip_cert_that_is_no_file_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(images.ImageBuildError, match="not a file"):
        images.pip_settings({"cert": str(tmp_path / "missing.pem")})


def test_builds_use_the_host_network_the_local_bases_and_the_checkouts_labels() -> None:
    labels = images.Labels(version="1.2.3", revision="abc", created="2026-01-01T00:00:00+00:00")
    args = images.build_args("worker", "runtime:t", "build:t", labels)
    assert args[0] == "--network=host"
    assert "--target=worker" in args
    assert "--tag=kconnect-worker:dev" in args
    assert "--build-arg=PYTHON_IMAGE=runtime:t" in args
    assert "--build-arg=BUILD_IMAGE=build:t" in args
    assert "--build-arg=REVISION=abc" in args
    assert args[-1] == str(images.REPO)


def test_dockerd_leaves_the_host_network_and_oom_scores_alone(tmp_path: Path) -> None:
    running = engine.layout(tmp_path)
    command = engine.dockerd_command(running, tmp_path / "data" / "run")
    for flag in (
        "--bridge=none",
        "--iptables=false",
        "--ip-masq=false",
        "--ip-forward=false",
        "--oom-score-adjust=0",
        "--storage-driver=overlay2",
        f"--host=unix://{tmp_path}/data/docker.sock",
        f"--data-root={tmp_path}/images",
        f"--config-file={tmp_path}/data/daemon.json",
    ):
        assert flag in command
    env = running.client_env({"DOCKER_CONTEXT": "elsewhere", "HOME": "/root"})
    assert env["DOCKER_HOST"] == f"unix://{tmp_path}/data/docker.sock"
    assert env["DOCKER_BUILDKIT"] == "0"
    assert env["DOCKER_CONFIG"] == f"{tmp_path}/data/client"
    assert "DOCKER_CONTEXT" not in env
