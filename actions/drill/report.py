"""A drill's report: what was done, what the console saw, how long recovery took.

Markdown for people (the readiness checklist, an incident review) and JSON (schema 1) for
the readiness scorecard; both saved under `<state dir>/results/`. Times are seconds from
the moment the fault went in: detection is when the console's status first showed it,
recovery when the service was operational again, and MTTR (one drill: one repair) is the
time from the fault to recovery.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from console.fileio import write_text_atomic
from console.masking import mask_secrets
from console.results import save_result

SCHEMA = 1


@dataclass
class DrillReport:
    drill_id: str
    kind: str
    service: str
    started_at: str
    fault: str = ""
    plan: list[str] = field(default_factory=list)
    blast_radius: list[str] = field(default_factory=list)
    outcome: str = "not run"  # recovered, contained, not detected, not recovered, cancelled...
    detected_s: float | None = None
    detection: str = ""  # what the console showed
    recovered_s: float | None = None
    recovery_by: str = ""  # restart policy, guided restart, fault lifted, ...
    restored: bool = False
    restore_notes: list[str] = field(default_factory=list)
    measurements: dict[str, Any] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)
    finished_at: str = ""

    @property
    def mttr_s(self) -> float | None:
        return self.recovered_s

    @property
    def passed(self) -> bool:
        return self.outcome in ("recovered", "contained") and self.restored

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, **asdict(self), "mttr_s": self.mttr_s, "passed": self.passed}

    def summary(self) -> str:
        """One line for the timeline and the CLI."""
        parts = [f"drill {self.kind} {self.service}: {self.outcome}"]
        if self.detected_s is not None:
            parts.append(f"detected in {self.detected_s:.2f}s")
        if self.recovered_s is not None:
            parts.append(f"recovered in {self.recovered_s:.2f}s ({self.recovery_by})")
        if self.mttr_s is not None:
            parts.append(f"MTTR {self.mttr_s:.2f}s")
        parts.append("restored" if self.restored else "NOT fully restored")
        return ", ".join(parts)

    def markdown(self) -> str:
        def secs(value: float | None) -> str:
            return "-" if value is None else f"{value:.2f} s"

        lines = [
            f"# Drill: {self.kind} {self.service}",
            "",
            f"- Drill id: `{self.drill_id}`",
            f"- Started: {self.started_at} · finished: {self.finished_at or '-'}",
            f"- Fault: {self.fault or '-'}",
            f"- Blast radius: {', '.join(self.blast_radius) or 'none'}",
            f"- Outcome: **{self.outcome}**",
            "",
            "| Measure | Value |",
            "|---|---|",
            f"| Time to detection | {secs(self.detected_s)} |",
            f"| Detected as | {self.detection or '-'} |",
            f"| Time to recovery | {secs(self.recovered_s)} |",
            f"| Recovered by | {self.recovery_by or '-'} |",
            f"| MTTR | {secs(self.mttr_s)} |",
            f"| Restored | {'yes' if self.restored else 'NO'} |",
        ]
        for key, value in self.measurements.items():
            lines.append(f"| {key.replace('_', ' ')} | {value} |")
        lines += ["", "## Plan", "", *[f"1. {step}" for step in self.plan]]
        lines += ["", "## What happened", "", *[f"- {e}" for e in self.events]]
        if self.restore_notes:
            lines += ["", "## Restored", "", *[f"- {n}" for n in self.restore_notes]]
        return mask_secrets("\n".join(lines).replace("\x1b", "")) + "\n"

    def save(self, state_dir: Path) -> Path:
        """JSON for the scorecard (`latest-drill-KIND.json`) and Markdown beside it."""
        path = save_result(state_dir, f"drill-{self.kind}", self.to_dict())
        write_text_atomic(path.with_suffix(".md"), self.markdown())
        return path
