"""A JSON Schema (draft 2020-12) validator for the keywords the platform's OpenAPI document uses,
in the standard library only. `validate(value, schema, document)` returns a list of errors, each
"<where>: <what>"; an empty list means the value matches. `$ref`s are resolved in `document`.
A keyword it does not know fails loudly, so that a schema it cannot check is never passed."""

import re

KNOWN = {
    "type", "enum", "const", "properties", "required", "additionalProperties", "items",
    "prefixItems", "anyOf", "oneOf", "allOf", "not", "$ref", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "minItems", "maxItems",
    "pattern", "format", "propertyNames", "patternProperties",
    # Annotations: they describe, they do not constrain.
    "description", "title", "default", "examples", "example", "deprecated", "readOnly",
    "writeOnly", "$comment", "contentEncoding", "contentMediaType", "id",
}

DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def validate(value, schema, document, where="$"):
    errors = []
    check(value, schema, document, where, errors)
    return errors


def check(value, schema, document, where, errors):
    if schema is True or schema == {}:
        return
    if schema is False:
        errors.append(f"{where}: no value is allowed here")
        return
    unknown = set(schema) - KNOWN
    if unknown:
        errors.append(f"{where}: the validator does not know {sorted(unknown)}")
        return
    if "$ref" in schema:
        target = document
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        check(value, target, document, where, errors)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(is_type(value, t) for t in types):
            errors.append(f"{where}: expected {'/'.join(types)}, got {kind(value)}")
            return
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{where}: expected {schema['const']!r}, got {value!r}")
    for keyword in ("anyOf", "oneOf"):
        if keyword in schema:
            passing = [b for b in schema[keyword] if not validate(value, b, document, where)]
            if keyword == "anyOf" and not passing:
                errors.append(f"{where}: matches none of anyOf: " + "; ".join(
                    validate(value, schema[keyword][0], document, where)[:2]))
            if keyword == "oneOf" and len(passing) != 1:
                errors.append(f"{where}: matches {len(passing)} branches of oneOf, not 1")
    for branch in schema.get("allOf", []):
        check(value, branch, document, where, errors)
    if "not" in schema and not validate(value, schema["not"], document, where):
        errors.append(f"{where}: matches a schema it must not")
    if isinstance(value, dict):
        check_object(value, schema, document, where, errors)
    if isinstance(value, list):
        for i, item in enumerate(value):
            if i < len(schema.get("prefixItems", [])):
                check(item, schema["prefixItems"][i], document, f"{where}[{i}]", errors)
            elif "items" in schema:
                check(item, schema["items"], document, f"{where}[{i}]", errors)
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{where}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{where}: more than {schema['maxItems']} items")
    if is_number(value):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{where}: {value} < minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{where}: {value} > maximum {schema['maximum']}")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            errors.append(f"{where}: {value} <= exclusiveMinimum {schema['exclusiveMinimum']}")
        if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
            errors.append(f"{where}: {value} >= exclusiveMaximum {schema['exclusiveMaximum']}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            errors.append(f"{where}: shorter than {schema['minLength']}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{where}: longer than {schema['maxLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{where}: {value!r} does not match {schema['pattern']}")
        if schema.get("format") == "date-time" and not DATE_TIME.match(value):
            errors.append(f"{where}: {value!r} is not a date-time")


def check_object(value, schema, document, where, errors):
    properties = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in value:
            errors.append(f"{where}: missing required {name!r}")
    for name, item in value.items():
        path = f"{where}.{name}"
        if "propertyNames" in schema:
            check(name, schema["propertyNames"], document, f"{where} key {name!r}", errors)
        matched = False
        if name in properties:
            check(item, properties[name], document, path, errors)
            matched = True
        for pattern, sub in schema.get("patternProperties", {}).items():
            if re.search(pattern, name):
                check(item, sub, document, path, errors)
                matched = True
        if not matched and "additionalProperties" in schema:
            check(item, schema["additionalProperties"], document, path, errors)


def is_type(value, name):
    return {
        "null": value is None,
        "boolean": isinstance(value, bool),
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
        "string": isinstance(value, str),
        "number": is_number(value),
        "integer": is_number(value) and float(value).is_integer(),
    }[name]


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def kind(value):
    for name in ("null", "boolean", "object", "array", "string", "integer", "number"):
        if is_type(value, name):
            return name
    return type(value).__name__
