"""Results of load runs and drills as JSON files a readiness scorecard reads later.

One file per run under `<state dir>/results/` (`load-20261203T110501Z.json`), plus
`latest-<kind>.json` with the newest, so a reader needs no globbing to find "the last load
test". Written atomically: a crash leaves the previous file whole.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from console.fileio import write_text_atomic


def results_dir(state_dir: Path) -> Path:
    return state_dir / "results"


def save_result(state_dir: Path, kind: str, data: dict[str, Any],
                at: datetime | None = None) -> Path:
    """Write `data` as this run's file and as the latest of its kind; returns the run's file."""
    directory = results_dir(state_dir)
    directory.mkdir(parents=True, exist_ok=True)
    stamp = (at or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    path = directory / f"{kind}-{stamp}.json"
    write_text_atomic(path, text)
    write_text_atomic(directory / f"latest-{kind}.json", text)
    return path


def latest_result(state_dir: Path, kind: str) -> dict[str, Any] | None:
    """The newest result of a kind (`load`, `drill-kill`...), or None when there is none."""
    path = results_dir(state_dir) / f"latest-{kind}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
