"""Checklist items the live status already answers: uptime, health, restart loops, jobs."""

from __future__ import annotations

from actions.readiness.inputs import Inputs
from actions.readiness.model import ITEM_BY_ID, Mark, Verdict
from console.status.types import ServiceStatus

STABLE_SECONDS = 600  # the seed's ">10 minutes"


def _names(services: list[ServiceStatus], limit: int = 6) -> str:
    shown = ", ".join(s.name for s in services[:limit])
    return shown + (f" and {len(services) - limit} more" if len(services) > limit else "")


def uptime(inp: Inputs) -> Verdict:
    item = ITEM_BY_ID["uptime"]
    services = [s for s in inp.status.services if not _is_job(inp, s.name)]
    if not services:
        return inp.verdict(item, Mark.UNKNOWN, "no services in the stack")
    down = [s for s in services if not s.operational]
    young = [s for s in services if s.operational and (s.uptime_s or 0) < STABLE_SECONDS]
    restarted = [s for s in services if s.restart_count > 0]
    asked = f"{inp.status.runtime_name}: uptime and restart counts of {len(services)} services"
    if down:
        return inp.verdict(item, Mark.FAIL, f"not operational: {_names(down)}", asked,
                           "bring-up (B)")
    if restarted:
        counts = ", ".join(f"{s.name} {s.restart_count}" for s in restarted[:6])
        return inp.verdict(item, Mark.FAIL, f"restarted: {counts}", asked)
    if young:
        least = min(young, key=lambda s: s.uptime_s or 0)
        return inp.verdict(item, Mark.FAIL, f"up less than 10 min: {_names(young)} "
                           f"({least.name} {int(least.uptime_s or 0)} s)", asked)
    return inp.verdict(item, Mark.PASS, f"{len(services)} services up >10 min, no restarts",
                       asked)


def health_200(inp: Inputs) -> Verdict:
    item = ITEM_BY_ID["health-200"]
    http = [(s, p) for s in inp.status.services for p in s.probes if p.check.kind == "http"]
    if not http:
        return inp.verdict(item, Mark.UNKNOWN, "no http health checks in the stack file")
    # An inside check runs wget in the container: exit 0 is a 2xx, its output the body.
    failing = [(s, p) for s, p in http if not (p.ok and (
        p.output.startswith("HTTP 200") or p.check.where == "inside"))]
    asked = f"{len(http)} http health checks"
    if failing:
        words = "; ".join(f"{s.name} {p.check.path}: {p.error or p.output[:40]}"
                          for s, p in failing[:4])
        more = f" (+{len(failing) - 4} more)" if len(failing) > 4 else ""
        return inp.verdict(item, Mark.FAIL, f"{len(failing)} not 200: {words}{more}", asked)
    return inp.verdict(item, Mark.PASS, f"{len(http)} health endpoints answered 200", asked)


def no_restart_loops(inp: Inputs) -> Verdict:
    item = ITEM_BY_ID["no-restart-loops"]
    looping = [s for s in inp.status.services if s.restart_loop]
    asked = f"{inp.status.runtime_name}: restart history"
    if looping:
        return inp.verdict(item, Mark.FAIL, f"restart loop: {_names(looping)}", asked,
                           "pause restarts (p), then fix and restart (r)")
    return inp.verdict(item, Mark.PASS, "no service in a restart loop", asked)


def _is_job(inp: Inputs, name: str) -> bool:
    service = inp.service(name)
    return bool(service is not None and getattr(service, "oneshot", False))


def migrations(inp: Inputs) -> Verdict:
    """Migrations are the stack's one-shot jobs (a `migrate` service that exits 0)."""
    item = ITEM_BY_ID["migrations"]
    jobs = [s for s in inp.status.services if _is_job(inp, s.name)]
    if not jobs:
        return inp.verdict(item, Mark.UNKNOWN, "no migration job in the stack: declare the "
                           "migrate service as a one-shot job (service_completed_successfully)")
    unfinished = [s for s in jobs if not s.operational]
    asked = f"one-shot jobs: {_names(jobs)}"
    if unfinished:
        words = ", ".join(f"{s.name} ({s.runtime_state})" for s in unfinished[:6])
        return inp.verdict(item, Mark.FAIL, f"not completed: {words}", asked, "bring-up (B)")
    return inp.verdict(item, Mark.PASS, f"{len(jobs)} jobs exited 0", asked)


def healthchecks(inp: Inputs) -> Verdict:
    item = ITEM_BY_ID["healthchecks"]
    missing = [s.name for s in inp.stack.services if not s.checks]
    asked = f"stack file: checks of {len(inp.stack.services)} services"
    if missing:
        shown = ", ".join(missing[:6]) + (f" and {len(missing) - 6} more"
                                          if len(missing) > 6 else "")
        return inp.verdict(item, Mark.FAIL, f"no health check: {shown}", asked,
                           "vextrus-console audit --fix (adds seed 002's healthcheck)")
    return inp.verdict(item, Mark.PASS, f"all {len(inp.stack.services)} services have checks",
                       asked)


def temporal(inp: Inputs) -> Verdict:
    """Deployable: the server answers and the namespace exists (the temporal probe asks)."""
    item = ITEM_BY_ID["temporal"]
    probes = [(s, p) for s in inp.status.services for p in s.probes
              if p.check.kind == "temporal"]
    if not probes:
        return inp.verdict(item, Mark.UNKNOWN, "no temporal check in the stack file")
    service, probe = probes[0]
    asked = f"temporal check of {service.name}"
    if probe.ok:
        return inp.verdict(item, Mark.PASS, probe.output or "namespace registered", asked)
    return inp.verdict(item, Mark.FAIL, probe.error or "temporal check failed", asked)
