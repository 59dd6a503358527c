"""Finding plugins by name: entry points, dotted paths and Kafka Connect's Java class names."""
