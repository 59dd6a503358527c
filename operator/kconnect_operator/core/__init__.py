"""The operator's pure core: what both resources share, with no I/O.

Names, labels and owner references of the children (`manifests`), the spec shapes both CRDs are
built from (`shapes`), the pieces of the worker pod template (`manifests`), which children to apply
(`children`), what the workers' pods and REST answers say and the conditions built from them
(`status`), the pure half of leader election (`election`), and the operator's options (`options`).

Nothing here imports aiohttp, kopf, confluent_kafka or asyncio, nor `io` or a resource package
(import-linter checks it): every function is a function of its arguments, tested without a
cluster.
"""
