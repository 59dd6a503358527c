# Shared by kind-up.sh and kind-down.sh: names, and a check that the tools are installed.
# shellcheck shell=bash disable=SC2034  # the names are used by the scripts that source this file

KIND_CLUSTER_NAME="${KIND_CLUSTER_NAME:-kconnect}"
KUBE_CONTEXT="kind-${KIND_CLUSTER_NAME}"
KAFKA_NAMESPACE=kafka
KAFKA_BOOTSTRAP="kafka.${KAFKA_NAMESPACE}.svc:9092"
KCONNECT_NAMESPACE="${KCONNECT_NAMESPACE:-kconnect}"

# need TOOL WHY: exit with a message saying what is missing and where to get it.
need() {
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "error: '$1' is not on PATH; it is needed to $2." >&2
    echo "       See docs/kind.md for the tools and versions kind-up expects." >&2
    exit 1
  fi
}

# log MESSAGE: a step's heading, with the seconds since the script started.
log() {
  printf '\n==> [%ss] %s\n' "${SECONDS}" "$*" >&2
}
