"""The kubelet's local-path provisioner: a thread that makes and removes PersistentVolumes.

``claims.py`` decides what a claim gets and when a volume goes; this is the shell around it.
:meth:`Provisioner.ensure_class` creates the StorageClass when it is absent (an existing one,
e.g. from another test kubelet or a person, is left as it is). The thread then lists claims and
volumes every :data:`POLL_S` (a list of a test cluster's few claims costs nothing, and a poll
needs no resync after a lost watch) and

- makes the PV of every claim that wants one, creating its directory first; a conflict means the
  PV exists already (this or another provisioner made it);
- for every PV of ours that is Released, removes its directory, then deletes the PV (a PV that
  is gone already is fine).

A failed API call or file operation is logged and tried again at the next poll; nothing here is
fatal to the kubelet. :meth:`stop` ends the thread within a poll and a request's timeout.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Collection
from pathlib import Path
from typing import Final

from kconnect_devenv.kubelet import claims
from kconnect_devenv.kubelet.api import Api, ApiError, JsonObject

LOG = logging.getLogger(__name__)

POLL_S: Final = 1.0
JOIN_S: Final = 20.0


class Provisioner:
    def __init__(
        self, api: Api, node_name: str, volumes_dir: Path, namespaces: Collection[str]
    ) -> None:
        self._api = api
        self._node_name = node_name
        self._volumes_dir = volumes_dir
        self._namespaces = frozenset(namespaces)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="provisioner", daemon=True)

    def ensure_class(self) -> None:
        """Create the StorageClass if absent; ApiError or OSError if the server refuses."""
        path = f"/apis/storage.k8s.io/v1/storageclasses/{claims.STORAGE_CLASS}"
        if self._api.get(path) is not None:
            return
        try:
            self._api.request(
                "POST", "/apis/storage.k8s.io/v1/storageclasses", claims.storage_class()
            )
            LOG.info("created StorageClass %s (the default class)", claims.STORAGE_CLASS)
        except ApiError as exc:
            if exc.status != 409:
                raise

    def start(self) -> None:
        self._volumes_dir.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(JOIN_S)

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                self.sync()
            except (ApiError, OSError, KeyError, ValueError) as exc:
                LOG.warning("provisioner: sync failed (retrying): %s", exc)
            except Exception:
                LOG.exception("provisioner: sync failed unexpectedly (retrying)")
            self._stopped.wait(POLL_S)

    def sync(self) -> None:
        """One round: provision what waits, delete what was released."""
        listing = self._api.request("GET", "/api/v1/persistentvolumeclaims")
        for claim in listing.get("items") or []:
            if claims.wants_volume(claim, self._namespaces):
                self._provision(claim)
        volumes = self._api.request("GET", "/api/v1/persistentvolumes")
        for volume in volumes.get("items") or []:
            if claims.should_delete(volume, self._volumes_dir):
                self._delete(volume)

    def _provision(self, claim: JsonObject) -> None:
        volume = claims.persistent_volume(claim, self._node_name, self._volumes_dir)
        name = volume["metadata"]["name"]
        Path(volume["spec"]["hostPath"]["path"]).mkdir(parents=True, exist_ok=True)
        try:
            self._api.request("POST", "/api/v1/persistentvolumes", volume)
        except ApiError as exc:
            if exc.status == 409:
                return  # made already; the PV controller binds it
            raise
        metadata = claim["metadata"]
        LOG.info("provisioned %s for claim %s/%s", name, metadata["namespace"], metadata["name"])

    def _delete(self, volume: JsonObject) -> None:
        name = volume["metadata"]["name"]
        directory = claims.volume_dir(volume, self._volumes_dir)
        if directory is not None and directory.exists():
            shutil.rmtree(directory)
        try:
            self._api.request(
                "DELETE",
                f"/api/v1/persistentvolumes/{name}",
                {
                    "apiVersion": "v1",
                    "kind": "DeleteOptions",
                    "preconditions": {"uid": volume["metadata"]["uid"]},
                },
            )
        except ApiError as exc:
            if not (exc.not_found or exc.conflict):
                raise
            return
        LOG.info("deleted released volume %s and its directory", name)
