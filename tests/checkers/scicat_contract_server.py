"""A local SciCat contract server for tests (SciCat's backend needs MongoDB, which no reachable
registry ships). It enforces, for the calls mxpipe makes, what the backend enforces:

- every request body is validated (Python jsonschema, Draft 4 + formats) against the request
  schema the backend's own OpenAPI document (--openapi, a saved /explorer-json) gives for that
  path and method, with every object schema closed: an unknown field answers 400
  {"message": ["property X should not exist"]}, as the backend's whitelisting ValidationPipe does;
- POST /api/v3/auth/login {username, password} → 201 {access_token, expires_in, …}; every other
  route needs `Authorization: Bearer <token>`; a missing, unknown or expired token → 401;
- datasets (v4): a client pid must match --pid-regex (else 400 "PID is not following required
  standards"), a duplicate pid → 409, no pid → PREFIX/uuid4; a dataset without `owner` → 500
  (observed on the real backend); quantities in scientificMetadata get valueSI/unitSI added (SI
  conversion is not emulated: the unit is kept), as SciCat's interceptor adds them;
  GET/PATCH /api/v4/datasets/{pid} (pid URL-encoded); GET /api/v4/datasets?filter={"where": …}
  with equality on fields, dotted paths and array elements;
- samples (v3): POST (duplicate sampleId → 409), GET/PATCH /api/v3/samples/{id};
- origdatablocks (v4): POST (the dataset must exist; its size and numberOfFiles are recomputed),
  GET ?filter=, PATCH /api/v4/origdatablocks/{id}; proposals (v3): POST, GET /{id};
- GET /explorer-json → the OpenAPI document (as the backend serves it);
- faults on demand: --fail-on-write N (the Nth write answers 500 and changes nothing),
  --expire-on-request N (every token expires at request N), --token-life S (expires_in);
- GET /test/counts → {"datasets": n, …}; GET /test/dump → everything (test inspection only).

Usage: scicat_contract_server.py --openapi openapi.json --password PW [--pid-regex RE]
       [--fail-on-write N] [--expire-on-request N]; prints "PORT <n>" and serves until killed."""
import argparse, copy, json, re, sys, threading, time, uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

import jsonschema


def close(schema):
    """Close every object schema that lists properties (the backend rejects unknown fields)."""
    if isinstance(schema, dict):
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        for v in schema.values():
            close(v)
    elif isinstance(schema, list):
        for v in schema:
            close(v)


class Reject(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


def matches(doc, where):
    for key, want in where.items():
        node = doc
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, list):
            if want not in node:
                return False
        elif node != want:
            return False
    return True


def add_si(v):
    if isinstance(v, dict):
        if "value" in v and "unit" in v:
            return {**v, "valueSI": v["value"], "unitSI": v["unit"]}
        return {k: add_si(x) for k, x in v.items()}
    return v


class State:
    def __init__(self, args):
        self.doc = json.load(open(args.openapi))
        components = copy.deepcopy(self.doc["components"])
        close(components)
        self.routes = []
        for path, ops in self.doc["paths"].items():
            for method, op in ops.items():
                ref = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
                if ref:
                    schema = {"$ref": ref, "components": components}
                    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())
                    self.routes.append((method.upper(), path.split("/"), ref.rsplit("/", 1)[1], validator))
        self.password, self.pid_regex = args.password, re.compile(args.pid_regex) if args.pid_regex else None
        self.fail_on_write, self.expire_on_request = args.fail_on_write, args.expire_on_request
        self.token_life, self.unauthorized = args.token_life, 0
        self.tokens, self.writes, self.requests = {}, 0, 0
        self.datasets, self.samples, self.blocks, self.proposals = {}, {}, {}, {}
        self.lock = threading.Lock()

    def validate(self, method, path, body):
        parts = path.split("/")
        for m, template, name, validator in self.routes:
            if m == method and len(template) == len(parts) and all(t == p or t.startswith("{") for t, p in zip(template, parts)):
                errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
                if errors:
                    msgs = []
                    for e in errors:
                        if e.validator == "additionalProperties":
                            extra = re.findall(r"'([^']+)' was unexpected", e.message) or [e.message]
                            msgs += [f"property {x} should not exist" for x in extra]
                        else:
                            msgs.append(f"{'.'.join(map(str, e.path)) or name}: {e.message}")
                    raise Reject(400, msgs)
                return
        raise Reject(404, f"Cannot {method} {path}")

    def write(self):
        self.writes += 1
        if self.fail_on_write and self.writes == self.fail_on_write:
            raise Reject(500, "Internal server error (injected failure)")

    def handle(self, method, path, query, headers, body):
        self.requests += 1
        if self.expire_on_request and self.requests == self.expire_on_request:
            self.tokens = {t: 0 for t in self.tokens}
        if path == "/explorer-json":
            return 200, self.doc
        if path.startswith("/test/"):
            if path == "/test/counts":
                return 200, {"datasets": len(self.datasets), "samples": len(self.samples),
                             "origdatablocks": len(self.blocks), "proposals": len(self.proposals),
                             "writes": self.writes, "unauthorized": self.unauthorized,
                             "logins": sum(1 for _ in self.tokens)}
            return 200, {"datasets": self.datasets, "samples": self.samples, "origdatablocks": self.blocks}
        if method in ("POST", "PATCH", "PUT"):
            self.validate(method, path, body)
        if path == "/api/v3/auth/login" and method == "POST":
            if body.get("password") != self.password:
                raise Reject(401, "Unauthorized")
            token = uuid.uuid4().hex
            self.tokens[token] = time.time() + self.token_life
            return 201, {"access_token": token, "id": token, "expires_in": self.token_life, "ttl": self.token_life,
                         "created": time.strftime("%Y-%m-%dT%H:%M:%SZ"), "userId": body["username"], "user": {"username": body["username"]}}
        auth = headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else None
        if token not in self.tokens or self.tokens[token] < time.time():
            self.unauthorized += 1
            raise Reject(401, "Unauthorized")
        seg = path.split("/")
        where = json.loads(query.get("filter", ["{}"])[0]).get("where", {})
        if path == "/api/v4/datasets":
            if method == "GET":
                return 200, [d for d in self.datasets.values() if matches(d, where)]
            pid = body.get("pid")
            if pid is not None and self.pid_regex and not self.pid_regex.fullmatch(pid):
                raise Reject(400, "PID is not following required standards")
            if pid in self.datasets:
                raise Reject(409, f"A dataset with pid {pid} already exists!")
            if "owner" not in body:
                raise Reject(500, "Dataset validation failed: owner: Path `owner` is required.")
            self.write()
            pid = pid or f"testprefix/{uuid.uuid4()}"
            now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
            stored = {**body, "pid": pid, "scientificMetadata": add_si(body.get("scientificMetadata", {})),
                      "createdAt": now, "updatedAt": now, "size": 0, "numberOfFiles": 0, "version": "v4"}
            self.datasets[pid] = stored
            return 201, stored
        if len(seg) == 5 and seg[1:4] == ["api", "v4", "datasets"]:
            pid = unquote(seg[4])
            if pid not in self.datasets:
                raise Reject(404, f"Dataset {pid} not found")
            if method == "GET":
                return 200, self.datasets[pid]
            self.write()
            for k, v in body.items():
                self.datasets[pid][k] = add_si(v) if k == "scientificMetadata" else v
            return 200, self.datasets[pid]
        if path == "/api/v3/samples" and method == "POST":
            sid = body.get("sampleId") or str(uuid.uuid4())
            if sid in self.samples:
                raise Reject(409, f"Sample {sid} already exists")
            self.write()
            self.samples[sid] = {**body, "sampleId": sid}
            return 201, self.samples[sid]
        if len(seg) == 5 and seg[1:4] == ["api", "v3", "samples"]:
            sid = unquote(seg[4])
            if sid not in self.samples:
                raise Reject(404, f"Sample {sid} not found")
            if method == "GET":
                return 200, self.samples[sid]
            self.write()
            self.samples[sid].update(body)
            return 200, self.samples[sid]
        if path == "/api/v4/origdatablocks":
            if method == "GET":
                return 200, [b for b in self.blocks.values() if matches(b, where)]
            if body["datasetId"] not in self.datasets:
                raise Reject(400, f"Dataset {body['datasetId']} does not exist")
            self.write()
            oid = str(uuid.uuid4())
            self.blocks[oid] = {**body, "_id": oid}
            self.recount(body["datasetId"])
            return 201, self.blocks[oid]
        if len(seg) == 5 and seg[1:4] == ["api", "v4", "origdatablocks"]:
            oid = unquote(seg[4])
            if oid not in self.blocks:
                raise Reject(404, f"OrigDatablock {oid} not found")
            if method == "GET":
                return 200, self.blocks[oid]
            self.write()
            self.blocks[oid].update(body)
            self.recount(self.blocks[oid]["datasetId"])
            return 200, self.blocks[oid]
        if path == "/api/v3/proposals" and method == "POST":
            if body["proposalId"] in self.proposals:
                raise Reject(409, "Proposal already exists")
            self.write()
            self.proposals[body["proposalId"]] = body
            return 201, body
        if len(seg) == 5 and seg[1:4] == ["api", "v3", "proposals"] and method == "GET":
            pid = unquote(seg[4])
            if pid not in self.proposals:
                raise Reject(404, f"Proposal {pid} not found")
            return 200, self.proposals[pid]
        raise Reject(404, f"Cannot {method} {path}")

    def recount(self, pid):
        files = [f for b in self.blocks.values() if b["datasetId"] == pid for f in b["dataFileList"]]
        self.datasets[pid]["size"] = sum(f["size"] for f in files)
        self.datasets[pid]["numberOfFiles"] = len(files)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--openapi", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--pid-regex")
    p.add_argument("--fail-on-write", type=int)
    p.add_argument("--expire-on-request", type=int)
    p.add_argument("--token-life", type=float, default=3600.0, help="seconds a token lives (expires_in)")
    p.add_argument("--latency-ms", type=float, default=0.0,
                   help="answer every request this much later (a backend across a network); requests wait side by side")
    args = p.parse_args()
    state = State(args)
    latency = args.latency_ms / 1000.0

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do(self, method):
            u = urlparse(self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                if method in ("POST", "PATCH", "PUT"):
                    if not self.headers.get("Content-Type", "").startswith("application/json"):
                        raise Reject(400, "expected a JSON body (Content-Type: application/json)")
                    try:
                        body = json.loads(raw or b"null")
                    except ValueError:
                        raise Reject(400, "the body is not JSON")
                    if not isinstance(body, dict):
                        raise Reject(400, "the body is not a JSON object")
                else:
                    body = None
                if latency:
                    time.sleep(latency)
                with state.lock:
                    status, out = state.handle(method, u.path, parse_qs(u.query), self.headers, body)
            except Reject as e:
                status, out = e.status, {"statusCode": e.status, "message": e.message}
            data = json.dumps(out).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self.do("GET")

        def do_POST(self):
            self.do("POST")

        def do_PATCH(self):
            self.do("PATCH")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
