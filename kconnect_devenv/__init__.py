"""The local development environment: real services on this machine for tests, demos, benchmarks.

Nothing here ships: neither the worker (``kconnect``) nor the operator (``kconnect_operator``) may
import it, and it imports no test tier, benchmark or example (import-linter checks both). The test
tiers (``tests/``, ``e2e/``), ``bench/``, ``examples/`` and the Makefile use it.

- :mod:`~kconnect_devenv.kafka`: a single-node Apache Kafka broker, fetched with Maven.
- :mod:`~kconnect_devenv.controlplane`: etcd, kube-apiserver and kube-controller-manager, built
  with Go.
- :mod:`~kconnect_devenv.node`: a real Kubernetes node beside it (containerd, kubelet, kube-proxy,
  kube-scheduler, CoreDNS; :mod:`~kconnect_devenv.nodebuild` builds them);
  :mod:`~kconnect_devenv.operatorrelease`: the operator installed on it from the Helm chart;
  :mod:`~kconnect_devenv.localvolumes`: volumes for its claims;
  :mod:`~kconnect_devenv.operatorplatform`: all of these with a broker, for demos and benchmarks.
- :mod:`~kconnect_devenv.cluster`: kubectl and the operator as a process, against that cluster.
- :mod:`~kconnect_devenv.engine`: a Docker engine of the project's own (Debian's dockerd, its own
  socket, data root and no network of its own).
- :mod:`~kconnect_devenv.baseimage` and :mod:`~kconnect_devenv.images`: the local Debian bases and
  the worker and operator images built on them from the Dockerfile (``make images``).
- :mod:`~kconnect_devenv.debian`: the Debian packages the services run on, installed once;
  :mod:`~kconnect_devenv.mounts`: what servers leave mounted, released.
- :mod:`~kconnect_devenv.lifecycle`: the lifecycle the broker and the control plane share (state
  file, lock, start, stop, log tails, command line); :mod:`~kconnect_devenv.builds`: their cached
  builds; :mod:`~kconnect_devenv.processes`: process plumbing.

Everything built or fetched lives under ``$KCONNECT_CACHE`` (default ``~/.cache/kconnect``). The
services themselves need only the standard library.
"""
