"""Status snapshots as JSON (stable, for scripts), Markdown (the seeds' matrix) and text.

The JSON field names are a contract with operators' scripts: add fields, never rename.
Everything that leaves the process here has passed through the untrusted-text boundary
(`console.masking.safe_str`): terminal-safe, bounded and masked.
"""

from __future__ import annotations

import json
from typing import Any

from console.masking import safe_json, safe_str
from console.probes.base import ProbeResult
from console.status.types import ServiceStatus, StackStatus, State

JSON_SCHEMA_VERSION = 1


def status_to_dict(status: StackStatus) -> dict[str, Any]:
    """The JSON document; every string in it (names, issues, probe output) is made safe."""
    doc = {
        "schema": JSON_SCHEMA_VERSION,
        "stack": status.stack_name,
        "taken_at": status.taken_at.isoformat(),
        "readiness": round(status.readiness, 4),
        "operational": status.operational,
        "total": status.total,
        "runtime": {"name": status.runtime_name, "error": status.runtime_error},
        "refresh_ms": round(status.refresh_ms, 1),
        "root_causes": [s.name for s in status.root_causes()],
        "services": [_service_dict(s) for s in status.services],
    }
    return dict(safe_json(doc))


def _service_dict(s: ServiceStatus) -> dict[str, Any]:
    return {
        "name": s.name,
        "tier": s.tier,
        "phase": s.phase,
        "state": s.state.value,
        "operational": s.operational,
        "runtime_state": s.runtime_state,
        "health": s.health,
        "ports": list(s.ports),
        "reachable_host": s.reachable_host,
        "reachable_inside": s.reachable_inside,
        "deps_met": s.deps_met,
        "unmet_deps": list(s.unmet_deps),
        "restart_count": s.restart_count,
        "restart_loop": s.restart_loop,
        "uptime_s": None if s.uptime_s is None else round(s.uptime_s, 1),
        "latency_ms": None if s.latency_ms is None else round(s.latency_ms, 1),
        "issues": list(s.issues),
        "root_cause": s.root_cause,
        "blocked_by": list(s.blocked_by),
        "blast_radius": list(s.blast_radius),
        "probes": [_probe_dict(p) for p in s.probes],
    }


def _probe_dict(p: ProbeResult) -> dict[str, Any]:
    return {
        "check": p.check.describe(),
        "kind": p.check.kind,
        "where": p.where,
        "ok": p.ok,
        "latency_ms": round(p.latency_ms, 1),
        "error": p.error,
        "output": p.output,
    }


def status_to_json(status: StackStatus) -> str:
    return json.dumps(status_to_dict(status), indent=2, ensure_ascii=False)


# --- the seeds' "Current Service Status Matrix" -----------------------------------------

_MD_STATUS = {
    State.OPERATIONAL: "✅ Running",
    State.DEGRADED: "✅ Running",
    State.UNREACHABLE: "✅ Running",
    State.BLOCKED: "⚠️ Blocked",
    State.RESTART_LOOP: "⚠️ Restarting",
    State.STARTING: "⏳ Starting",
    State.UNHEALTHY: "⚠️ Unhealthy",
    State.EXITED: "❌ Exited",
    State.NOT_STARTED: "❌ Not Started",
    State.UNKNOWN: "❓ Unknown",
}


def _md_health(s: ServiceStatus) -> str:
    if s.state is State.NOT_STARTED or s.state is State.UNKNOWN:
        return "Unknown"
    if s.health == "none":
        return "❓ Unknown"
    if s.state is State.UNREACHABLE:
        return "✅ Working"
    if s.health == "healthy":
        return "✅ Healthy"
    return "❌ Failed"


def _md_cell(text: str) -> str:
    """One table cell: one safe line, pipes and backslashes escaped so the row holds."""
    return safe_str(text).replace("\\", "\\\\").replace("|", "\\|")


def status_to_markdown(status: StackStatus) -> str:
    """The seeds' status matrix table, regenerated from live data, grouped by tier."""
    lines = [
        f"Current Readiness: {status.readiness:.0%} "
        f"({status.operational}/{status.total} services operational)",
        "",
        "| Service | Status | Health Endpoint | Port | Dependencies Met | Issues |",
        "|---------|--------|----------------|------|-----------------|---------|",
    ]
    for tier in status.tiers or sorted({s.tier for s in status.services}):
        members = [s for s in status.services if s.tier == tier]
        if not members:
            continue
        lines.append(f"| **{_md_cell(tier.replace('-', ' ').title())}** |||||")
        for s in members:
            lines.append(_md_row(s))
    return "\n".join(lines) + "\n"


def _md_row(s: ServiceStatus) -> str:
    port = ", ".join(str(p) for p in s.ports) or "-"
    if not s.depends_on:
        deps = "N/A"
    elif s.deps_met:
        deps = ", ".join(s.depends_on)
    else:
        deps = ", ".join(f"❌ {d}" if d in s.unmet_deps else d for d in s.depends_on)
    issues = "; ".join(s.issues) if s.issues else "None"
    state = "✅ Completed" if s.health == "completed" else _MD_STATUS[s.state]  # a job, done
    cells = [s.name, state, _md_health(s), port, deps, issues]
    return "| " + " | ".join(_md_cell(c) for c in cells) + " |"


# --- plain text for the terminal ---------------------------------------------------------


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600}h"


def fmt_bool(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "NO")


def fmt_latency(ms: float | None) -> str:
    return "-" if ms is None else f"{ms:.0f}ms"
