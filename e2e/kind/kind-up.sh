#!/usr/bin/env bash
# `make kind-up`: kconnect on a local kind cluster (docs/kind.md).
#
# Creates the kind cluster (or reuses it), builds the worker and operator images and loads them into
# the cluster, deploys a single-node KRaft Kafka (kafka.kafka.svc:9092), installs the Helm chart, and
# applies the examples with their bootstrapServers pointed at that Kafka. Running it again rebuilds
# and upgrades in place. `make kind-down` deletes the cluster.
#
# Environment: KIND_CLUSTER_NAME (kconnect), KIND_CONFIG (e2e/kind/cluster.yaml), IMAGE_TAG (dev),
# WORKER_IMAGE (kconnect-worker), OPERATOR_IMAGE (kconnect-operator), KAFKA_IMAGE (apache/kafka:4.1.1),
# KIND_LOAD_IMAGES (more images to load, unset), SKIP_IMAGE_BUILD (unset: build the images here),
# KCONNECT_NAMESPACE (kconnect), SKIP_EXAMPLES (unset).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "${here}/../.." && pwd)"
# shellcheck source=e2e/kind/lib.sh
source "${here}/lib.sh"

IMAGE_TAG="${IMAGE_TAG:-dev}"
WORKER_IMAGE="${WORKER_IMAGE:-kconnect-worker}"
OPERATOR_IMAGE="${OPERATOR_IMAGE:-kconnect-operator}"
WAIT_TIMEOUT="${WAIT_TIMEOUT:-300s}"
KIND_CONFIG="${KIND_CONFIG:-${here}/cluster.yaml}"
KAFKA_IMAGE="${KAFKA_IMAGE:-apache/kafka:4.1.1}"

need docker "build the images"
need kind "run the local cluster (https://kind.sigs.k8s.io)"
need kubectl "apply the manifests"
need helm "install the chart (https://helm.sh)"
if ! docker info >/dev/null 2>&1; then
  echo "error: docker is installed but its engine does not answer (is the daemon running?)." >&2
  exit 1
fi

kc() {
  kubectl --context "${KUBE_CONTEXT}" "$@"
}

log "kind cluster ${KIND_CLUSTER_NAME}"
if kind get clusters 2>/dev/null | grep -qx "${KIND_CLUSTER_NAME}"; then
  echo "reusing the existing cluster" >&2
else
  kind create cluster --name "${KIND_CLUSTER_NAME}" --config "${KIND_CONFIG}" --wait 120s
fi

log "images ${WORKER_IMAGE}:${IMAGE_TAG} and ${OPERATOR_IMAGE}:${IMAGE_TAG}"
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "${repo}/pyproject.toml")"
revision="$(git -C "${repo}" rev-parse HEAD 2>/dev/null || echo unknown)"
if [[ -z "${SKIP_IMAGE_BUILD:-}" ]]; then
  for target in worker operator; do
    if [[ "${target}" == worker ]]; then image="${WORKER_IMAGE}"; else image="${OPERATOR_IMAGE}"; fi
    docker build --target "${target}" --tag "${image}:${IMAGE_TAG}" \
      --build-arg VERSION="${version}" --build-arg REVISION="${revision}" "${repo}"
  done
fi
# shellcheck disable=SC2086  # KIND_LOAD_IMAGES is a list of image names
kind load docker-image --name "${KIND_CLUSTER_NAME}" \
  "${WORKER_IMAGE}:${IMAGE_TAG}" "${OPERATOR_IMAGE}:${IMAGE_TAG}" ${KIND_LOAD_IMAGES:-}

log "Kafka ${KAFKA_IMAGE} at ${KAFKA_BOOTSTRAP}"
kc create namespace "${KAFKA_NAMESPACE}" --dry-run=client -o yaml | kc apply -f -
sed -e "s|image: apache/kafka:4.1.1|image: ${KAFKA_IMAGE}|" "${here}/kafka.yaml" \
  | kc apply -n "${KAFKA_NAMESPACE}" -f -
kc rollout status -n "${KAFKA_NAMESPACE}" statefulset/kafka --timeout="${WAIT_TIMEOUT}"

log "the kconnect chart in namespace ${KCONNECT_NAMESPACE}"
helm upgrade --install kconnect "${repo}/charts/kconnect" \
  --kube-context "${KUBE_CONTEXT}" \
  --namespace "${KCONNECT_NAMESPACE}" --create-namespace \
  --set "image.repository=${OPERATOR_IMAGE},image.tag=${IMAGE_TAG}" \
  --set "workerImage.repository=${WORKER_IMAGE},workerImage.tag=${IMAGE_TAG}" \
  --wait --timeout "${WAIT_TIMEOUT}"

if [[ -z "${SKIP_EXAMPLES:-}" ]]; then
  log "examples"
  "${here}/examples.sh" | kc apply -n "${KCONNECT_NAMESPACE}" -f -
fi

log "ready"
cat >&2 <<INFO
kubectl --context ${KUBE_CONTEXT} -n ${KCONNECT_NAMESPACE} get kafkaconnectors,standaloneconnects,pods
make kind-down   # deletes the cluster
INFO
