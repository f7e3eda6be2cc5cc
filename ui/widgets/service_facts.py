"""Rich renderables for one service's facts: probes, container, dependencies, issues.

The detail screen is a stack of these. They are plain functions of the data (no widget
state), so a refresh simply re-renders them, and every text that a service produced goes
through the untrusted-text boundary (`sanitize`, `safe_str`, `safe_text`: masked,
terminal-safe, never markup) before it is shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from console.masking import safe_str, safe_text, sanitize
from console.runtime.base import ContainerState, LogLine, Workload
from console.status.types import ServiceStatus, StackStatus
from ui.widgets.status_style import (
    ROOT_CAUSE_TEXT,
    StatusPalette,
    flag_text,
    format_latency,
    format_uptime,
    state_text,
    state_tone,
)

LOG_TAIL = 20


def summary_text(service: ServiceStatus, palette: StatusPalette) -> Text:
    """Two lines: what it is, and how it is."""
    ports = ", ".join(str(p) for p in service.ports) or "none"
    text = Text()
    text.append(safe_str(service.name, 200), style=palette.info)
    text.append(
        safe_str(f"  tier {service.tier} · phase {service.phase} · ports {ports}"),
        style=palette.muted,
    )
    text.append("\n")
    text.append(state_text(service), style=palette.tone(state_tone(service.state)))
    text.append(safe_str(f"  runtime {service.runtime_state} · health {service.health}"))
    up = format_uptime(service.uptime_s, precise=True)
    text.append(f" · up {up} · restarts {service.restart_count}")
    return text


def issues_renderable(service: ServiceStatus, palette: StatusPalette) -> Text:
    lines = Text()
    if service.root_cause:
        lines.append(
            f"{ROOT_CAUSE_TEXT}: failing while its own dependencies are fine\n", style=palette.bad
        )
    for issue in service.issues:
        lines.append(f"• {sanitize(issue)}\n")
    if not lines:
        lines.append("none", style=palette.ok)
    lines.rstrip()
    return lines


def probes_text(service: ServiceStatus, palette: StatusPalette) -> Text:
    """Every probe the last refresh ran: where, what, latency, then what came back.

    Two lines per probe rather than a table, so a long URL or body never squeezes the
    answer into a sliver at 80 columns.
    """
    if not service.probes:
        return Text(
            "no probes ran (no health checks, or the service is not running)", style=palette.muted
        )
    text = Text()
    for probe in service.probes:
        mark, tone = flag_text(probe.ok)
        check = sanitize(probe.check.describe().removesuffix(" (inside)"), limit=120)
        said = sanitize(probe.output if probe.ok else (probe.error or probe.output), limit=300)
        text.append(f"{mark} ", style=palette.tone(tone))
        text.append(f"{probe.where:<7}", style=palette.info)
        text.append(f"{check} · {format_latency(probe.latency_ms)}\n")
        text.append(
            f"    {said or 'no output'}\n", style=palette.muted if probe.ok else palette.bad
        )
    text.rstrip()
    return text


def container_table(container: ContainerState | None, palette: StatusPalette) -> RenderableType:
    """What the runtime knows: id, image, state, start, exit, restarts, policy, network."""
    if container is None or not container.present:
        return Text("no container: the runtime has nothing for this service", style=palette.muted)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style=palette.muted, no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in _container_facts(container):
        grid.add_row(label, Text(sanitize(value, limit=200)))  # a str cell would be markup
    return grid


def _container_facts(c: ContainerState) -> list[tuple[str, str]]:
    exit_code = (
        "—" if c.exit_code is None else str(c.exit_code) + (" (OOM killed)" if c.oom_killed else "")
    )
    return [
        ("id", c.container_id[:12] or "—"),
        ("name", c.container_name or "—"),
        ("image", c.image or "—"),
        ("state", c.state + (f" ({c.health})" if c.health else "")),
        ("started", _when(c.started_at)),
        ("exit code", exit_code),
        ("restarts", str(c.restart_count)),
        ("policy", c.restart_policy or "—"),
        ("network", c.network_mode or "—"),
        ("ports", ", ".join(c.ports) or "none published"),
        *([("error", c.error)] if c.error else []),
        *(_workload_facts(c.workload) if c.workload is not None else []),
    ]


def _workload_facts(w: Workload) -> list[tuple[str, str]]:
    """Kubernetes: replicas, each pod, probe failures, the autoscaler and its metrics."""
    rows = [
        ("cluster", f"{w.context or '—'} · namespace {w.namespace}"),
        ("replicas", f"{w.ready}/{w.desired} ready · {w.updated} updated · "
                     f"{w.available} available"),
    ]
    for pod in w.pods:
        state = pod.reason or pod.phase
        last = f" · last exit {pod.last_exit_code} {pod.last_reason}".rstrip() \
            if pod.last_exit_code is not None else ""
        rows.append(("pod", f"{pod.name} {state}{' ready' if pod.ready else ''} · "
                            f"{pod.restarts} restarts{last}"))
    rows.extend(("probe", text) for text in w.probe_failures)
    rows.extend(("warning", text) for text in w.warnings)
    hpa = w.autoscaler
    if hpa is not None:
        metrics = f" · {', '.join(hpa.metrics)}" if hpa.metrics else ""
        rows.append(("autoscaler", f"{hpa.current} → {hpa.desired} replicas (min "
                                   f"{hpa.min_replicas}, max {hpa.max_replicas}){metrics}"))
        if hpa.limited:
            rows.append(("", hpa.limited))
    return rows


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if moment else "—"


def dependencies_text(service: ServiceStatus, status: StackStatus, palette: StatusPalette) -> Text:
    """Each dependency with met / not met and its state; the chain to the root cause."""
    if not service.depends_on:
        return Text("none", style=palette.muted)
    text = Text()
    for dep in service.depends_on:
        dep_status = _find(status, dep)
        met = dep not in service.unmet_deps  # the engine judged the edge by its condition
        mark, tone = flag_text(met)
        text.append(f"{mark} ", style=palette.tone(tone))
        text.append(safe_str(dep, 200))
        state = dep_status.state.label if dep_status else "not in stack"
        text.append(f"  {'met' if met else 'not met'} · {state}\n", style=palette.muted)
    if service.blocked_by:
        text.append(safe_str("blocked by " + " ← ".join(service.blocked_by)), style=palette.warn)
    text.rstrip()
    return text


def names_text(names: Iterable[str], palette: StatusPalette, empty: str = "none") -> Text:
    """A comma-separated list of service names, or a muted `none`."""
    names = list(names)
    return safe_text(", ".join(names)) if names else Text(empty, style=palette.muted)


def dependents_of(name: str, status: StackStatus) -> list[str]:
    return [s.name for s in status.services if name in s.depends_on]


def log_text(lines: list[LogLine] | str, palette: StatusPalette) -> Text:
    """The last log lines, or why there are none (a failure is a line, not a crash)."""
    if isinstance(lines, str):  # why there are none: a runtime's error, said as it said it
        return safe_text(lines, style=palette.muted)
    if not lines:
        return Text("no log lines", style=palette.muted)
    text = Text(no_wrap=True, overflow="ellipsis")
    for line in lines[-LOG_TAIL:]:
        if line.time is not None:
            text.append(f"{line.time:%H:%M:%S} ", style=palette.muted)
        text.append(sanitize(line.text), style=palette.warn if line.stream == "stderr" else "")
        text.append("\n")
    text.rstrip()
    return text


def _find(status: StackStatus, name: str) -> ServiceStatus | None:
    try:
        return status.get(name)
    except KeyError:
        return None
