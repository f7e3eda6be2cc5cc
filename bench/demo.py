"""The embedded demo, timed: from the command to seed 002's matrix, and on to 100%.

Runs `vextrus-console demo --script` (the real CLI, a real local runtime, 37 stand-in
processes, the real Temporal test server when installed) and reads the time at which each
line arrives. Printed against the seeds' way of getting from that matrix to 100%: their
start-up scripts start each missing service and `sleep 30` before the next (seed 002's
phase scripts), so the 23 services the demo starts during its story would take 23 x 30 s
by that method alone, before any fix.

Run: `.venv/bin/python bench/demo.py` (no Docker needed).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED_SLEEP_S = 30.0


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli", "demo", "--script", "--dir", tmp,
             "--port-offset", "16000"], stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert proc.stdout is not None
        marks: dict[str, float] = {}
        brought_up = 0
        for line in proc.stdout:
            now = time.perf_counter() - started
            if "services started" in line:
                marks["started"] = now
            elif line.startswith("== the seeds'"):
                marks["matrix"] = now
            elif line.startswith("-- 4."):
                marks["bringup"] = now
            elif "healthy in" in line and "bringup" in marks and "secrets" not in marks:
                brought_up += 1
            elif line.startswith("-- 5."):
                marks["secrets"] = now
            elif line.startswith("== the end"):
                marks["end"] = now
                print(f"    {line.strip()}")
        code = proc.wait()
    if code != 0 or "end" not in marks:
        print(f"demo --script failed (exit {code})")
        return 1
    seeds = brought_up * SEED_SLEEP_S
    bringup = marks["secrets"] - marks["bringup"]
    print(f"1. demo processes started and listening:      {marks['started']:6.1f} s")
    print(f"2. seed 002's matrix on screen (loop seen):   {marks['matrix']:6.1f} s")
    print(f"3. the whole story to 100%:                    {marks['end']:6.1f} s")
    print(f"4. bring-up of {brought_up} services, waiting on probes: {bringup:6.1f} s   "
          f"vs the seeds' sleep {SEED_SLEEP_S:.0f} s each: {seeds:6.0f} s   "
          f"ratio {seeds / bringup:5.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
