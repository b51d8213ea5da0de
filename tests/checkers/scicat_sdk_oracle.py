"""Second oracle for SciCat request bodies: the pydantic DTOs of PyPI scicat-sdk-py (generated
from the backend's OpenAPI document). Reads `mxpipe export scicat --dry-run` JSON lines on
stdin; each body is loaded with its route's model (required fields, types, formats). The SDK
ignores unknown fields, so every key is also checked against the model's declared properties
(nested DataFile and TechniqueClass items too). Prints "checked N" or the problems (exit 1)."""
import json, sys

from scicat_sdk_py.models import (CreateDatasetDto, CreateOrigDatablockDto, CreateProposalDto,
                                  CreateSampleDto, DataFile, PartialUpdateDatasetDto,
                                  PartialUpdateOrigDatablockDto, PartialUpdateSampleDto, TechniqueClass)

ROUTES = {
    ("POST", "/api/v4/datasets"): CreateDatasetDto,
    ("POST", "/api/v3/samples"): CreateSampleDto,
    ("POST", "/api/v4/origdatablocks"): CreateOrigDatablockDto,
    ("POST", "/api/v3/proposals"): CreateProposalDto,
    ("PATCH", "/api/v4/datasets"): PartialUpdateDatasetDto,
    ("PATCH", "/api/v3/samples"): PartialUpdateSampleDto,
    ("PATCH", "/api/v4/origdatablocks"): PartialUpdateOrigDatablockDto,
}
NESTED = {"dataFileList": DataFile, "techniques": TechniqueClass}


def properties(model):
    return getattr(model, f"_{model.__name__}__properties")


def unknown(model, body, where):
    out = [f"{where}: unknown field {k!r} for {model.__name__}" for k in body if k not in properties(model)]
    for k, item_model in NESTED.items():
        for i, item in enumerate(body.get(k) or []):
            out += unknown(item_model, item, f"{where}/{k}/{i}")
    return out


problems, n = [], 0
for line in sys.stdin:
    req = json.loads(line)
    method, path = req["method"], req["path"]
    base = "/".join(path.split("/")[:4])
    model = ROUTES.get((method, path if method == "POST" else base))
    if model is None:
        problems.append(f"{method} {path}: no SDK model for this route")
        continue
    n += 1
    try:
        model.from_dict(req["body"])
    except Exception as e:  # pydantic ValidationError: missing/ill-typed field
        problems.append(f"{method} {path}: {model.__name__}: {e}")
    problems += unknown(model, req["body"], f"{method} {path}")
if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"checked {n}")
