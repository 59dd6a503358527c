"""Subject names: under which subject a record's schema is registered (pure).

Confluent's strategies, by the names of their classes in `io.confluent.kafka.serializers.subject`:
`TopicNameStrategy` (`<topic>-key`, `<topic>-value`; the default), `RecordNameStrategy` (the
record's fully qualified name) and `TopicRecordNameStrategy` (`<topic>-<record name>`). The
record name is the converter's to give: the Avro record's full name, the JSON Schema's `title`,
the Protobuf message's full name. A strategy that needs one fails with a `DataError` for a schema
that has none.
"""

from __future__ import annotations

from kconnect.converters.schemaregistry.config import SubjectNameStrategy
from kconnect.errors import DataError


def subject_name(
    strategy: SubjectNameStrategy, topic: str, is_key: bool, record_name: str | None
) -> str:
    if strategy is SubjectNameStrategy.TOPIC:
        return topic + ("-key" if is_key else "-value")
    if not record_name:
        raise DataError(
            f"{strategy.java_name} names the subject after the record, but the "
            f"{'key' if is_key else 'value'} schema of the record on topic '{topic}' has no "
            "name: give the schema a name, or use TopicNameStrategy"
        )
    if strategy is SubjectNameStrategy.RECORD:
        return record_name
    return f"{topic}-{record_name}"
