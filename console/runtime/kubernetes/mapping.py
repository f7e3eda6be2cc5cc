"""Kubernetes API objects (plain JSON dicts) -> the console's ContainerState.

Pure functions, no client and no I/O, so every rule is tested with real-shaped objects.
A service maps to one Deployment or StatefulSet: by `runtime.k8s` ("deployment/NAME",
"statefulset/NAME"), by a plain name, or by the stack's workload label (default
`app.kubernetes.io/name`) when no workload has that name. Its pods are the namespace's pods
that match the workload's label selector, which is how the controllers themselves count them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from console.model import Service
from console.runtime.base import Autoscaler, ContainerState, PodSummary, Workload
from console.runtime.kubernetes.fields import d, meta
from console.runtime.kubernetes.rollout import rollout_status

KINDS = {"deployment": "Deployment", "statefulset": "StatefulSet"}
PROBE_EVENT_WINDOW = timedelta(minutes=10)  # older Unhealthy events are history, not status
IMAGE_ERRORS = (
    "ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull",
    "CreateContainerConfigError", "CreateContainerError",
)
EVENT_KEEP = 3
DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"

Obj = Mapping[str, object]


@dataclass(frozen=True)
class WorkloadRef:
    """What the stack file says: an optional kind and a name."""

    kind: str | None  # "Deployment", "StatefulSet" or None (either)
    name: str

    def describe(self) -> str:
        return f"{self.kind.lower()}/{self.name}" if self.kind else self.name


def ref_of(service: Service) -> WorkloadRef:
    """`runtime.k8s` of the service, or its own name when the stack file says nothing."""
    text = service.runtime.k8s or service.name
    kind, sep, name = text.partition("/")
    if sep:
        return WorkloadRef(KINDS[kind.lower()], name)
    return WorkloadRef(None, text)


# --- small accessors: the API's JSON is nested dicts, often with keys left out -----------


def name_of(obj: object) -> str:
    return str(meta(obj).get("name") or "")


def labels_of(obj: object) -> dict:
    return d(obj, "metadata", "labels")


_TIME_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def parse_time(text: object) -> datetime | None:
    """RFC 3339 (metav1.Time is seconds, MicroTime has microseconds) -> aware UTC datetime."""
    if not isinstance(text, str):
        return None
    m = _TIME_RE.match(text.strip())
    if not m:
        return None
    zone = "+00:00" if m.group(3) == "Z" else m.group(3)
    return datetime.fromisoformat(m.group(1) + (m.group(2) or "")[:7] + zone).astimezone(UTC)


# --- finding the workload and its pods ------------------------------------------------------


def find_workload(
    ref: WorkloadRef, workloads: Mapping[str, Sequence[dict]], label_key: str
) -> tuple[str, dict] | None:
    """(kind, object) by name first, then by label; Deployments before StatefulSets."""
    kinds = [ref.kind] if ref.kind else list(KINDS.values())
    for kind in kinds:
        for obj in workloads.get(kind, ()):
            if name_of(obj) == ref.name:
                return kind, obj
    for kind in kinds:  # a workload named otherwise, labelled with the service's name
        for obj in workloads.get(kind, ()):
            if labels_of(obj).get(label_key) == ref.name:
                return kind, obj
    return None


def selector_matches(selector: object, labels: Mapping[str, str]) -> bool:
    """A LabelSelector: every matchLabels pair and every matchExpression must hold.

    An empty selector selects nothing here: a workload always has one (apps/v1 requires it),
    so an empty one means a broken object, and matching every pod would be a lie.
    """
    if not isinstance(selector, dict):
        return False
    match = selector.get("matchLabels") or {}
    exprs = selector.get("matchExpressions") or []
    if not match and not exprs:
        return False
    if any(labels.get(k) != v for k, v in match.items()):
        return False
    return all(_expression_holds(e, labels) for e in exprs if isinstance(e, dict))


def _expression_holds(expr: dict, labels: Mapping[str, str]) -> bool:
    key, op, values = expr.get("key", ""), expr.get("operator", ""), expr.get("values") or []
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    return False


def pods_of(workload: dict, pods: Iterable[dict]) -> list[dict]:
    selector = d(workload, "spec").get("selector")
    chosen = [p for p in pods if selector_matches(selector, labels_of(p))]
    return sorted(chosen, key=name_of)


# --- pods --------------------------------------------------------------------------------


def containers_of(template_spec: dict) -> tuple[str, ...]:
    return tuple(str(c.get("name") or "") for c in template_spec.get("containers") or []
                 if isinstance(c, dict))


def default_container(obj: dict, spec: dict) -> str:
    """kubectl's choice when no -c is given: the annotated container if it exists, else the
    first (a service-mesh sidecar listed first would otherwise get the logs and probes)."""
    names = containers_of(spec)
    wanted = str(d(obj, "metadata", "annotations").get(DEFAULT_CONTAINER) or "")
    if wanted and wanted in names:
        return wanted
    return names[0] if names else ""


def pod_summary(pod: dict) -> PodSummary:
    """The pod's worst container speaks for it: waiting beats running, restarts add up."""
    status = d(pod, "status")
    statuses = [s for s in status.get("containerStatuses") or [] if isinstance(s, dict)]
    inits = [s for s in status.get("initContainerStatuses") or [] if isinstance(s, dict)]
    reason = message = last_reason = ""
    last_exit: int | None = None
    for cs in [*inits, *statuses]:
        waiting = d(cs, "state", "waiting")
        if waiting.get("reason") and not reason:
            reason, message = str(waiting["reason"]), str(waiting.get("message") or "")
        term = d(cs, "lastState", "terminated") or d(cs, "state", "terminated")
        if term and (last_exit is None or term.get("reason") == "OOMKilled"):
            last_exit = _int(term.get("exitCode"))
            last_reason = str(term.get("reason") or "")
    return PodSummary(
        name=name_of(pod),
        phase=str(status.get("phase") or "Unknown"),
        ready=_condition(status, "Ready") and not terminating(pod),
        restarts=sum(_int(cs.get("restartCount")) or 0 for cs in statuses),
        reason=TERMINATING if terminating(pod) else reason or _pod_reason(pod),
        message=message or str(status.get("message") or ""),
        last_exit_code=last_exit,
        last_reason=last_reason,
        node=str(d(pod, "spec").get("nodeName") or ""),
    )


TERMINATING = "Terminating"


def terminating(pod: object) -> bool:
    """Deleted, in its grace period: kubectl's "Terminating". It still runs, but its
    Service endpoints are gone and its controller no longer counts it."""
    return bool(meta(pod).get("deletionTimestamp"))


def _pod_reason(pod: dict) -> str:
    """Pending and unscheduled: the PodScheduled condition says why (Unschedulable)."""
    for cond in d(pod, "status").get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type") == "PodScheduled" and \
                cond.get("status") == "False":
            return str(cond.get("reason") or "")
    return ""


def _condition(status: dict, kind: str) -> bool:
    return any(
        isinstance(c, dict) and c.get("type") == kind and c.get("status") == "True"
        for c in status.get("conditions") or []
    )


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def restart_times(pod: dict) -> list[datetime]:
    """When each container last crashed (lastState.terminated.finishedAt), as the API says."""
    out = []
    for cs in d(pod, "status").get("containerStatuses") or []:
        when = parse_time(d(cs, "lastState", "terminated").get("finishedAt"))
        if when is not None:
            out.append(when)
    return out


# --- events and autoscalers --------------------------------------------------------------


def event_time(event: dict) -> datetime | None:
    """Newest of lastTimestamp, series.lastObservedTime, eventTime, firstTimestamp."""
    for value in (event.get("lastTimestamp"), d(event, "series").get("lastObservedTime"),
                  event.get("eventTime"), event.get("firstTimestamp")):
        when = parse_time(value)
        if when is not None:
            return when
    return None


def recent_events(
    events: Iterable[dict], pod_names: set[str], workload: tuple[str, str], now: datetime
) -> tuple[list[str], list[str]]:
    """(probe failures, other warnings) about these pods or the workload, newest first."""
    found: list[tuple[datetime, str, bool]] = []
    for ev in events:
        obj = d(ev, "involvedObject")
        ours = (obj.get("kind") == "Pod" and obj.get("name") in pod_names) or (
            (obj.get("kind"), obj.get("name")) == workload
        )
        when = event_time(ev)
        if not ours or when is None or now - when > PROBE_EVENT_WINDOW:
            continue
        count = _int(ev.get("count")) or _int(d(ev, "series").get("count")) or 1
        text = str(ev.get("message") or ev.get("reason") or "").strip()
        text += f" (x{count})" if count > 1 else ""
        found.append((when, text, ev.get("reason") == "Unhealthy"))
    found.sort(key=lambda item: item[0], reverse=True)
    probes = _unique(t for _, t, probe in found if probe)
    warnings = _unique(t for _, t, probe in found if not probe)
    return probes[:EVENT_KEEP], warnings[:EVENT_KEEP]


def _unique(texts: Iterable[str]) -> list[str]:
    out: list[str] = []
    for text in texts:
        if text and text not in out:
            out.append(text)
    return out


def autoscaler_for(kind: str, name: str, hpas: Iterable[dict]) -> Autoscaler | None:
    for hpa in hpas:
        target = d(hpa, "spec", "scaleTargetRef")
        if target.get("kind") == kind and target.get("name") == name:
            return _autoscaler(hpa)
    return None


def _autoscaler(hpa: dict) -> Autoscaler:
    spec, status = d(hpa, "spec"), d(hpa, "status")
    targets = {_metric_name(m): _metric_target(m) for m in spec.get("metrics") or []}
    metrics = []
    for current in status.get("currentMetrics") or []:
        label = _metric_name(current)
        metrics.append(f"{label} {_metric_current(current)}/{targets.get(label, '?')}")
    limited = ""
    for cond in status.get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type") == "ScalingLimited" and \
                cond.get("status") == "True":
            limited = str(cond.get("message") or cond.get("reason") or "limited")
    return Autoscaler(
        name=name_of(hpa),
        current=_int(status.get("currentReplicas")) or 0,
        desired=_int(status.get("desiredReplicas")) or 0,
        min_replicas=_int(spec.get("minReplicas")) or 1,
        max_replicas=_int(spec.get("maxReplicas")) or 0,
        metrics=tuple(metrics),
        limited=limited,
    )


def _metric_source(metric: object) -> dict:
    kind = str(metric.get("type") or "") if isinstance(metric, dict) else ""
    key = kind[:1].lower() + kind[1:]  # Resource -> resource, ContainerResource -> ...
    return d(metric, key)


def _metric_name(metric: object) -> str:
    source = _metric_source(metric)
    return str(source.get("name") or d(source, "metric").get("name") or "metric")


def _metric_target(metric: object) -> str:
    target = d(_metric_source(metric), "target")
    if "averageUtilization" in target:
        return f"{target['averageUtilization']}%"
    return str(target.get("averageValue") or target.get("value") or "?")


def _metric_current(metric: object) -> str:
    current = d(_metric_source(metric), "current")
    if "averageUtilization" in current:
        return f"{current['averageUtilization']}%"
    return str(current.get("averageValue") or current.get("value") or "?")


# --- the whole state ----------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """The objects one service maps to."""

    kind: str
    workload: dict
    pods: list[dict]


def container_state(
    service: str,
    found: Found,
    events: Iterable[dict],
    hpas: Iterable[dict],
    now: datetime,
    recent: tuple[datetime, ...] = (),
    context: str = "",
) -> ContainerState:
    """One workload as a ContainerState: the engine reads `state`, `health`, `workload`."""
    obj, kind = found.workload, found.kind
    spec, status = d(obj, "spec"), d(obj, "status")
    pods = [pod_summary(p) for p in found.pods]
    desired = _int(spec.get("replicas"))
    desired = 1 if desired is None else desired  # the API's default
    rollout, stalled = rollout_status(kind, obj)
    template = d(spec, "template", "spec")
    probes, warnings = recent_events(events, {p.name for p in pods}, (kind, name_of(obj)), now)
    workload = Workload(
        kind=kind, name=name_of(obj), namespace=str(meta(obj).get("namespace") or ""),
        desired=desired, ready=_int(status.get("readyReplicas")) or 0,
        updated=_int(status.get("updatedReplicas")) or 0,
        available=_int(status.get("availableReplicas")) or 0,
        pods=tuple(pods), probe_failures=tuple(probes), warnings=tuple(warnings),
        autoscaler=autoscaler_for(kind, name_of(obj), hpas), context=context,
        rollout=rollout, stalled=stalled, containers=containers_of(template),
        default_container=default_container(d(spec, "template"), template),
    )
    worst = _worst_pod(pods)
    started = [parse_time(d(p, "status").get("startTime")) for p in found.pods]
    return ContainerState(
        service=service,
        present=True,
        container_id=str(meta(obj).get("uid") or ""),
        container_name=f"{kind.lower()}/{name_of(obj)}",
        state=_runtime_state(workload),
        health=_health(workload),
        restart_count=sum(p.restarts for p in pods),
        recent_restarts=recent,
        started_at=min((s for s in started if s is not None), default=None),
        exit_code=worst.last_exit_code if worst else None,
        oom_killed=any(p.last_reason == "OOMKilled" for p in pods),
        error=(f"{worst.reason}: {worst.message}".rstrip(": ")
               if worst and worst.reason not in ("", TERMINATING) else ""),
        image=_images(obj),
        restart_policy="Always" if kind in KINDS.values() else "",
        network_mode=f"namespace {workload.namespace}",
        workload=workload,
    )


def _worst_pod(pods: Sequence[PodSummary]) -> PodSummary | None:
    """The pod to quote: a waiting reason first, then a crash, then the most restarts."""
    if not pods:
        return None
    return max(pods, key=lambda p: (bool(p.reason) and p.reason != TERMINATING,
                                    p.last_exit_code is not None, p.restarts))


def _runtime_state(w: Workload) -> str:
    """In the runtime's vocabulary the engine already reads: running, restarting, ..."""
    if any(p.phase == "Running" for p in w.pods):
        return "running"
    if w.desired == 0:
        return "scaled-down"
    if w.pods:
        return "pending"
    return "created"


def _health(w: Workload) -> str | None:
    if w.desired == 0:
        return None
    if w.ready >= w.desired and not w.rollout:
        return "healthy"
    if w.probe_failures or any(p.reason for p in w.pods):
        return "unhealthy"
    return "starting"


def _images(obj: dict) -> str:
    containers = d(obj, "spec", "template", "spec").get("containers") or []
    return ", ".join(str(c.get("image") or "") for c in containers if isinstance(c, dict))
