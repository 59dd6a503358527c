"""The base of connector config models.

A connector describes its keys as a pydantic model whose field aliases are the dotted Kafka
Connect keys (`batch.size`). The same model validates a config before anything starts, drives
`PUT /connector-plugins/{p}/config/validate`, and documents the keys in
`GET /connector-plugins/{p}/config`. Keys the model doesn't know are ignored here: the runtime's
own keys (`name`, `tasks.max`, converters, transforms) are checked by the runtime.

A field may say how it shows in Kafka Connect's config definitions through `json_schema_extra`:
`{"importance": "HIGH", "group": "Common", "display_name": "..."}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Self

from pydantic import BaseModel, ConfigDict

from kconnect.config.validation import validate_model


class ConnectorConfig(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True, extra="ignore", frozen=True, str_strip_whitespace=True
    )

    @classmethod
    def parse(cls, props: Mapping[str, str], source: str | None = None) -> Self:
        """The validated config, or a `ConfigError` naming each bad key, its value and the rule."""
        return validate_model(cls, props, source)
