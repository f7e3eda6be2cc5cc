"""`secrets scan` on large compose files: the one-pass scanner against the old one, same run.

The old scanner compiled one regex per secret and ran each over every scalar of the file
(its "reuse" pass), so its time grew with services x secrets: 44 s for 260 services in
issue 12. The old module is loaded from git (`git show REV:actions/secrets/scan.py`) into
a temporary module, so both run on the same files in the same process.

Goal (issue 12): a 5,000-service file scanned in under 2 s.

    .venv/bin/python bench/secrets_scan.py [--services 5000] [--old-services 260] [--rev f0b55ee]

The old scanner is timed on the smaller file only (on 5,000 services it would run for
hours); the ratio printed is on that file, where both run.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from actions.secrets.scan import scan_compose_text  # noqa: E402

OLD_REV = "f0b55ee"  # the last commit with the per-secret regex reuse pass


def compose_file(services: int) -> str:
    """A compose file shaped like the issue's (about 190 bytes a service), each service
    with its own password in a secret key, a URL and a command: three findings each."""
    out = ["services:"]
    for i in range(services):
        pw = secrets.token_urlsafe(12)
        out += [f"  svc{i}:", f"    image: example/svc{i}:1.{i}", "    environment:",
                f"      SVC{i}_PASSWORD: {pw}",
                f"      DATABASE_URL: postgres://app:{pw}@db{i}:5432/app",
                f"    command: redis-server --requirepass {pw}"]
    return "\n".join(out) + "\n"


def old_module(rev: str) -> ModuleType:
    """The old actions/secrets/scan.py from git, loaded under another name."""
    source = subprocess.run(["git", "show", f"{rev}:actions/secrets/scan.py"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / "old_secrets_scan.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("old_secrets_scan", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_secrets_scan"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def timed(scan: Callable[[str, str], Any], text: str) -> tuple[float, float, int]:
    """Wall time, CPU time (this process: the fair figure on a shared machine), findings."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = scan(text, "bench-compose.yml")
    return time.perf_counter() - wall, time.process_time() - cpu, len(result.findings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--services", type=int, default=5000)
    parser.add_argument("--old-services", type=int, default=260)
    parser.add_argument("--rev", default=OLD_REV)
    args = parser.parse_args()

    small, large = compose_file(args.old_services), compose_file(args.services)
    old = old_module(args.rev)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall times "
          "include waiting for a CPU; CPU times do not)")
    old_wall, old_cpu, old_count = timed(old.scan_compose_text, small)
    new_wall, new_cpu, new_count = timed(scan_compose_text, small)
    print(f"{args.old_services} services ({len(small) / 1024:.0f} KB): old {old_wall:.2f} s "
          f"wall / {old_cpu:.2f} s CPU ({old_count} findings), new {new_wall:.3f} s / "
          f"{new_cpu:.3f} s ({new_count} findings): {old_cpu / new_cpu:.0f}x less CPU")
    large_wall, large_cpu, large_count = timed(scan_compose_text, large)
    verdict = "ok" if large_cpu < 2.0 else "MISSED"
    print(f"{args.services} services ({len(large) / 1024:.0f} KB): new {large_wall:.2f} s "
          f"wall / {large_cpu:.2f} s CPU ({large_count} findings); goal < 2 s: {verdict}")
    return 0 if large_cpu < 2.0 else 1


if __name__ == "__main__":
    sys.exit(main())
