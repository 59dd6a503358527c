"""The kconnect operator (placeholder until the KafkaConnector issue)."""
