"""Hypothesis strategies for the JSON Schemas of the OpenAPI document: values the document describes.

Covers the subset the API's models produce ($ref, oneOf/anyOf, const, enum,
strings with pattern or format, bounded numbers, arrays and objects); an
array is kept to a few items. (hypothesis-jsonschema would do this, but its
current release does not work with the Hypothesis we pin.)
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

Schema = dict[str, Any]
NOW = datetime.now(timezone.utc)


def from_schema(schema: Schema, components: dict[str, Schema]) -> st.SearchStrategy[Any]:
    """Values valid against ``schema``, whose ``$ref`` point into ``components``."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return st.deferred(lambda: from_schema(components[name], components))
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return st.one_of([from_schema(option, components) for option in schema[key]])
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "string":
        return _string(schema)
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "number":
        return st.floats(schema.get("minimum"), schema.get("maximum"), allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        items = from_schema(schema.get("items", {}), components) if schema.get("items") else st.none()
        return st.lists(items, min_size=schema.get("minItems", 0), max_size=min(schema.get("maxItems", 3), 3))
    if kind == "object":
        return _object(schema, components)
    return st.none() | st.booleans() | st.integers() | st.text(max_size=10)


def _string(schema: Schema) -> st.SearchStrategy[str]:
    examples = st.sampled_from(schema["examples"]) if schema.get("examples") else st.nothing()
    if schema.get("format") == "date-time":
        # Around now: some in the past, some within a month, some further.
        offsets = st.integers(-3 * 86_400, 40 * 86_400).map(lambda s: NOW + timedelta(seconds=s))
        return examples | offsets.map(lambda moment: moment.isoformat().replace("+00:00", "Z"))
    if schema.get("format") == "uri":
        return examples | st.sampled_from(["https://example.com/hook", "https://93.184.216.34/x", "http://10.0.0.1/"])
    if "pattern" in schema:
        return examples | st.from_regex(schema["pattern"], fullmatch=True)
    return examples | st.text(min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 30), 30))


def _object(schema: Schema, components: dict[str, Schema]) -> st.SearchStrategy[dict[str, Any]]:
    properties = schema.get("properties", {})
    required = set(schema.get("required", ()))
    if not properties:
        return st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8), max_size=3)
    return st.fixed_dictionaries(
        {name: from_schema(sub, components) for name, sub in properties.items() if name in required},
        optional={name: from_schema(sub, components) for name, sub in properties.items() if name not in required},
    )
