#!/usr/bin/env python3
"""Seed 004's clients: job-progress polls (GET /api/v2/jobs/{id}) with job popularity following
Zipf's law, at a fixed total rate on keep-alive connections. Records the time and X-Cache of
every answer (with --bodies also the job, the request's wall-clock start and end and the progress
served) (or ERROR while the gateway is down) and writes them as CSV when told to stop
(SIGTERM) or after --seconds. Standard library only; loopback only."""

import argparse
import bisect
import http.client
import json
import random
import signal
import threading
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate", type=float, default=1000.0, help="requests per second, all threads together")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--zipf", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--out", required=True)
    parser.add_argument("--bodies", action="store_true",
                        help="also record the job, the wall-clock request start and end, and the scenes_completed served")
    args = parser.parse_args()

    weights = [1.0 / (rank ** args.zipf) for rank in range(1, args.jobs + 1)]
    cumulative, total = [], 0.0
    for weight in weights:
        total += weight
        cumulative.append(total)
    order = list(range(1, args.jobs + 1))
    random.Random(4).shuffle(order)  # popularity is not the id order

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    records = [[] for _ in range(args.threads)]
    interval = args.threads / args.rate
    began = time.monotonic()

    def poll(index):
        rng = random.Random(index)
        connection = None
        due = time.monotonic()
        mine = records[index]
        while not stop.is_set() and time.monotonic() - began < args.seconds:
            job = order[bisect.bisect_left(cumulative, rng.random() * total)]
            outcome = "ERROR"
            served = ""
            started = time.time()
            try:
                if connection is None:
                    connection = http.client.HTTPConnection("127.0.0.1", args.port, timeout=5)
                connection.request("GET", "/api/v2/jobs/%d" % job)
                response = connection.getresponse()
                body = response.read()
                outcome = response.getheader("X-Cache", "NONE") if response.status == 200 else "STATUS%d" % response.status
                if args.bodies and response.status == 200:
                    served = str(json.loads(body)["progress"]["scenes_completed"])
            except (OSError, http.client.HTTPException, ValueError, KeyError):
                if connection is not None:
                    connection.close()
                connection = None
            if args.bodies:
                mine.append((time.monotonic() - began, outcome, job, started, time.time(), served))
            else:
                mine.append((time.monotonic() - began, outcome))
            due += interval
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            elif pause < -1.0:
                due = time.monotonic()  # fell behind (the gateway was down): do not burst

    threads = [threading.Thread(target=poll, args=(i,)) for i in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with open(args.out, "w") as out:
        for mine in records:
            for record in mine:
                out.write(",".join(("%.4f" % field) if isinstance(field, float) else str(field) for field in record) + "\n")


if __name__ == "__main__":
    main()
