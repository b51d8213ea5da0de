"""A local ICAT REST contract server for tests (ICAT's own server needs a Jakarta EE container and
Maven Central, neither available here). It enforces what ICATRest.java and the entity
definitions enforce for the calls mxpipe makes:

- sessions: POST /icat/session (form field `json` with plugin + credentials) → {"sessionId"};
  PUT /icat/session/{id} refreshes; an unknown or expired session → 403 {"code":"SESSION"};
- POST /icat/entityManager must be form-encoded with `sessionId` and `entities` (a JSON list of
  {"Entity": {...}}); entity and field names are checked against the icatdata XSD given with
  --xsd (unknown → 400 BAD_PARAMETER); required fields (XSD elements without minOccurs="0");
  references {"id": n} must exist; nested one-to-many children are created with their parent;
  an object with "id" is updated; uniqueness keys → 400 OBJECT_ALREADY_EXISTS; one write is
  all-or-nothing; the answer is the list of new top-level ids;
- GET /icat/entityManager?sessionId=…&query=SELECT x FROM E x WHERE x.f = 'v' AND x.r.id = n
  → [{"E": {...}}] with references as {"id": n};
- faults on demand: --fail-on-write N (the Nth write answers 500 and changes nothing),
  --expire-on-request N (every session expires at request N);
- GET /test/counts → {"Entity": n, …} (test inspection, not ICAT).

Usage: icat_contract_server.py --xsd icatdata-6.2.xsd --password PW [--fail-on-write N]
       [--expire-on-request N]; prints "PORT <n>" and serves until killed."""
import argparse, json, re, sys, threading, time, uuid
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

XS = "{http://www.w3.org/2001/XMLSchema}"
UNIQUE = {
    "Facility": ["name"], "Investigation": ["facility", "name", "visitId"], "Instrument": ["facility", "name"],
    "InvestigationType": ["facility", "name"], "DatasetType": ["facility", "name"],
    "SampleType": ["facility", "name", "molecularFormula"], "ParameterType": ["facility", "name", "units"],
    "DatafileFormat": ["facility", "name", "version"], "Application": ["facility", "name", "version"],
    "Sample": ["investigation", "name"], "Dataset": ["investigation", "name"], "DatasetParameter": ["dataset", "type"],
    "Datafile": ["dataset", "name"], "DatasetInstrument": ["dataset", "instrument"],
    "DataCollectionDataset": ["dataCollection", "dataset"],
}


class IcatError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def load_entities(xsd):
    """Entity → {field: (type, required, many)} from the icatdata XSD."""
    root = ET.parse(xsd).getroot()
    types = {t.get("name"): t for t in root.iter(f"{XS}complexType")}
    data = types["data"]
    names = [e.get("type") for e in data.iter(f"{XS}element") if not e.get("type").endswith("Ref")]
    out = {}
    for n in names:
        fields = {}
        for e in types[n].iter(f"{XS}element"):
            many = e.get("maxOccurs") == "unbounded"
            fields[e.get("name")] = (e.get("type"), e.get("minOccurs") != "0" and not many, many)
        out[n[0].upper() + n[1:]] = fields
    return out


class State:
    def __init__(self, entities, password, fail_on_write, expire_on_request):
        self.entities, self.password = entities, password
        self.fail_on_write, self.expire_on_request = fail_on_write, expire_on_request
        self.tables = {e: {} for e in entities}
        self.index = {e: {} for e in entities}  # uniqueness key → id
        self.sessions, self.next_id, self.writes, self.requests = {}, 1, 0, 0
        self.lock = threading.Lock()

    def entity_of(self, type_name):
        base = type_name[:-3] if type_name.endswith("Ref") else type_name
        return base[0].upper() + base[1:]

    def check_session(self, sid):
        if sid not in self.sessions or self.sessions[sid] < time.time():
            raise IcatError(403, "SESSION", f"Unable to find user by sessionid: {sid}")

    def validate(self, entity, obj, pending, parent=None):
        """Check one object (and nested children); return a plan of (entity, id or None, fields, children)."""
        if entity not in self.entities:
            raise IcatError(400, "BAD_PARAMETER", f"Unknown entity {entity}")
        if not isinstance(obj, dict):
            raise IcatError(400, "BAD_PARAMETER", f"{entity} must be an object")
        defs = self.entities[entity]
        fields, children = {}, []
        for k, v in obj.items():
            if k == "id":
                continue
            if k not in defs:
                raise IcatError(400, "BAD_PARAMETER", f"Field {k} not found in {entity}")
            ftype, _, many = defs[k]
            if many:
                child = self.entity_of(ftype)
                back = next((f for f, (t, _, m) in self.entities[child].items() if not m and self.entity_of(t) == entity), None)
                for c in v:
                    children.append((child, back, self.validate(child, c, pending, parent=entity)))
            elif isinstance(v, dict):
                target = self.entity_of(ftype)
                if "id" not in v or v["id"] not in self.tables[target]:
                    raise IcatError(404, "NO_SUCH_OBJECT_FOUND", f"{target}[id:{v.get('id')}] not found (field {entity}.{k})")
                fields[k] = {"id": v["id"]}
            else:
                fields[k] = v
        oid = obj.get("id")
        if oid is not None and oid not in self.tables[entity]:
            raise IcatError(404, "NO_SUCH_OBJECT_FOUND", f"{entity}[id:{oid}] not found")
        if oid is None:
            for f, (t, required, many) in defs.items():
                is_parent = parent is not None and self.entity_of(t) == parent
                if required and f not in fields and not is_parent:
                    raise IcatError(400, "VALIDATION", f"{entity}.{f} cannot be null")
        return (entity, oid, fields, children)

    def key(self, entity, rec):
        return tuple(json.dumps(rec.get(f), sort_keys=True) for f in UNIQUE.get(entity, []))

    def apply(self, plan, undo, parent_ref=None):
        entity, oid, fields, children = plan
        table = self.tables[entity]
        rec = dict(table[oid]) if oid is not None else {}
        rec.update(fields)
        if parent_ref:
            rec[parent_ref[0]] = {"id": parent_ref[1]}
        index = self.index[entity]
        if entity in UNIQUE:
            k = self.key(entity, rec)
            if index.get(k, oid) != oid:
                raise IcatError(400, "OBJECT_ALREADY_EXISTS", f"{entity} exists with {dict(zip(UNIQUE[entity], k))}")
        if oid is None:
            oid = self.next_id
            self.next_id += 1
        before = table.get(oid)
        undo.append((entity, oid, before))
        if entity in UNIQUE:
            if before is not None:
                index.pop(self.key(entity, before), None)
            index[self.key(entity, rec)] = oid
        rec["id"] = oid
        table[oid] = rec
        for child, back, cplan in children:
            self.apply(cplan, undo, (back, oid))
        return oid

    def write(self, entities):
        self.writes += 1
        if self.fail_on_write and self.writes == self.fail_on_write:
            raise IcatError(500, "INTERNAL", "injected failure")
        plans = []
        for item in entities:
            if not isinstance(item, dict) or len(item) != 1:
                raise IcatError(400, "BAD_PARAMETER", "each entity must be {\"Entity\": {...}}")
            (entity, obj), = item.items()
            plans.append(self.validate(entity, obj, None))
        undo, next_id = [], self.next_id
        try:
            new = []
            for p in plans:
                oid = self.apply(p, undo)
                if p[1] is None:
                    new.append(oid)
            return new
        except IcatError:
            for entity, oid, before in reversed(undo):
                if before is None:
                    del self.tables[entity][oid]
                else:
                    self.tables[entity][oid] = before
            for entity in {u[0] for u in undo} & set(UNIQUE):
                self.index[entity] = {self.key(entity, r): i for i, r in self.tables[entity].items()}
            self.next_id = next_id
            raise

    def search(self, query):
        m = re.fullmatch(r"SELECT x FROM (\w+) x WHERE (.+?)(?: INCLUDE .*)?", query.strip())
        if not m or m.group(1) not in self.tables:
            raise IcatError(400, "BAD_PARAMETER", f"cannot parse query {query!r}")
        entity, conds = m.group(1), []
        for c in re.split(r" AND ", m.group(2)):
            t = re.fullmatch(r"x\.(\w+) = '((?:[^']|'')*)'", c.strip())
            i = re.fullmatch(r"x\.(\w+)\.id = (\d+)", c.strip())
            if t:
                if t.group(1) not in self.entities[entity]:
                    raise IcatError(400, "BAD_PARAMETER", f"Field {t.group(1)} not found in {entity}")
                conds.append((t.group(1), t.group(2).replace("''", "'")))
            elif i:
                conds.append((i.group(1), {"id": int(i.group(2))}))
            else:
                raise IcatError(400, "BAD_PARAMETER", f"cannot parse condition {c!r}")
        if entity in UNIQUE and sorted(f for f, _ in conds) == sorted(UNIQUE[entity]):
            probe = dict(conds)
            oid = self.index[entity].get(self.key(entity, probe))
            return [{entity: self.tables[entity][oid]}] if oid is not None else []
        out = []
        for rec in self.tables[entity].values():
            if all(str(rec.get(f)) == v if isinstance(v, str) else rec.get(f) == v for f, v in conds):
                out.append({entity: rec})
        return out


def handler(state):
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def reply(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def form(self):
            if self.headers.get("Content-Type", "").split(";")[0] != "application/x-www-form-urlencoded":
                raise IcatError(400, "BAD_PARAMETER", "expected application/x-www-form-urlencoded")
            n = int(self.headers.get("Content-Length", 0))
            return {k: v[0] for k, v in parse_qs(self.rfile.read(n).decode()).items()}

        def handle_any(self, method):
            url = urlparse(self.path)
            try:
                if state.latency:
                    time.sleep(state.latency)
                with state.lock:
                    state.requests += 1
                    if state.expire_on_request and state.requests == state.expire_on_request:
                        state.sessions.clear()
                    if method == "GET" and url.path == "/test/counts":
                        return self.reply(200, {e: len(t) for e, t in state.tables.items() if t})
                    if method == "POST" and url.path == "/icat/session":
                        body = json.loads(self.form().get("json", "{}"))
                        creds = {k: v for c in body.get("credentials", []) for k, v in c.items()}
                        if body.get("plugin") != "db" or creds.get("password") != state.password or not creds.get("username"):
                            raise IcatError(403, "SESSION", "The username and password do not match")
                        sid = str(uuid.uuid4())
                        state.sessions[sid] = time.time() + 7200
                        return self.reply(200, {"sessionId": sid})
                    if method == "PUT" and url.path.startswith("/icat/session/"):
                        sid = url.path.rsplit("/", 1)[1]
                        state.check_session(sid)
                        state.sessions[sid] = time.time() + 7200
                        return self.reply(200, {})
                    if url.path == "/icat/entityManager" and method == "POST":
                        f = self.form()
                        if "sessionId" not in f or "entities" not in f:
                            raise IcatError(400, "BAD_PARAMETER", "sessionId and entities are required")
                        state.check_session(f["sessionId"])
                        return self.reply(200, state.write(json.loads(f["entities"])))
                    if url.path == "/icat/entityManager" and method == "GET":
                        q = {k: v[0] for k, v in parse_qs(url.query).items()}
                        state.check_session(q.get("sessionId", ""))
                        return self.reply(200, state.search(q.get("query", "")))
                    raise IcatError(404, "NOT_FOUND", f"{method} {url.path}")
            except IcatError as e:
                return self.reply(e.status, {"code": e.code, "message": e.message})
            except (ValueError, KeyError) as e:
                return self.reply(400, {"code": "BAD_PARAMETER", "message": str(e)})

        def do_GET(self):
            self.handle_any("GET")

        def do_POST(self):
            self.handle_any("POST")

        def do_PUT(self):
            self.handle_any("PUT")

    return H


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--xsd", required=True)
    a.add_argument("--password", required=True)
    a.add_argument("--fail-on-write", type=int, default=0)
    a.add_argument("--expire-on-request", type=int, default=0)
    a.add_argument("--latency-ms", type=float, default=0.0,
                   help="answer every request this much later (a server across a network); requests wait side by side")
    args = a.parse_args()
    state = State(load_entities(args.xsd), args.password, args.fail_on_write, args.expire_on_request)
    state.latency = args.latency_ms / 1000.0
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(state))
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
