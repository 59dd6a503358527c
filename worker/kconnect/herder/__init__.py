"""Herders own connector configs, target states and task assignments, and answer the REST API."""
