#!/usr/bin/env bash
# Print the example resources as `make kind-up` applies them: examples/*.yaml with bootstrapServers
# pointed at the kind cluster's Kafka. The files name a Strimzi-style address
# (my-cluster-kafka-bootstrap:9092) so that they read well elsewhere.
#
#   e2e/kind/examples.sh [FILE...]   (default: examples/connector.yaml examples/standaloneconnect.yaml)
#
# tests/integration/test_kind_manifests.py dry-runs this output on a real API server.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "${here}/../.." && pwd)"
# shellcheck source=e2e/kind/lib.sh
source "${here}/lib.sh"

if [[ $# -eq 0 ]]; then
  set -- "${repo}/examples/connector.yaml" "${repo}/examples/standaloneconnect.yaml"
fi

for file in "$@"; do
  if [[ ! -f "${file}" ]]; then
    echo "error: no such example: ${file}" >&2
    exit 1
  fi
  printf -- '---\n'
  sed -e "s|bootstrapServers: my-cluster-kafka-bootstrap:9092|bootstrapServers: ${KAFKA_BOOTSTRAP}|" \
    "${file}"
done
