#!/usr/bin/env python3
"""Load for `mxpipe serve`: N distinct copies of an MXLIMS message posted by C concurrent clients.

Usage: serve-load.py BASE_URL TOKEN MESSAGE.json N CLIENTS [--offset K]

Each copy has every uuid's last 12 hex digits replaced by its number (and its own message id), so
every copy is new to the store (`--offset K` numbers them from K + 1, for a second distinct set).
Prints one JSON object: statuses, messages/s, latency p50/p99 (seconds), and the first few
failures. Running it twice with the same arguments re-posts the same copies.
Needs only `requests` (PyPI).
"""
import json
import re
import sys
import threading
import time

import requests

OFFSET = 0


def copies(text, n):
    uuids = sorted(set(re.findall(r'"uuid"\s*:\s*"([0-9a-f-]{36})"', text)))
    for i in range(n):
        t = text
        for u in uuids:
            t = t.replace(u, f"{u[:24]}{i + 1 + OFFSET:012x}")
        yield t.encode()


def main():
    global OFFSET
    base, token, path, n, clients = sys.argv[1:6]
    if "--offset" in sys.argv:
        OFFSET = int(sys.argv[sys.argv.index("--offset") + 1])
    n, clients = int(n), int(clients)
    bodies = list(copies(open(path).read(), n))
    lock = threading.Lock()
    latencies, statuses, failures = [], {}, []
    next_index = [0]

    def worker():
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        session.headers["Content-Type"] = "application/json"
        while True:
            with lock:
                i = next_index[0]
                next_index[0] += 1
            if i >= n:
                return
            started = time.perf_counter()
            try:
                r = session.post(f"{base}/v1/messages", data=bodies[i], timeout=600)
                status, text = r.status_code, r.text
            except requests.RequestException as e:
                status, text = 0, str(e)
            took = time.perf_counter() - started
            with lock:
                latencies.append(took)
                statuses[status] = statuses.get(status, 0) + 1
                if status not in (200, 201) and len(failures) < 5:
                    failures.append({"index": i, "status": status, "body": text[:500]})

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    latencies.sort()

    def pct(p):
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))], 4) if latencies else None

    print(json.dumps({
        "messages": n, "clients": clients, "seconds": round(wall, 2),
        "messages_per_s": round(n / wall, 1), "p50_s": pct(0.50), "p99_s": pct(0.99),
        "statuses": {str(k): v for k, v in sorted(statuses.items())}, "failures": failures,
    }))


if __name__ == "__main__":
    main()
