"""The pure parts of kind on this machine: the node's configuration, the cluster configuration,
the guard rules and the scripts' environment (kconnect_devenv.kindbuild and .kindenv)."""

from __future__ import annotations

import json
import subprocess
import tomllib

import pytest
import yaml

from kconnect_devenv import kindbuild, kindenv, nodenetwork


def test_containerd_never_lowers_an_oom_score_and_finds_debians_cni_plugins() -> None:
    config = tomllib.loads(kindbuild.containerd_config("registry.k8s.io/pause:3.10.1"))
    cri = config["plugins"]["io.containerd.grpc.v1.cri"]
    assert config["version"] == 2
    assert cri["restrict_oom_score_adj"] is True
    assert cri["sandbox_image"] == "registry.k8s.io/pause:3.10.1"
    assert cri["cni"]["bin_dir"] == "/usr/lib/cni"
    assert cri["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is True
    assert "OOMScoreAdjust=0" in kindbuild.CONTAINERD_SERVICE
    assert "OOMScoreAdjust=-" not in kindbuild.CONTAINERD_SERVICE


def test_the_pod_network_is_one_bridge_on_the_nodes_pod_range() -> None:
    config = json.loads(kindbuild.cni_config())
    bridge, portmap = config["plugins"]
    assert bridge["type"] == "bridge"
    assert bridge["ipam"]["ranges"] == [[{"subnet": kindbuild.KIND_NODE_POD_CIDR}]]
    assert portmap["type"] == "portmap"


def test_the_default_cni_manifest_is_the_cluster_dns_at_kinds_dns_address() -> None:
    docs = list(yaml.safe_load_all(kindbuild.default_cni_manifest("kconnect.local/coredns:v1")))
    kinds = {doc["kind"] for doc in docs}
    assert {"Deployment", "Service", "ConfigMap", "ServiceAccount"} <= kinds
    service = next(doc for doc in docs if doc["kind"] == "Service")
    assert service["spec"]["clusterIP"] == kindbuild.KIND_DNS_SERVICE_IP
    corefile = next(doc for doc in docs if doc["kind"] == "ConfigMap")["data"]["Corefile"]
    assert "forward" not in corefile


def test_a_go_const_is_read_with_its_identifiers_replaced() -> None:
    source = "package x\n\nconst m = `a: ` + img + `\nb: 1`\n\nconst other = `x`\n"
    assert kindbuild.go_const_string(source, "m", {"img": "i:1"}) == "a: i:1\nb: 1"
    with pytest.raises(kindbuild.KindBuildError, match="names img"):
        kindbuild.go_const_string(source, "m", {"unknown": "?"})
    with pytest.raises(kindbuild.KindBuildError, match="no const absent"):
        kindbuild.go_const_string(source, "absent", {})


@pytest.mark.skipif(
    not (kindbuild.kind_source() / "pkg").is_dir(), reason="kind's module is not in Go's cache"
)
def test_kinds_storage_manifest_names_only_the_images_built_here() -> None:
    manifest = kindbuild.default_storage_manifest(
        kindbuild.kind_source(), "local/provisioner:1", "local/helper:1"
    )
    docs = [doc for doc in yaml.safe_load_all(manifest) if doc]
    images = {
        container["image"]
        for doc in docs
        if doc["kind"] == "Deployment"
        for container in doc["spec"]["template"]["spec"]["containers"]
    }
    assert images == {"local/provisioner:1"}
    assert "local/helper:1" in manifest
    assert "docker.io" not in manifest
    assert "IfNotPresent" not in manifest
    assert any(doc["kind"] == "StorageClass" for doc in docs)


def test_the_cluster_config_runs_the_node_image_with_no_negative_oom_score() -> None:
    config = yaml.safe_load(kindenv.cluster_config("kconnect", "local/node:1", "3.6.16-0"))
    assert config["kind"] == "Cluster"
    assert [node["image"] for node in config["nodes"]] == ["local/node:1"]
    patches = [yaml.safe_load(patch) for patch in config["kubeadmConfigPatches"]]
    by_kind = {patch["kind"]: patch for patch in patches}
    assert by_kind["KubeletConfiguration"]["oomScoreAdj"] == 0
    assert by_kind["KubeProxyConfiguration"]["oomScoreAdj"] == 0
    assert by_kind["InitConfiguration"]["skipPhases"] == ["preflight", "addon/coredns"]
    assert by_kind["ClusterConfiguration"]["etcd"]["local"]["imageTag"] == "3.6.16-0"


def test_the_guard_drops_what_crosses_the_bridge_and_is_removed_by_its_prefix() -> None:
    script = kindenv.guard_script("br-test")
    assert f"-I FORWARD 1 -j {kindenv.FORWARD_CHAIN}" in script
    assert f"-I INPUT 1 -i br-test -j {kindenv.INPUT_CHAIN}" in script
    assert "-i br-test ! -o br-test" in script
    assert "-o br-test ! -i br-test" in script
    saved = (
        "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
        f":{kindenv.FORWARD_CHAIN} - [0:0]\n:{kindenv.INPUT_CHAIN} - [0:0]\n"
        f":KCONNECT-NODE-FORWARD - [0:0]\n-A FORWARD -j {kindenv.FORWARD_CHAIN}\n"
        "-A FORWARD -j KCONNECT-NODE-FORWARD\n"
        f"-A INPUT -i br-test -j {kindenv.INPUT_CHAIN}\nCOMMIT\n"
    )
    removal = nodenetwork.removal_script(saved, (kindenv.CHAIN_PREFIX,))
    assert f"-D FORWARD -j {kindenv.FORWARD_CHAIN}" in removal
    assert f"-X {kindenv.INPUT_CHAIN}" in removal
    assert "KCONNECT-NODE" not in removal


def test_the_env_file_is_bash_exports() -> None:
    text = kindenv.env_file_text({"A": "/x y", "KIND_CONFIG": "/c.yaml"})
    result = subprocess.run(
        ["bash", "-c", 'source /dev/stdin && printf "%s|%s" "$A" "$KIND_CONFIG"'],
        input=text,
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    assert result.stdout == "/x y|/c.yaml"
