"""Every key answered in under 100 ms? Each binding of the matrix and the main screens, timed.

The console's App runs headless (`App.run_test`) over the fixed UI scene of the tests
(tests/ui_data.py `make_context`: the seeds' stack, a static monitor, a fixed clock), at 80x24
(and 160x48 with `--size`). For each screen (matrix, details, graph, logs, timeline, help,
resources, checklist, workflows) and each of its keys, the bench opens the screen from the
matrix, then presses the key and measures the time from the press to the next frame the App
hands to the terminal (`App._display`; the first one that carries the answer: a moved
cursor, a new screen, a dialog).
Each key is pressed REPEAT times; printed per key: p50 and max, and over all keys the share
answered under 100 ms (goal: every key, issue 14 item 8).

The keys are read from the screens' own bindings (each action once, by its first key), so
a key added to a screen is measured without editing this file, plus the tables' cursor keys.
Not pressed: keys that leave the App or the terminal (`q`, `ctrl+q`, `ctrl+c`, `E`: a shell
suspends the App), file writers (`ctrl+s`), Textual's focus and copy keys, and the
Kubernetes-only verbs (hidden on the scene's Docker runtime). Toasts are on, as in the
console (`run_test` turns them off by default): a key whose answer is a toast is answered.

A key the screen does not offer at that moment (its `check_action` says no: the workflows
keys on a stack without Temporal) is not pressed and is listed as not offered. A key with
nothing to show reads "no frame": nothing changed on screen within 1 s. The timeline reads a
journal of 40 entries written before the run, so its cursor keys have rows to move over;
before a down key a screen's up key is pressed (untimed), as the timeline opens at its last
row.

Run: `.venv/bin/python bench/keys_pilot.py [--repeat 2] [--size 80x24 --size 160x48]`
(about 2-3 minutes per size and repeat on the project's loaded 2-core machine).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOAL_MS = 100.0
NOT_OFFERED = -1.0  # recorded instead of a time: the key was not offered, not pressed
NO_FRAME_S = 1.0
# Actions never pressed (see above): they leave, suspend, write files or need a cluster.
SKIPPED_ACTIONS = {
    "quit", "help_quit", "quit_asking", "quit_after_restore", "app.focus_next",
    "app.focus_previous", "screen.copy_text", "save", "export", "service_op('shell')",
}
CURSOR_KEYS = ["j", "k", "down", "up"]
# Pressed (untimed) before a down key on a screen: the timeline opens at its newest entry,
# the last row, where `j` has nowhere to go and rightly draws nothing.
ROOM_BELOW = {"j": "k", "down": "up"}
# screen: (the key that opens it from the matrix, its class as "module:Class", cursor keys)
OPENERS: dict[str, tuple[str, str, list[str]]] = {
    "details": ("enter", "ui.screens.detail:DetailScreen", []),
    "graph": ("g", "ui.screens.graph:GraphScreen", []),
    "logs": ("L", "ui.screens.logs:LogsScreen", []),
    "timeline": ("t", "ui.screens.timeline:TimelineScreen", CURSOR_KEYS[:2]),
    "help": ("question_mark", "ui.screens.help:HelpScreen", []),
    "resources": ("m", "ui.screens.resources:ResourcesScreen", CURSOR_KEYS[:2]),
    "checklist": ("C", "ui.screens.checklist:ChecklistScreen", CURSOR_KEYS[:2]),
    "workflows": ("w", "ui.screens.workflows:WorkflowsScreen", []),
}


def bound_keys(*classes: type) -> list[str]:
    """The first key of each action the classes bind (their own and inherited BINDINGS)."""
    from textual.binding import Binding

    keys: list[str] = []
    actions: set[str] = set()
    for cls in classes:
        for klass in reversed(cls.__mro__):
            for binding in klass.__dict__.get("BINDINGS", []):
                if not isinstance(binding, Binding) or binding.action in actions:
                    continue
                actions.add(binding.action)
                if (binding.action not in SKIPPED_ACTIONS
                        and not binding.action.startswith("cluster(")):
                    keys.append(binding.key.split(",")[0])
    return keys


def screens_and_keys() -> tuple[list[str], dict[str, tuple[str, list[str]]]]:
    """The matrix's keys (its own and the App's), and each screen's opener and keys."""
    import importlib

    from ui.app import VextrusApp
    from ui.screens.matrix import MatrixScreen

    matrix = CURSOR_KEYS + bound_keys(MatrixScreen, VextrusApp)
    screens: dict[str, tuple[str, list[str]]] = {}
    for name, (opener, where, cursor) in OPENERS.items():
        module, cls = where.split(":")
        screens[name] = (opener, cursor + bound_keys(getattr(importlib.import_module(module), cls)))
    return matrix, screens


class Frames:
    """Times at which the App had a frame for the terminal (any screen)."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def install(self) -> None:
        """Every frame reaches `App._display` (partial updates and full layouts alike); a
        headless App stops there, before writing to a terminal."""
        from textual.app import App

        original = App._display
        frames = self

        def display(app: App[Any], screen: Any, renderable: Any) -> None:
            if renderable is not None:
                frames.times.append(time.perf_counter())
            original(app, screen, renderable)

        App._display = display  # type: ignore[method-assign]

    async def first_after(self, start: float) -> float | None:
        """ms from START to the first frame after it (None: no frame within NO_FRAME_S)."""
        deadline = start + NO_FRAME_S
        while True:  # the frame may already be there: the Pilot's press waits for idle
            later = [t for t in self.times if t > start]
            if later:
                return (later[0] - start) * 1000
            if time.perf_counter() > deadline:
                return None
            await asyncio.sleep(0.001)


async def home(app: Any, pilot: Any) -> None:
    """Back to the matrix with no filter, blast radius or dialog left over."""
    from ui.screens.matrix import MatrixScreen

    while not isinstance(app.screen, MatrixScreen) and len(app.screen_stack) > 1:
        app.pop_screen()
        await pilot.pause()
    if isinstance(app.screen, MatrixScreen):
        app.screen.action_clear()
    await pilot.pause(0.05)


def offered(app: Any, key: str) -> bool:
    """The key is bound and enabled on the screen now (the cursor keys always are)."""
    if key in CURSOR_KEYS:
        return True
    active = app.screen.active_bindings.get(key)
    return active is not None and active.enabled


def journal_with_entries(folder: str) -> Any:
    """A journal of 40 entries (transitions and actions) for the timeline to show."""
    from console.journal import Journal

    journal = Journal(Path(folder) / "journal.sqlite3", stack="vextrus")
    for n in range(20):
        journal.record_transitions([(f"svc{n}", "exited", "exit code 1")])
        journal.record("action", f"svc{n}", f"restart svc{n} ok")
    return journal


async def timed_press(pilot: Any, frames: Frames, key: str) -> float | None:
    await pilot.pause(0.02)  # whatever the previous step started has painted
    start = time.perf_counter()
    await pilot.press(key)
    return await frames.first_after(start)


async def run(size: tuple[int, int], repeat: int) -> dict[str, list[float | None]]:
    from dataclasses import replace

    from tests.ui_data import make_context
    from ui.factory import build_app

    frames = Frames()
    frames.install()
    found: dict[str, list[float | None]] = {}
    matrix_keys, screens = screens_and_keys()
    journal = journal_with_entries(os.environ["VEXTRUS_STATE_DIR"])
    app = build_app(replace(make_context(), journal=journal))
    async with app.run_test(size=size, notifications=True) as pilot:
        while app.status is None:
            await pilot.pause(0.02)
        await pilot.pause(0.3)
        for _ in range(repeat):
            for key in matrix_keys:
                await home(app, pilot)
                found.setdefault(f"matrix {key}", []).append(
                    await timed_press(pilot, frames, key) if offered(app, key) else NOT_OFFERED)
            for screen, (opener, keys) in screens.items():
                for key in keys:
                    await home(app, pilot)
                    await pilot.press(opener)
                    await pilot.pause(0.1)
                    if key in ROOM_BELOW:  # a list that opens at its last row (timeline)
                        await pilot.press(ROOM_BELOW[key])
                    found.setdefault(f"{screen} {key}", []).append(
                        await timed_press(pilot, frames, key) if offered(app, key)
                        else NOT_OFFERED)
        await home(app, pilot)
    return found


def report(size: tuple[int, int], found: dict[str, list[float | None]]) -> None:
    print(f"{size[0]}x{size[1]}: press -> next frame, ms (p50 / max over repeats)")
    under, total, worst = 0, 0, ("", 0.0)
    line: list[str] = []
    not_offered = [key for key, values in found.items() if NOT_OFFERED in values]
    for key, values in found.items():
        if key in not_offered:
            continue
        got = [v for v in values if v is not None]
        total += 1
        if not got:
            line.append(f"{key}: no frame")
            continue
        med, top = statistics.median(got), max(got)
        under += top < GOAL_MS and len(got) == len(values)
        if top > worst[1]:
            worst = (key, top)
        line.append(f"{key}: {med:.0f}/{top:.0f}")
    for i in range(0, len(line), 4):
        print("  " + "   ".join(f"{cell:24s}" for cell in line[i:i + 4]))
    print(f"  keys answered under {GOAL_MS:.0f} ms every time: {under}/{total};"
          f" slowest: {worst[0]} {worst[1]:.0f} ms")
    if not_offered:
        print(f"  not offered on the fixed scene (not pressed): {', '.join(not_offered)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--size", action="append", help="WIDTHxHEIGHT (repeatable)")
    args = parser.parse_args()
    sizes = [tuple(int(n) for n in s.split("x")) for s in (args.size or ["80x24"])]
    import tempfile

    with tempfile.TemporaryDirectory(prefix="vx-keys-") as tmp:
        os.environ.setdefault("VEXTRUS_STATE_DIR", tmp)  # nothing the keys write lands in ~
        for size in sizes:
            report(size, asyncio.run(run((size[0], size[1]), args.repeat)))  # type: ignore[arg-type]
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
