#!/usr/bin/env python3
"""Seed 004's render workers: job-progress updates (POST /api/v2/jobs/{id}/progress) to the most
polled jobs, each write a new scenes_completed. Jobs of the --bypass share write to the API
directly, so no invalidation reaches the gateway; the others write through it. Logs every value
each job had (first read directly from the API) with its wall-clock time, as CSV: the change log
the true stale ratio is computed from. Standard library only; loopback only."""

import argparse
import http.client
import json
import random
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gateway-port", type=int, required=True)
    parser.add_argument("--api-port", type=int, required=True)
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--active", type=int, default=100, help="the most polled jobs that get updates")
    parser.add_argument("--bypass", type=float, default=0.5, help="the share of them written behind the gateway")
    parser.add_argument("--rate", type=float, default=20.0, help="updates per second")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    order = list(range(1, args.jobs + 1))
    random.Random(4).shuffle(order)  # the polling client's popularity order
    active = order[:args.active]
    behind = set(active[i] for i in range(len(active)) if i % round(1 / args.bypass) == 0) if args.bypass > 0 else set()
    api = http.client.HTTPConnection("127.0.0.1", args.api_port, timeout=5)
    gateway = http.client.HTTPConnection("127.0.0.1", args.gateway_port, timeout=5)
    log = []
    for job in active:
        api.request("GET", "/api/v2/jobs/%d" % job)
        response = api.getresponse()
        log.append((time.time(), job, json.loads(response.read())["progress"]["scenes_completed"], "initial"))
    rng = random.Random(7)
    began = time.monotonic()
    value = 0
    while time.monotonic() - began < args.seconds:
        job = rng.choice(active)
        value += 1
        body = json.dumps({"current_stage": "rendering", "scenes_completed": value % 10000, "scenes_total": 10000})
        connection = api if job in behind else gateway
        written = time.time()
        connection.request("POST", "/api/v2/jobs/%d/progress" % job, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        if response.status == 200:
            log.append((written, job, value % 10000, "behind" if job in behind else "through"))
        time.sleep(1.0 / args.rate)
    with open(args.out, "w") as out:
        for written, job, completed, how in log:
            out.write("%.4f,%d,%d,%s\n" % (written, job, completed, how))


if __name__ == "__main__":
    main()
