"""A local DataCite REST API contract server for tests (api.datacite.org cannot be reached from
CI, and mxpipe must never create real DOIs in a test). It enforces, for the calls mxpipe makes,
what DataCite's API (lupo) does, per ../shared/notes/pids-lineage.md §1 and §3:

- HTTP Basic auth with --repository / --password; a wrong or missing one → 401
  {"errors": [{"status": "401", "title": "Bad credentials."}]};
- POST /dois: `Content-Type: application/vnd.api+json`; a JSON:API body {"data": {"type":
  "dois", "attributes": {…}}} (no `data` → 422 "You need to provide a payload following the
  JSONAPI spec"); the DOI's prefix must be --prefix (else 403); the attributes are validated
  with the PyPI `datacite` package's DataCite Metadata Schema 4.5 JSON Schema
  (`datacite.schema45.validator`, on the flat attributes as the package expects) — every error
  → 422 {"errors": [{"source": …, "title": …}]}; DataCite does not check URL and date formats
  in the schema, lupo does for `url`: a url that is not http(s) → 422 "URL is not valid"; a DOI
  already registered → 422 "This DOI has already been taken"; otherwise 201 with the DOI, state
  `findable` for event publish, `registered` for register, else `draft`;
- GET /dois/{doi} → 200 {"data": …} or 404;
- faults on demand: --unavailable N (the first N POSTs answer 503), --lose-answers N (the first N
  successful POSTs store the DOI but answer 503, as a lost answer would look), --rate-limit N
  (the first N POSTs answer 429 with Retry-After: 1);
- GET /test/dois → every DOI held; GET /test/requests → every POST body received.

Usage: datacite_contract_server.py --repository ID --password PW --prefix 10.80000 [faults];
prints "PORT <n>" and serves until killed."""
import argparse, base64, json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

from datacite import schema45

ARGS = None
LOCK = threading.Lock()
DOIS = {}
REQUESTS = []
COUNTS = {"posts": 0, "successes": 0}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def answer(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/vnd.api+json")
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def authorized(self):
        want = "Basic " + base64.b64encode(f"{ARGS.repository}:{ARGS.password}".encode()).decode()
        if self.headers.get("Authorization") != want:
            self.answer(401, {"errors": [{"status": "401", "title": "Bad credentials."}]})
            return False
        return True

    def do_GET(self):
        if self.path == "/test/dois":
            with LOCK:
                return self.answer(200, DOIS)
        if self.path == "/test/requests":
            with LOCK:
                return self.answer(200, REQUESTS)
        if self.path.startswith("/dois/"):
            if not self.authorized():
                return
            doi = unquote(self.path[len("/dois/"):]).lower()
            with LOCK:
                held = DOIS.get(doi)
            if held is None:
                return self.answer(404, {"errors": [{"status": "404", "title": "The resource you are looking for doesn't exist."}]})
            return self.answer(200, {"data": {"id": doi, "type": "dois", "attributes": held}})
        self.answer(404, {"errors": [{"status": "404", "title": "not found"}]})

    def do_POST(self):
        if self.path != "/dois":
            return self.answer(404, {"errors": [{"status": "404", "title": "not found"}]})
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        with LOCK:
            COUNTS["posts"] += 1
            n = COUNTS["posts"]
        if not self.authorized():
            return
        if n <= ARGS.rate_limit:
            return self.answer(429, {"errors": [{"status": "429", "title": "Too many requests"}]}, [("Retry-After", "1")])
        if n <= ARGS.rate_limit + ARGS.unavailable:
            return self.answer(503, {"errors": [{"status": "503", "title": "Service unavailable"}]})
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/vnd.api+json":
            return self.answer(415, {"errors": [{"status": "415", "title": "The content type is not recognized."}]})
        try:
            body = json.loads(raw)
        except ValueError as e:
            return self.answer(400, {"errors": [{"status": "400", "title": f"A JSON text must at least contain two octets! ({e})"}]})
        with LOCK:
            REQUESTS.append(body)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or data.get("type") != "dois" or not isinstance(data.get("attributes"), dict):
            return self.answer(422, {"errors": [{"status": "422", "title": "You need to provide a payload following the JSONAPI spec"}]})
        attrs = data["attributes"]
        doi = str(attrs.get("doi", "")).lower()
        if doi.split("/")[0] != ARGS.prefix:
            return self.answer(403, {"errors": [{"status": "403", "title": "You are not authorized to access this resource."}]})
        errors = []
        for e in schema45.validator.iter_errors(attrs):
            source = "/".join(str(p) for p in e.absolute_path) or "metadata"
            errors.append({"source": source, "title": e.message, "uid": doi})
        url = attrs.get("url")
        if not (isinstance(url, str) and url.startswith(("http://", "https://")) and " " not in url):
            errors.append({"source": "url", "title": "URL is not valid", "uid": doi})
        with LOCK:
            if doi in DOIS:
                errors.append({"source": "doi", "title": "This DOI has already been taken", "uid": doi})
        if errors:
            return self.answer(422, {"errors": errors})
        state = {"publish": "findable", "register": "registered"}.get(attrs.get("event"), "draft")
        held = dict(attrs, state=state)
        with LOCK:
            DOIS[doi] = held
            COUNTS["successes"] += 1
            lose = COUNTS["successes"] <= ARGS.lose_answers
        if lose:
            return self.answer(503, {"errors": [{"status": "503", "title": "Service unavailable"}]})
        self.answer(201, {"data": {"id": doi, "type": "dois", "attributes": held}})


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--repository", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--prefix", required=True)
    p.add_argument("--unavailable", type=int, default=0)
    p.add_argument("--lose-answers", type=int, default=0)
    p.add_argument("--rate-limit", type=int, default=0)
    ARGS = p.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
