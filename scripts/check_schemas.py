#!/usr/bin/env python3
"""Cross-check mxpipe's generated JSON Schemas with an independent implementation (PyPI jsonschema).

1. Every file in schemas/ is a valid JSON Schema 2020-12 document.
2. Every valid sample validates against the generated message schema for its kind, and the
   deliberately invalid sample does not.
3. With ../shared/testdata present, every valid upstream conformance message validates too.
Exit status 1 on any disagreement.
"""
import json
import pathlib
import sys

import jsonschema

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "schemas"
failures = []


def kind(msg):
    if any(k in msg for k in ("Job", "Dataset", "Sample", "LogisticalSample")):
        return "MxlimsMessage"
    job_or_data = ("MxExperiment", "MxProcessing", "VolumeScan", "CollectionSweep", "ReflectionSet")
    if "Shipment" in msg and not any(k in msg for k in job_or_data):
        return "ShipmentMessage"
    return "MxlimsMessageStrict"


def check(path, expect_valid):
    msg = json.loads(path.read_text())
    schema = json.loads((SCHEMAS / "messages" / f"{kind(msg)}.json").read_text())
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(msg))
    if bool(errors) == expect_valid:
        detail = "; ".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:3])
        failures.append(f"{path}: expected {'valid' if expect_valid else 'invalid'}; {detail or 'no errors'}")


schema_files = sorted(SCHEMAS.rglob("*.json"))
for f in schema_files:
    try:
        jsonschema.Draft202012Validator.check_schema(json.loads(f.read_text()))
    except jsonschema.SchemaError as e:
        failures.append(f"{f}: not a valid 2020-12 schema: {e.message}")

samples = sorted((ROOT / "samples").glob("*.json"))
for s in samples:
    check(s, expect_valid=not s.name.startswith("invalid"))

conformance = ROOT.parent / "shared/testdata/mxlims/0.6.13/conformance"
upstream = sorted(p for p in conformance.rglob("*.json") if "/messages/" in str(p) and "/valid/" in str(p))
for p in upstream:
    check(p, expect_valid=True)

print(f"checked {len(schema_files)} schemas, {len(samples)} samples, {len(upstream)} upstream messages")
if failures:
    print("\n".join(failures), file=sys.stderr)
    sys.exit(1)
