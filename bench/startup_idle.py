"""Cold start and idle cost of the console on a real 40-container stack.

1. Cold start: from spawning a fresh `python` to the first complete matrix frame (all 40
   rows filled from a real refresh), in a new process each time so nothing is cached in
   memory; median of 5. Target: under 1.0 s.
2. Idle CPU: the console left alone on the stack (events stream connected, the fallback
   poll refreshing every 15 s while all is calm), CPU time of the process over the window
   as a share of one core, once right after the containers start (every container is
   inspected on each refresh) and once they have settled. Target: under 2 %. Also its
   resident memory at the end.

The console runs headless (`App.run_test`) at 120x40: the same App the CLI builds, through
the same factory, without a terminal to draw on.

Run: `.venv/bin/python bench/startup_idle.py [--idle SECONDS]` (needs a Docker daemon).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICES = 40
SETTLE_S = 65.0


def child(stack_path: str, project: str, idle: float) -> None:
    """In the fresh process: build the console, wait for a full frame, then idle."""
    sys.path.insert(0, str(ROOT))
    import asyncio

    from console.factory import Options, build_context
    from ui.factory import build_app

    async def run() -> None:
        opts = Options(stack_path=stack_path, project=project,
                       state_dir=os.environ["VX_BENCH_STATE"])
        app = build_app(build_context(opts))
        async with app.run_test(size=(120, 40)) as pilot:
            from ui.widgets.service_table import ServiceTable

            while True:
                tables = app.screen.query(ServiceTable)
                if app.status is not None and tables and len(tables.first().service_keys) \
                        == SERVICES and app.status.operational == SERVICES:
                    break
                await pilot.pause(0.005)
            print("READY", flush=True)
            if idle:
                cpu0, wall0 = time.process_time(), time.monotonic()
                await asyncio.sleep(idle)
                cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
                rss = _rss_mb()
                print(f"IDLE {cpu / wall * 100:.2f} {rss:.0f}", flush=True)

    asyncio.run(run())


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def spawn(stack: Path, project: str, idle: float, state: Path) -> tuple[float, str]:
    env = {**os.environ, "VX_BENCH_STATE": str(state)}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", str(stack), project, str(idle)],
        stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )
    assert proc.stdout is not None
    ready = 0.0
    idle_line = ""
    for line in proc.stdout:
        if line.startswith("READY"):
            ready = time.perf_counter() - start
        elif line.startswith("IDLE"):
            idle_line = line
    proc.wait(timeout=idle + 60)
    return ready, idle_line


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle", type=float, default=60.0)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], float(args.child[2]))
        return 0

    sys.path.insert(0, str(ROOT))
    import tempfile

    from tests.dockerlab import DockerLab, docker_available, free_port

    ok, reason = docker_available()
    if not ok:
        print(f"bench/startup_idle: {reason}", file=sys.stderr)
        return 2
    project = f"vxbench-ui-{os.getpid()}"
    lab = DockerLab(project)
    with tempfile.TemporaryDirectory() as tmp:
        stack = Path(tmp) / "stack.toml"
        lines = ["[stack]", 'name = "bench"', f'project = "{project}"']
        try:
            for i in range(SERVICES):
                port = free_port()
                lab.healthy(f"svc{i:02d}", port, with_healthcheck=False)
                lines += [f"[services.svc{i:02d}]", f"ports = [{port}]",
                          f'checks = [{{ kind = "http", port = {port} }}]']
            stack.write_text("\n".join(lines) + "\n")
            created = time.monotonic()
            colds = [spawn(stack, project, 0, Path(tmp))[0] for _ in range(5)]
            print(f"cold start to the first complete matrix frame ({SERVICES} services):"
                  f" median {statistics.median(colds):.2f} s, worst {max(colds):.2f} s"
                  "   (target < 1.0 s)")
            _, idle_line = spawn(stack, project, args.idle, Path(tmp))
            _, cpu, rss = idle_line.split()
            print(f"idle for {args.idle:.0f} s, containers just started: {float(cpu):.2f} %"
                  f" of one core   (target < 2 %), RSS {rss} MB")
            # Containers up over a minute are what an operator usually watches: their
            # inspect details are reused while the list row is unchanged.
            time.sleep(max(0.0, SETTLE_S - (time.monotonic() - created)))
            _, idle_line = spawn(stack, project, args.idle, Path(tmp))
            _, cpu, rss = idle_line.split()
            print(f"idle for {args.idle:.0f} s, containers settled (up over a minute):"
                  f" {float(cpu):.2f} % of one core   (target < 2 %), RSS {rss} MB")
        finally:
            lab.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
