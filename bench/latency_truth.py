"""Is the Latency column the service's? The console's figure against a lone curl, same run.

40 busybox httpd containers (FROM scratch image, host networking, 127.0.0.1 ports below the
ephemeral range) answer /health. In the same run:

1. the console's monitor refreshes the whole stack ROUNDS times (40 probes at once, as the
   matrix does) and keeps the latency it reports for each service;
2. the same refreshes with the old stopwatch (the probe's whole coroutine, as before issue
   14: the console's own scheduling and parsing counted);
3. a lone `curl -s -o /dev/null -w %{time_total}` of each endpoint, one after another, and a
   lone Python socket GET (connect, send, first byte), so nothing else runs beside them;
4. the same 40 GETs at once from 40 threads: the burst a refresh makes, without the console,
   to tell what the services take when asked together from what the console adds.

Printed: medians and p90 of each, and the ratio console / curl (goal: within 2x on a quiet
machine; the machine's load average is printed beside it).

Needs a Docker daemon (scripts/test-env.sh) and curl (Debian: `apt-get install curl`). For a
loaded-machine comparison, wrk (Debian: `apt-get install wrk`) is not needed here: a probe is
one request, so one request per tool is the fair anchor.

Run: `.venv/bin/python bench/latency_truth.py [--rounds 7]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.tmux_screen import free_ports  # noqa: E402
from console.model import HealthCheck, Service, Stack  # noqa: E402
from console.monitor import Monitor  # noqa: E402
from console.probes import common, http  # noqa: E402
from console.runtime.docker.runtime import DockerRuntime  # noqa: E402
from tests.dockerlab import DockerLab, docker_available  # noqa: E402

SERVICES = 40
PORT_BASE = 28500


def build_stack(project: str, ports: dict[str, int]) -> Stack:
    services = tuple(
        Service(name=name, tier="core", ports=(port,),
                checks=(HealthCheck("http", port=port, path="/health", timeout=2.0),))
        for name, port in ports.items()
    )
    return Stack(name="latency-truth", services=services, project=project)


async def console_latencies(monitor: Monitor, rounds: int) -> list[float]:
    """Every service's reported latency over ROUNDS full refreshes (ms)."""
    found: list[float] = []
    for _ in range(rounds):
        status = await monitor.refresh()
        found += [s.latency_ms for s in status.services if s.latency_ms is not None]
    return found


def old_stopwatch() -> None:
    """Before issue 14: the probe's whole coroutine was its latency (socket time ignored)."""
    def outcome(*args: object, socket_ms: float | None = None, **kwargs: object
                ) -> common.Outcome:
        return common.Outcome(*args, **kwargs)  # type: ignore[arg-type]
    http.Outcome = outcome  # type: ignore[assignment,misc]


def curl_ms(port: int) -> float:
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{time_total}",
                          f"http://127.0.0.1:{port}/health"],
                         capture_output=True, text=True, check=True, timeout=10)
    return float(out.stdout) * 1000


def socket_ms(port: int) -> float:
    """One plain GET: connect, send, first byte of the answer (Python, blocking socket)."""
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        s.recv(1)
        return (time.perf_counter() - start) * 1000


def burst_ms(ports: list[int]) -> list[float]:
    """Every endpoint at once, one thread each (the burst a refresh makes, without asyncio):
    what 40 busybox httpd forks answering together cost on this machine."""
    from concurrent.futures import ThreadPoolExecutor

    barrier = threading.Barrier(len(ports))

    def one(port: int) -> float:
        barrier.wait()
        return socket_ms(port)

    with ThreadPoolExecutor(len(ports)) as pool:
        return list(pool.map(one, ports))


def show(name: str, values: list[float]) -> float:
    ordered = sorted(values)
    med = statistics.median(ordered)
    p90 = ordered[int(len(ordered) * 0.9) - 1]
    print(f"  {name:44s} median {med:7.2f} ms   p90 {p90:7.2f} ms   (n={len(values)})")
    return med


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    ok, reason = docker_available()
    if not ok or not shutil.which("curl"):
        print(f"bench/latency_truth: {reason or 'curl is not installed'}", file=sys.stderr)
        return 2
    project = f"vxbench-lat-{os.getpid()}"
    lab = DockerLab(project)
    ports = dict(zip((f"svc{i:02d}" for i in range(SERVICES)),
                     free_ports(PORT_BASE, SERVICES), strict=True))
    runtime = DockerRuntime(project)
    print(f"starting {SERVICES} busybox httpd containers (127.0.0.1:{min(ports.values())}-"
          f"{max(ports.values())}) ...", flush=True)
    try:
        for name, port in ports.items():
            lab.healthy(name, port, with_healthcheck=False)
        monitor = Monitor(build_stack(project, ports), runtime, None)
        await monitor.refresh()  # warm: imports, the first listing
        print(f"latency of /health, {SERVICES} services, {args.rounds} refreshes:")
        now = show("console (request sent -> first byte, at socket)",
                   await console_latencies(monitor, args.rounds))
        curl = show("lone curl, each endpoint once", [curl_ms(p) for p in ports.values()])
        lone = show("lone Python socket GET, each endpoint once",
                    [socket_ms(p) for p in ports.values()])
        burst = show("40 Python socket GETs at once (threads)",
                     [v for _ in range(args.rounds) for v in burst_ms(list(ports.values()))])
        old_stopwatch()
        before = show("console, old stopwatch (whole probe coroutine)",
                      await console_latencies(monitor, args.rounds))
        print(f"  ratio console / curl: {now / curl:.2f}x   (goal: within 2x on a quiet"
              f" machine; old stopwatch: {before / curl:.2f}x)")
        print(f"  ratio console / lone socket GET: {now / lone:.2f}x;"
              f" console / the same burst from threads: {now / burst:.2f}x")
        load = os.getloadavg()
        print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.1f}")
    finally:
        await runtime.close()
        lab.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
