"""A small JSON Schema checker for the subset wanctl's schemas use.

Keywords understood: type (one or a list), properties, required,
additionalProperties (true/false), items, enum, minimum, maximum,
minLength, maxLength, pattern; annotations ($schema, $id, title,
description) are skipped.  Any other keyword in a schema is an error, so a
schema can never rely on a rule this checker would silently ignore.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from importlib import resources
from typing import Any

_ANNOTATIONS = {"$schema", "$id", "title", "description"}
_KNOWN = _ANNOTATIONS | {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
}


class SchemaError(ValueError):
    """The schema itself uses something this checker does not understand."""


def _is_type(value: Any, name: str) -> bool:
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "string":
        return isinstance(value, str)
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    raise SchemaError(f"unknown type {name!r}")


def validate(instance: Any, schema: Mapping[str, Any], path: str = "$") -> list[str]:
    """Every way ``instance`` breaks ``schema``, one message each; empty when it conforms."""
    unknown = set(schema) - _KNOWN
    if unknown:
        raise SchemaError(f"{path}: unsupported schema keywords {sorted(unknown)}")
    problems: list[str] = []
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(instance, t) for t in types):
            return [f"{path}: expected {' or '.join(types)}, got {json.dumps(instance)[:40]}"]
    if "enum" in schema and instance not in schema["enum"]:
        problems.append(f"{path}: {instance!r} is not one of {schema['enum']}")
    if _is_type(instance, "number"):
        if "minimum" in schema and instance < schema["minimum"]:
            problems.append(f"{path}: {instance} is below the minimum {schema['minimum']}")
        if "maximum" in schema and instance > schema["maximum"]:
            problems.append(f"{path}: {instance} is above the maximum {schema['maximum']}")
    if isinstance(instance, str):
        if "minLength" in schema and len(instance) < schema["minLength"]:
            problems.append(f"{path}: shorter than {schema['minLength']} characters")
        if "maxLength" in schema and len(instance) > schema["maxLength"]:
            problems.append(f"{path}: longer than {schema['maxLength']} characters")
        if "pattern" in schema and not re.search(schema["pattern"], instance):
            problems.append(f"{path}: {instance!r} does not match {schema['pattern']}")
    if isinstance(instance, list) and "items" in schema:
        for i, item in enumerate(instance):
            problems.extend(validate(item, schema["items"], f"{path}[{i}]"))
    if isinstance(instance, dict):
        properties: Mapping[str, Any] = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in instance:
                problems.append(f"{path}: missing required {key!r}")
        for key, value in instance.items():
            if key in properties:
                problems.extend(validate(value, properties[key], f"{path}.{key}"))
            elif schema.get("additionalProperties", True) is False:
                problems.append(f"{path}: unexpected member {key!r}")
    return problems


def load_schema(name: str) -> dict[str, Any]:
    """A schema shipped in the wanctl package, e.g. ``status.schema.json``."""
    text = resources.files("wanctl").joinpath(name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
