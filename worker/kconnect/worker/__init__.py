"""The worker runs connector and task instances: each task on a thread of its own, with its own
Kafka client."""
