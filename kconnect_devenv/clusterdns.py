"""Cluster DNS for the real node: CoreDNS as a pod behind the ``kube-dns`` Service.

:func:`manifests` is pure: the objects a cluster's DNS add-on is made of (as kubeadm installs
it), for the CoreDNS image the project builds (:mod:`kconnect_devenv.nodebuild`):

- the ``coredns`` ServiceAccount, the ``system:coredns`` ClusterRole (list and watch Services,
  EndpointSlices, Namespaces) and its binding;
- the ``coredns`` ConfigMap with the Corefile: ``cluster.local`` and the reverse zones are answered
  by the ``kubernetes`` plugin; every other name gets NXDOMAIN from ``template``, at once, since
  nothing may be forwarded off the machine (no ``forward`` plugin is even compiled in);
- a one-replica Deployment with ``imagePullPolicy: Never`` (the image is imported into the node,
  never pulled), readiness on the ``ready`` plugin and liveness on ``health``;
- the ``kube-dns`` Service at :data:`DNS_SERVICE_IP` (or the address given), the address the
  kubelet gives pods as their nameserver.
"""

from __future__ import annotations

from typing import Any, Final

NAMESPACE: Final = "kube-system"
NAME: Final = "coredns"
DNS_SERVICE_IP: Final = "10.0.0.10"
CLUSTER_DOMAIN: Final = "cluster.local"
LABELS: Final = {"k8s-app": "kube-dns"}

JsonObject = dict[str, Any]

COREFILE: Final = f"""\
{CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
    errors
    health {{
        lameduck 5s
    }}
    ready
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        pods insecure
        ttl 30
    }}
    cache 30
    loadbalance
}}
. {{
    errors
    template ANY ANY {{
        rcode NXDOMAIN
    }}
}}
"""


def manifests(image: str, service_ip: str = DNS_SERVICE_IP) -> list[JsonObject]:
    """The DNS add-on's objects for ``image``, its Service at ``service_ip`` (the address the
    kubelet's ``clusterDNS`` names: :data:`DNS_SERVICE_IP` on the real node, ``10.96.0.10`` on
    kind)."""
    metadata = {"name": NAME, "namespace": NAMESPACE, "labels": dict(LABELS)}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "system:coredns"},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["endpoints", "services", "pods", "namespaces"],
                    "verbs": ["list", "watch"],
                },
                {
                    "apiGroups": ["discovery.k8s.io"],
                    "resources": ["endpointslices"],
                    "verbs": ["list", "watch"],
                },
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "system:coredns"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "system:coredns",
            },
            "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}],
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": metadata,
            "data": {"Corefile": COREFILE},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": metadata,
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": dict(LABELS)},
                "template": {
                    "metadata": {"labels": dict(LABELS)},
                    "spec": {
                        "serviceAccountName": NAME,
                        "dnsPolicy": "Default",
                        "containers": [
                            {
                                "name": "coredns",
                                "image": image,
                                "imagePullPolicy": "Never",
                                "args": ["-conf", "/etc/coredns/Corefile"],
                                "ports": [
                                    {"name": "dns", "containerPort": 53, "protocol": "UDP"},
                                    {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
                                ],
                                "resources": {
                                    "requests": {"cpu": "50m", "memory": "32Mi"},
                                    "limits": {"memory": "128Mi"},
                                },
                                "readinessProbe": {
                                    "httpGet": {"path": "/ready", "port": 8181},
                                    "periodSeconds": 1,
                                },
                                "livenessProbe": {
                                    "httpGet": {"path": "/health", "port": 8080},
                                    "initialDelaySeconds": 10,
                                },
                                "volumeMounts": [
                                    {
                                        "name": "config",
                                        "mountPath": "/etc/coredns",
                                        "readOnly": True,
                                    }
                                ],
                                "securityContext": {
                                    "allowPrivilegeEscalation": False,
                                    "readOnlyRootFilesystem": True,
                                },
                            }
                        ],
                        "volumes": [{"name": "config", "configMap": {"name": NAME}}],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "kube-dns", "namespace": NAMESPACE, "labels": dict(LABELS)},
            "spec": {
                "clusterIP": service_ip,
                "selector": dict(LABELS),
                "ports": [
                    {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                    {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                ],
            },
        },
    ]
