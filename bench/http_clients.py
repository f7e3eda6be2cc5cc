"""The hand-written HTTP paths against httpx, in one run: is the plumbing worth keeping?

Two places speak HTTP without httpx, written for speed (issue 16 asks for the measurement):

1. `console/runtime/docker/wire.py`: the refresh's Engine API calls (list the project's
   containers, inspect each) as plain HTTP/1.1 over the daemon's unix socket (http.client,
   kept-alive). Against: httpx.Client with `HTTPTransport(uds=...)` (the same calls, one
   pooled client), and httpx.AsyncClient with `AsyncHTTPTransport(uds=...)` (the inspects
   concurrently, no threads).
2. `console/probes/http.py`: a health probe as one GET on a fresh loopback connection spoken
   with h11. Against: httpx.AsyncClient, pooled (what an app would write), and a fresh
   AsyncClient per probe (the probe's own semantics: no reused connection hides a dead
   listener).

Setup: 40 busybox containers (`sleep`, no network, one label) for the Engine calls, and 40
loopback HTTP servers (tests/loadserver.py, one process) for the probes. Each way runs
ROUNDS times, interleaved; printed: median wall time and CPU of this process per round,
and the ratio hand-written/httpx. The goal the hand-written code answers to: a full refresh
of 40 services under 50 ms (listing + probes).

Run: `.venv/bin/python bench/http_clients.py [--rounds 15]` (needs the Docker daemon).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import docker  # noqa: E402
import httpx  # noqa: E402

from console.model import HealthCheck, Service  # noqa: E402
from console.probes.http import HttpProbe  # noqa: E402
from console.runtime.docker.wire import EngineReader  # noqa: E402
from tests.dockerlab import ensure_image  # noqa: E402

SOCKET = "/var/run/docker.sock"
LABEL = "vextrus.bench=http-clients"
FILTERS = json.dumps({"label": [LABEL]})
N = 40
PORT_BASE = 28700


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def timed_async(make: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    return timed(lambda: asyncio.run(make()))


# --- the Engine API: list + inspect 40 ------------------------------------------------


def engine_handwritten(reader: EngineReader) -> None:
    for row in reader.containers([LABEL]):
        reader.inspect(row["Id"])


def engine_httpx_sync(client: httpx.Client, version: str) -> None:
    rows = client.get(f"/{version}/containers/json", params={"all": 1, "filters": FILTERS})
    for row in rows.json():
        client.get(f"/{version}/containers/{row['Id']}/json").json()


async def engine_httpx_async(version: str) -> None:
    transport = httpx.AsyncHTTPTransport(uds=SOCKET)
    async with httpx.AsyncClient(transport=transport, base_url="http://docker") as client:
        rows = await client.get(f"/{version}/containers/json",
                                params={"all": 1, "filters": FILTERS})
        await asyncio.gather(*(client.get(f"/{version}/containers/{r['Id']}/json")
                               for r in rows.json()))


# --- probes: 40 GETs on loopback --------------------------------------------------------


def checks() -> list[tuple[HealthCheck, Service]]:
    return [(HealthCheck("http", port=PORT_BASE + i, path="/health", timeout=2.0),
             Service(f"svc{i:02d}", ports=(PORT_BASE + i,))) for i in range(N)]


async def probes_h11() -> None:
    probe = HttpProbe()
    results = await asyncio.gather(*(probe.run(c, s, None) for c, s in checks()))
    assert all(r.ok for r in results), [r.detail for r in results if not r.ok][:3]


async def probes_httpx_pooled() -> None:
    async with httpx.AsyncClient(timeout=2.0) as client:
        answers = await asyncio.gather(*(client.get(f"http://127.0.0.1:{c.port}/health")
                                         for c, _ in checks()))
    assert all(a.status_code == 200 for a in answers)


async def probes_httpx_fresh() -> None:
    async def one(port: int) -> int:
        async with httpx.AsyncClient(timeout=2.0) as client:
            return (await client.get(f"http://127.0.0.1:{port}/health")).status_code

    codes = await asyncio.gather(*(one(c.port or 0) for c, _ in checks()))
    assert all(code == 200 for code in codes)


def report(title: str, rows: dict[str, list[tuple[float, float]]], base: str) -> None:
    print(f"\n{title}")
    med = {name: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
           for name, v in rows.items()}
    for name, (wall, cpu) in med.items():
        ratio = med[base][0] / wall if wall else float("nan")
        print(f"  {name:34} {wall:7.1f} ms wall  {cpu:7.1f} ms CPU   "
              f"hand-written/this: {ratio:4.2f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    client = docker.from_env()
    image = ensure_image(client)
    made = [client.containers.run(image, ["sleep", "3600"], detach=True, network_mode="none",
                                  labels={LABEL.split("=")[0]: LABEL.split("=")[1]},
                                  name=f"vx-bench-http-{i:02d}") for i in range(N)]
    servers = [subprocess.Popen([sys.executable, "-m", "tests.loadserver", "--port",
                                 str(PORT_BASE + i)], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
               for i in range(N)]
    try:
        time.sleep(2.0)  # the servers listen
        reader = EngineReader(SOCKET, timeout=10)
        version = "v" + client.version()["ApiVersion"]
        sync_client = httpx.Client(transport=httpx.HTTPTransport(uds=SOCKET),
                                   base_url="http://docker", timeout=10)
        engine: dict[str, list[tuple[float, float]]] = {
            "wire.py (http.client, kept alive)": [], "httpx.Client(uds), sequential": [],
            "httpx.AsyncClient(uds), gathered": []}
        probes: dict[str, list[tuple[float, float]]] = {
            "probes/http.py (h11, fresh conn)": [], "httpx.AsyncClient, pooled": [],
            "httpx.AsyncClient per probe": []}
        for _ in range(args.rounds):
            engine["wire.py (http.client, kept alive)"].append(
                timed(lambda: engine_handwritten(reader)))
            engine["httpx.Client(uds), sequential"].append(
                timed(lambda: engine_httpx_sync(sync_client, version)))
            engine["httpx.AsyncClient(uds), gathered"].append(
                timed_async(lambda: engine_httpx_async(version)))
            probes["probes/http.py (h11, fresh conn)"].append(timed_async(probes_h11))
            probes["httpx.AsyncClient, pooled"].append(timed_async(probes_httpx_pooled))
            probes["httpx.AsyncClient per probe"].append(timed_async(probes_httpx_fresh))
        print(f"{N} containers, {N} loopback servers, {args.rounds} rounds, medians")
        report("Engine API: list the project + inspect each", engine,
               "wire.py (http.client, kept alive)")
        report("Health probes: 40 GETs", probes, "probes/http.py (h11, fresh conn)")
        reader.close()
        sync_client.close()
    finally:
        for proc in servers:
            proc.terminate()
        for c in made:
            c.remove(force=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
