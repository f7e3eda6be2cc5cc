"""Load generator benchmark, side by side with wrk, against the same loopback server.

The server (`tests/loadserver.py`) runs as its own process on 127.0.0.1. Two questions:

1. Throughput: with no delay, how many requests a second does the console's generator
   drive (closed loop, 64 connections) next to wrk, one thread against one process
   (`--workers 1`) and two against two (`--workers 2`)? Target: at least half of wrk's on
   this 2-core machine. Both share the machine with the server, so the figure is what one
   operator's box can push, not the server's ceiling.
2. Accuracy: against delays spread evenly over 20-60 ms (true p-th percentile = 20 + 40 p
   / 100 ms), how close are p50, p90, p95 and p99 to the truth? Target: within 10%. wrk's
   own numbers are printed beside them (closed loop; no p95 in wrk's --latency output).

Needs `wrk` (Debian: `apt-get install wrk`); benches are not CI. Run:
`.venv/bin/python bench/load.py [--seconds 4] [--rounds 3]`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from console.loadgen import LoadResult, LoadSpec, Threshold, parse_target, run_loop
from console.loadgen_parallel import run_parallel

PORT_FAST, PORT_SPREAD = 24190, 24191
DELAY_MS, SPREAD_MS = 20.0, 40.0
CONNECTIONS = 64


def start_server(port: int, delay_ms: float = 0.0, spread_ms: float = 0.0) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.loadserver", "--port", str(port),
         "--delay-ms", str(delay_ms), "--spread-ms", str(spread_ms)],
        cwd=Path(__file__).resolve().parent.parent)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"load server did not start on {port}")


def wrk(port: int, seconds: float, connections: int,
        threads: int = 2) -> tuple[float, dict[str, float]]:
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency",
         f"http://127.0.0.1:{port}/"], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lat = {}
    for pct, value, unit in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M):
        lat[f"p{pct}"] = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return rps, lat


def ours(port: int, seconds: float, rate: float | None = None,
         users: int | None = None, workers: int = 1) -> LoadResult:
    spec = LoadSpec(parse_target(f"http://127.0.0.1:{port}/"), duration=seconds, rate=rate,
                    users=users, thresholds=(Threshold("p95", "<", 1e9, "ms"),))
    result = run_loop(run_parallel(spec, workers))
    if result.error_count:
        print(f"  (errors: {result.errors})")
    return result


def truth(p: float) -> float:
    return DELAY_MS + SPREAD_MS * p / 100


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    servers = [start_server(PORT_FAST), start_server(PORT_SPREAD, DELAY_MS, SPREAD_MS)]
    try:
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
              f"{args.rounds} rounds of {args.seconds:g}s, medians, runs alternated")
        print(f"1. throughput, no delay, {CONNECTIONS} connections")
        for threads in (1, 2):
            wrk_runs, our_runs = [], []
            for _ in range(args.rounds):
                wrk_runs.append(wrk(PORT_FAST, args.seconds, CONNECTIONS, threads=threads)[0])
                our_runs.append(ours(PORT_FAST, args.seconds, users=CONNECTIONS,
                                     workers=threads).throughput_rps)
            w, o = statistics.median(wrk_runs), statistics.median(our_runs)
            print(f"   {threads} thread(s) / process(es): wrk {w:7.0f} req/s, console {o:7.0f}"
                  f" req/s: ratio {o / w:.2f} (target >= 0.50)")
        print(f"2. percentiles vs the truth: delays uniform {DELAY_MS:g}-"
              f"{DELAY_MS + SPREAD_MS:g} ms; console open loop 400 req/s, wrk 16 connections")
        runs = [ours(PORT_SPREAD, args.seconds, rate=400) for _ in range(args.rounds)]
        wrk_lats = [wrk(PORT_SPREAD, args.seconds, 16)[1] for _ in range(args.rounds)]
        worst = {"latency": 0.0, "service": 0.0}
        for p in (50, 90, 95, 99):
            key = f"p{p}"
            lat = statistics.median(r.latency_ms[key] for r in runs)
            svc = statistics.median(r.service_ms[key] for r in runs)
            worst["latency"] = max(worst["latency"], abs(lat / truth(p) - 1))
            worst["service"] = max(worst["service"], abs(svc / truth(p) - 1))
            wrk_values = [w[key] for w in wrk_lats if key in w]
            wrk_text = "wrk     -        "
            if wrk_values:
                w = statistics.median(wrk_values)
                wrk_text = f"wrk {w:5.1f} ({w / truth(p):.3f})"
            print(f"   {key:4} truth {truth(p):5.1f} ms  console latency {lat:5.1f} "
                  f"({lat / truth(p):.3f}) service {svc:5.1f} ({svc / truth(p):.3f})  {wrk_text}")
        lag = statistics.median(r.send_lag_ms["p99"] for r in runs)
        print(f"   send lag p99 {lag:.1f} ms; worst deviation: latency {worst['latency']:.1%}, "
              f"service time {worst['service']:.1%} (target <= 10%)")
    finally:
        for proc in servers:
            proc.terminate()
            proc.wait(5)


if __name__ == "__main__":
    main()
