"""A plain load generator for webhook listeners: stdlib only, run in its own interpreter.

    python -I -S webhook_sender.py PLAN.json  >  RESULTS.json

PLAN.json: {"url": "http://127.0.0.1:PORT/path", "concurrency": 32,
            "bursts": [[{"body": "<utf-8 text>", "headers": {...}}, ...], ...]}
Each burst's events are sent once each, in order of a shared counter, by `concurrency`
threads, each on its own keep-alive http.client connection (kept across bursts; reopened
if the server closes it). Prints {"bursts": [{"statuses": [...], "latencies_s": [...],
"wall_s": W, "cpu_s": C}, ...]}; status -1 is a transport error. Nothing here imports the
code under test: `-S` keeps even site-packages out.
"""

import http.client
import json
import sys
import threading
import time
from urllib.parse import urlsplit


def send_burst(address, path, events, connections):
    statuses = [0] * len(events)
    latencies = [0.0] * len(events)
    counter = iter(range(len(events)))
    lock = threading.Lock()

    def worker(slot):
        while True:
            with lock:
                index = next(counter, None)
            if index is None:
                return
            body, headers = events[index]
            started = time.perf_counter()
            try:
                if connections[slot] is None:
                    connections[slot] = http.client.HTTPConnection(*address, timeout=30)
                connection = connections[slot]
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                statuses[index] = response.status
                if response.will_close:
                    connection.close()
                    connections[slot] = None
            except (OSError, http.client.HTTPException):
                statuses[index] = -1
                if connections[slot] is not None:
                    connections[slot].close()
                connections[slot] = None
            latencies[index] = time.perf_counter() - started

    threads = [threading.Thread(target=worker, args=(slot,)) for slot in range(len(connections))]
    cpu, started = time.process_time(), time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"statuses": statuses, "latencies_s": latencies,
            "wall_s": time.perf_counter() - started, "cpu_s": time.process_time() - cpu}


def main(plan_path):
    with open(plan_path, encoding="utf-8") as handle:
        plan = json.load(handle)
    parts = urlsplit(plan["url"])
    address = (parts.hostname, parts.port or 80)
    connections = [None] * int(plan["concurrency"])
    results = []
    for burst in plan["bursts"]:  # encoded before the clock starts
        events = [(e["body"].encode("utf-8"), e["headers"]) for e in burst]
        results.append(send_burst(address, parts.path or "/", events, connections))
    for connection in connections:
        if connection is not None:
            connection.close()
    json.dump({"bursts": results}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
