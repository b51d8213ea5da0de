#!/usr/bin/env python3
"""Check recorded HTTP exchanges against an OpenAPI document with openapi-core (PyPI).

Usage: openapi_responses.py OPENAPI.json EXCHANGES.jsonl [--require-all]

Each line of EXCHANGES is {"base", "method", "path", "query", "status", "content_type",
"body_hex"}. Every response must be declared (path, method, status, media type) and its body
must match the declared schema. Object schemas are closed first (an object with `properties`
and no `additionalProperties` gets `additionalProperties: false`, `allOf` merged into one
object), so a field the document does not declare fails, as a strict client would.
`--require-all` also fails when an operation of the document was never exercised.
Prints one line per problem and a summary; exit 1 on any problem.
"""
import copy
import json
import sys
from urllib.parse import parse_qsl

from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse


def resolve(spec, node):
    while isinstance(node, dict) and "$ref" in node:
        name = node["$ref"].split("/")[-1]
        node = spec["components"]["schemas"][name]
    return node


def close(spec, schema):
    """A closed copy of `schema` (refs inlined, allOf merged)."""
    schema = copy.deepcopy(resolve(spec, schema))
    if not isinstance(schema, dict):
        return schema
    if "allOf" in schema:
        merged = {"type": "object", "properties": {}, "required": []}
        for part in schema.pop("allOf"):
            part = close(spec, part)
            merged["properties"].update(part.get("properties", {}))
            merged["required"] += part.get("required", [])
        merged.update({k: v for k, v in schema.items() if k not in ("type",)})
        schema = merged
    if "properties" in schema:
        schema["properties"] = {k: close(spec, v) for k, v in schema["properties"].items()}
        schema.setdefault("additionalProperties", False)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            schema[key] = close(spec, schema[key])
    for key in ("oneOf", "anyOf"):
        if key in schema:
            schema[key] = [close(spec, s) for s in schema[key]]
    return schema


def is_binary(schema):
    return isinstance(schema, dict) and schema.get("type") == "string" and schema.get("format") == "binary"


# What a binary answer of each media type starts (and ends) with.
MAGIC = {"application/vnd.apache.parquet": b"PAR1"}


def closed_document(spec):
    doc = copy.deepcopy(spec)
    for path in doc["paths"].values():
        for op in path.values():
            for response in op.get("responses", {}).values():
                for media in response.get("content", {}).values():
                    if is_binary(resolve(spec, media.get("schema"))):
                        # openapi-core has no bytes type: the media type is still checked, and
                        # the bytes by their format's magic number (MAGIC).
                        media["schema"] = {}
                    elif "schema" in media:
                        media["schema"] = close(spec, media["schema"])
    return doc


def main():
    spec_path, exchanges_path = sys.argv[1:3]
    require_all = "--require-all" in sys.argv[3:]
    spec = json.load(open(spec_path))
    api = OpenAPI.from_dict(closed_document(spec))
    problems, checked, seen = [], 0, set()
    for line in open(exchanges_path):
        if not line.strip():
            continue
        x = json.loads(line)
        if x["path"].startswith("/docs") or x["path"] == "/openapi.json":
            continue  # the Swagger UI page and the document itself, not API operations
        body = bytes.fromhex(x["body_hex"])
        media_type = (x["content_type"] or "").split(";")[0].strip()
        magic = MAGIC.get(media_type)
        if magic and not (body.startswith(magic) and body.endswith(magic)):
            problems.append(f'{x["method"]} {x["path"]}: a {media_type} answer that is not one: {body[:40]!r}')
            continue
        if media_type.startswith("text/"):
            body = body.decode("utf-8")  # a string for openapi-core's `type: string`
        request = MockRequest(
            x["base"], x["method"], x["path"], args=dict(parse_qsl(x.get("query") or "")),
        )
        response = MockResponse(body, status_code=x["status"], content_type=x["content_type"] or "")
        where = f'{x["method"]} {x["path"]}{"?" + x["query"] if x.get("query") else ""} -> {x["status"]} {x["content_type"]}'
        try:
            api.validate_response(request, response)
            checked += 1
            for pattern, item in spec["paths"].items():
                if match(pattern, x["path"]) and x["method"].lower() in item:
                    seen.add((pattern, x["method"].lower()))
        except Exception as e:  # every openapi-core validation error names its cause
            cause = getattr(e, "__cause__", None)
            details = "; ".join(str(s) for s in getattr(cause, "schema_errors", []) or [])
            problems.append(f"{where}: {type(e).__name__}: {e}{' — ' + details if details else ''}; body {body[:300]!r}")
    if require_all:
        for pattern, item in spec["paths"].items():
            for method in item:
                if (pattern, method) not in seen:
                    problems.append(f"{method.upper()} {pattern}: never exercised by the tests")
    for p in problems:
        print(p)
    print(f"{checked} responses match the OpenAPI document; {len(problems)} problems")
    sys.exit(1 if problems else 0)


def match(pattern, path):
    a, b = pattern.strip("/").split("/"), path.strip("/").split("/")
    return len(a) == len(b) and all(x == y or x.startswith("{") for x, y in zip(a, b))


if __name__ == "__main__":
    main()
