"""Status rules for Kubernetes workloads: replicas, waiting reasons, probes, autoscalers.

Pure, like `console.status.engine`, which asks `judge_workload` first when a ContainerState
carries a Workload. `None` means "nothing wrong at the workload level": every desired
replica is ready, and the service is then judged by its checks like any other.
"""

from __future__ import annotations

from dataclasses import dataclass

from console.runtime.base import PodSummary, Workload
from console.runtime.kubernetes.mapping import IMAGE_ERRORS
from console.status.types import State


@dataclass(frozen=True)
class Verdict:
    state: State
    health: str
    issues: tuple[str, ...]
    restart_loop: bool = False
    # Failing in a way that waiting will not heal (an image that cannot be pulled or named):
    # a bring-up stops waiting on it at once and shows the diagnosis.
    stuck: bool = False


def judge_workload(w: Workload) -> Verdict | None:
    """Worst first: a crash loop, an image that cannot run, a stalled rollout, a rollout
    under way, then missing replicas."""
    if w.desired == 0 and not any(p.phase == "Running" for p in w.pods):
        return Verdict(State.NOT_STARTED, "unknown", (f"scaled to 0 replicas ({_name(w)})",))
    looping = [p for p in w.pods if p.reason == "CrashLoopBackOff"]
    if looping:
        return Verdict(State.RESTART_LOOP, "unhealthy", (_loop_text(w, looping),),
                       restart_loop=True)
    broken = [p for p in w.pods if p.reason in IMAGE_ERRORS]
    if broken:
        return Verdict(State.NOT_STARTED, "unhealthy", (_broken_text(broken[0]),), stuck=True)
    if w.stalled:
        return _stalled(w)
    if w.rollout:
        return _rolling_out(w)
    if w.ready >= w.desired:
        return None
    replicas = f"{w.ready}/{w.desired} replicas ready"
    if w.probe_failures:
        return Verdict(State.UNHEALTHY, "unhealthy",
                       (f"unhealthy: {replicas}: {w.probe_failures[0]}",))
    waiting = _waiting_text(w.pods)
    state = State.STARTING if w.ready == 0 else State.DEGRADED
    return Verdict(state, "starting" if w.ready == 0 else "unhealthy",
                   (replicas + (f" ({waiting})" if waiting else ""),))


def _rolling_out(w: Workload) -> Verdict:
    """Not healthy yet, whatever readiness says: the old pods answer until replaced, and a
    dependent started now would meet the old version or none (kubectl rollout status)."""
    text = f"rolling out ({w.rollout})"
    if w.ready < w.desired:
        text += f"; {w.ready}/{w.desired} replicas ready"
    if w.probe_failures:
        text += f": {w.probe_failures[0]}"
    return Verdict(State.STARTING, "starting", (text,))


def _stalled(w: Workload) -> Verdict:
    """The controller gave up on the rollout (progressDeadlineSeconds): a failure to act on,
    not to wait out; the old pods may still serve, hence degraded rather than down."""
    text = f"rollout {w.stalled}" if w.stalled.startswith("paused") else \
        f"rollout stuck: {w.stalled}"
    if w.rollout:
        text += f" ({w.rollout})"
    waiting = _waiting_text(w.pods)
    if waiting:
        text += f"; {waiting}"
    state = State.DEGRADED if w.ready > 0 else State.UNHEALTHY
    return Verdict(state, "unhealthy", (text,), stuck=True)


def workload_notes(w: Workload) -> tuple[str, ...]:
    """Facts worth a line even when the workload is fine: an autoscaler that hit a limit."""
    hpa = w.autoscaler
    if hpa is None or not hpa.limited or hpa.desired < hpa.max_replicas:
        return ()
    metrics = f": {', '.join(hpa.metrics)}" if hpa.metrics else ""
    return (f"autoscaler at its maximum ({hpa.current}/{hpa.max_replicas} replicas){metrics}",)


def _name(w: Workload) -> str:
    return f"{w.kind.lower()}/{w.name}"


def _loop_text(w: Workload, looping: list[PodSummary]) -> str:
    restarts = sum(p.restarts for p in w.pods)
    text = f"restart loop: CrashLoopBackOff, {restarts} restarts"
    if len(looping) > 1:
        text += f" ({len(looping)} pods)"
    last = looping[0]
    if last.last_exit_code is not None:
        text += f", last exit code {last.last_exit_code}"
    if last.last_reason == "OOMKilled":
        text += " (OOM killed)"
    return text


def _broken_text(pod: PodSummary) -> str:
    detail = f": {pod.message}" if pod.message else ""
    return f"cannot start: {pod.reason}{detail}"


def _waiting_text(pods: tuple[PodSummary, ...]) -> str:
    """`pods Pending: Unschedulable` or `pods ContainerCreating`: what they wait for."""
    reasons = sorted({p.reason for p in pods if p.reason and not p.ready})
    if reasons:
        return "pods " + ", ".join(reasons)
    phases = sorted({p.phase for p in pods if not p.ready})
    return "pods " + ", ".join(phases) if phases else ""
