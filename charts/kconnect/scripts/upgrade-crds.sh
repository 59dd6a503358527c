#!/usr/bin/env bash
# Applies the chart's CRDs (charts/kconnect/crds/) to the cluster of the current kubeconfig
# context. Helm installs crds/ on `helm install` but never upgrades or deletes them, so run this
# before `helm upgrade` when the chart's CRDs changed (docs/helm.md).
#
# Server-side apply with --force-conflicts takes over the fields Helm's client-side create set, so
# the CRDs end up exactly as the chart has them. Extra arguments go to kubectl, e.g.
#   charts/kconnect/scripts/upgrade-crds.sh --context my-cluster
#   charts/kconnect/scripts/upgrade-crds.sh --dry-run=server
# KUBECTL names the kubectl binary (default: kubectl on PATH).
set -euo pipefail

crds_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../crds" && pwd)"
kubectl="${KUBECTL:-kubectl}"

shopt -s nullglob
files=("$crds_dir"/*.yaml)
if [[ ${#files[@]} -eq 0 ]]; then
    echo "upgrade-crds: no CRDs found in $crds_dir" >&2
    exit 1
fi

args=()
for file in "${files[@]}"; do
    args+=(-f "$file")
done

"$kubectl" apply --server-side --force-conflicts --field-manager=kconnect-crds "${args[@]}" "$@"
if [[ " $* " != *" --dry-run"* ]]; then
    # Right after the apply a CRD may have no status.conditions yet, and kubectl wait then fails at
    # once ("conditions accessor error: <nil>") instead of waiting: ask again, for 60 s at most.
    deadline=$((SECONDS + 60))
    until out="$("$kubectl" wait --for=condition=Established --timeout=60s "${args[@]}" "$@" 2>&1)"; do
        if ((SECONDS >= deadline)); then
            echo "$out" >&2
            exit 1
        fi
        sleep 1
    done
    echo "$out"
fi
