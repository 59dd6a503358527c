#!/usr/bin/env bash
# `make kind-down`: delete the kind cluster of `make kind-up`, with everything in it (docs/kind.md).
# The images stay in the local Docker engine; `docker image rm` them if you wish.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=e2e/kind/lib.sh
source "${here}/lib.sh"

need kind "delete the local cluster (https://kind.sigs.k8s.io)"

if kind get clusters 2>/dev/null | grep -qx "${KIND_CLUSTER_NAME}"; then
  kind delete cluster --name "${KIND_CLUSTER_NAME}"
else
  echo "no kind cluster named ${KIND_CLUSTER_NAME}; nothing to delete" >&2
fi
