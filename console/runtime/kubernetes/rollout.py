"""Is the workload's rollout done? The rules `kubectl rollout status` applies, on plain dicts.

kubectl (`k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go`) says a Deployment has
rolled out when the controller has seen its latest spec (`metadata.generation <=
status.observedGeneration`), every desired replica runs the new template
(`updatedReplicas == spec.replicas`), no pod of an old template is left (`status.replicas
== updatedReplicas`) and every updated one is available; a `Progressing` condition with
reason `ProgressDeadlineExceeded` is a failure that waiting will not fix, and so is a
paused Deployment (`spec.paused`: the controller neither rolls nor times out). A StatefulSet
(RollingUpdate) is done when its generation is observed, every replica is ready, and either
its partition's share is updated or `updateRevision == currentRevision`.

Readiness alone lies during a rollout: the old pods stay ready until the new ones take
over, so `readyReplicas == replicas` holds from the first second of a restart.
"""

from __future__ import annotations

from console.runtime.kubernetes.fields import d, meta

DEADLINE_REASON = "ProgressDeadlineExceeded"


def rollout_status(kind: str, obj: dict) -> tuple[str, str]:
    """(what is still rolling out, "" when done; the stall message, "" unless stalled)."""
    if kind == "StatefulSet":
        return _statefulset(obj), ""
    return _deployment(obj)


def _num(value: object, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _observed(obj: dict) -> bool:
    generation = _num(meta(obj).get("generation"))
    observed = _num(d(obj, "status").get("observedGeneration"))
    return generation <= observed


def _deployment(obj: dict) -> tuple[str, str]:
    spec, status = d(obj, "spec"), d(obj, "status")
    if not _observed(obj):
        return "new spec not yet seen by the controller", ""
    stalled = _deadline_exceeded(status)
    if spec.get("paused") is True:  # no progress and no deadline until resumed
        stalled = f"paused (kubectl rollout resume deployment/{meta(obj).get('name')})"
    desired = _num(spec.get("replicas"), 1)
    updated = _num(status.get("updatedReplicas"))
    total = _num(status.get("replicas"))
    available = _num(status.get("availableReplicas"))
    if updated < desired:
        return f"{updated}/{desired} updated", stalled
    if total > updated:
        old = total - updated
        return f"{old} old {'pod' if old == 1 else 'pods'} terminating", stalled
    if available < updated and _progressing(status).get("reason") not in COMPLETE:
        # kubectl waits here too; once the controller said the rollout completed, a pod
        # that later fails readiness is an unhealthy replica, not a rollout (judged so)
        return f"{available}/{updated} updated available", stalled
    return "", ""


COMPLETE = (None, "NewReplicaSetAvailable")


def _progressing(status: dict) -> dict:
    for cond in status.get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type") == "Progressing":
            return cond
    return {}


def _deadline_exceeded(status: dict) -> str:
    cond = _progressing(status)
    if cond.get("reason") != DEADLINE_REASON:
        return ""
    message = str(cond.get("message") or "").strip()
    return DEADLINE_REASON + (f": {message}" if message else "")


def _statefulset(obj: dict) -> str:
    spec, status = d(obj, "spec"), d(obj, "status")
    strategy = d(spec, "updateStrategy")
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return ""  # OnDelete: kubectl has no rollout status for it; readiness decides
    if _num(status.get("observedGeneration")) == 0 or not _observed(obj):
        return "new spec not yet seen by the controller"
    desired = _num(spec.get("replicas"), 1)
    ready = _num(status.get("readyReplicas"))
    updated = _num(status.get("updatedReplicas"))
    partition = d(strategy, "rollingUpdate").get("partition")
    if isinstance(partition, int) and partition > 0:
        if updated < desired - partition:
            return f"{updated}/{desired - partition} updated (partition {partition})"
        return "" if ready >= desired else f"{ready}/{desired} ready"
    if status.get("updateRevision") and status.get("updateRevision") != \
            status.get("currentRevision"):
        return f"{updated}/{desired} updated"
    return ""
