"""The operator's I/O: everything that talks to the API server, the workers or a socket.

The one Kubernetes API client and the login (`kube`), the workers' REST client (`worker_rest`),
leader election's Lease calls (`leader`), the health and metrics server (`health`), the operator's
metric families (`operator_metrics`), and the steps of a pass both resources take with them
(`shell`: the clients, the resources' loops, claiming, applying children, log levels). It imports
the pure core, never a resource package.
"""
