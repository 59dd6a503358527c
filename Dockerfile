# kconnect's two images, built from one base (docs/images.md):
#
#   docker build --target worker   -t kconnect-worker:dev   .   # the worker: `kconnect ...`
#   docker build --target operator -t kconnect-operator:dev .   # the operator: `kconnect-operator`
#
# `make images` builds both on local Debian bases in the project's own engine (no registry needed).
#
# Each image is a venv at /opt/kconnect/venv, installed in a build stage from a hash-pinned lock
# (worker/requirements.lock, operator/requirements.lock) and copied into the slim base. The operator's
# dependencies (kopf) are only in the operator image, so the worker image stays small.
# tests/integration/test_image_install.py runs the build stages' RUN lines in a clean venv, so what
# this file installs is tested even where no Docker engine is; tests/integration/test_images.py
# builds and runs the images themselves.
#
# Two bases with Python 3.11 at the same path: PYTHON_IMAGE runs the images, BUILD_IMAGE (with a C
# compiler and the Python headers) builds the venv that is copied into it. They are pinned by tag;
# where a registry is reachable, pin them by digest as well:
#   docker build --build-arg PYTHON_IMAGE=python:3.11-slim@sha256:<digest> ...
# No `# syntax=` line: the builder's own Dockerfile frontend is enough, and none is fetched.
ARG PYTHON_IMAGE=python:3.11-slim
ARG BUILD_IMAGE=python:3.11

# ---- base: the Python runtime and the unprivileged user (uid/gid 1001, the pods' runAsUser) ----
FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/kconnect/venv \
    PATH=/opt/kconnect/venv/bin:$PATH
RUN groupadd --gid 1001 kconnect \
 && useradd --uid 1001 --gid 1001 --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin kconnect

# ---- build base: the same Python with a compiler; the native module must build (no fallback) ----
FROM ${BUILD_IMAGE} AS build-base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/kconnect/venv \
    PATH=/opt/kconnect/venv/bin:$PATH \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    KCONNECT_NATIVE=require

# ---- build stages: the locked dependencies first (a cached layer), then kconnect itself ----
FROM build-base AS build-worker
WORKDIR /src
COPY worker/requirements.lock worker/requirements.lock
RUN python -m venv "$VIRTUAL_ENV" \
 && pip install --require-hashes --only-binary=:all: --no-deps -r worker/requirements.lock
COPY . .
RUN pip install --no-deps . \
 && pip check

FROM build-base AS build-operator
WORKDIR /src
COPY operator/requirements.lock operator/requirements.lock
RUN python -m venv "$VIRTUAL_ENV" \
 && pip install --require-hashes --only-binary=:all: --no-deps -r operator/requirements.lock
COPY . .
RUN pip install --no-deps '.[operator]' \
 && pip check

# ---- the worker image ----
FROM base AS worker
ARG PYTHON_IMAGE
ARG VERSION=0.0.0-dev
ARG REVISION=unknown
ARG CREATED=""
ARG SOURCE=""
LABEL org.opencontainers.image.title="kconnect-worker" \
      org.opencontainers.image.description="Kafka Connect, rewritten in Python: the worker" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"
# Owned by the runtime user so that a connector author's image can `pip install` as that user
# (docs/images.md); pods run it with readOnlyRootFilesystem, so it is frozen at run time.
COPY --from=build-worker --chown=1001:1001 /opt/kconnect/venv /opt/kconnect/venv
USER 1001:1001
WORKDIR /tmp
EXPOSE 8083
ENTRYPOINT ["kconnect"]
CMD ["--help"]

# ---- the operator image ----
FROM base AS operator
ARG PYTHON_IMAGE
ARG VERSION=0.0.0-dev
ARG REVISION=unknown
ARG CREATED=""
ARG SOURCE=""
LABEL org.opencontainers.image.title="kconnect-operator" \
      org.opencontainers.image.description="Kafka Connect, rewritten in Python: the operator" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"
COPY --from=build-operator /opt/kconnect/venv /opt/kconnect/venv
USER 1001:1001
WORKDIR /tmp
ENTRYPOINT ["kconnect-operator"]
