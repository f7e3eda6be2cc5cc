"""Kubernetes-only guided actions: scale, delete a pod, run the probes inside a pod.

Rollout restart, start and stop need nothing new: `actions.restart` and `actions.bringup`
call the Runtime interface, which the kubernetes runtime implements with the rollout-restart
patch and the scale subresource. These three need the runtime's own verbs, so they check
for them (a Docker stack gets a clear refusal, not an AttributeError).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace

from actions.base import ActionError, CancelToken, Progress, Step
from console.model import HealthCheck, Stack
from console.probes.registry import run_check
from console.runtime.base import Autoscaler, Runtime, RuntimeUnavailable, Workload
from console.runtime.capabilities import ClusterVerbs
from console.status.workload import judge_workload

INSIDE_KINDS = ("http", "exec")
# No Vextrus service runs anywhere near this many replicas: a bigger number is a typo
# (30 meant 3) that would ask the cluster for a hundred pods.
MAX_REPLICAS = 100


def _cluster(runtime: Runtime, what: str) -> ClusterVerbs:
    """The runtime as one with cluster verbs, or ActionError saying it has none."""
    if not isinstance(runtime, ClusterVerbs):
        raise ActionError(f"{what}: the {runtime.name} runtime cannot do this "
                          "(Kubernetes only)")
    return runtime


def _service(stack: Stack, name: str, what: str) -> None:
    if name not in stack:
        raise ActionError(f"{what}: unknown service {name!r}")


class Scale:
    """`kubectl scale`: the workload's desired replicas, through the scale subresource."""

    name = "scale"
    writes = True

    def __init__(self, stack: Stack, runtime: Runtime, service: str, replicas: int,
                 timeout: float = 120.0, poll: float = 0.1) -> None:
        _service(stack, service, "scale")
        self.cluster = _cluster(runtime, "scale")
        if not 0 <= replicas <= MAX_REPLICAS:
            raise ActionError(f"scale: replicas must be 0 to {MAX_REPLICAS}, not {replicas}")
        self.stack, self.runtime, self.target, self.replicas = stack, runtime, service, replicas
        self.timeout, self.poll = timeout, poll

    def plan(self) -> list[Step]:
        return [Step("scale", f"scale {self.target} to {self.replicas} replicas", self.target,
                     "patch of the scale subresource; an autoscaler may change it again"),
                Step("wait", f"wait until the controller has reconciled {self.target} "
                     f"(timeout {self.timeout:g}s)", self.target)]

    async def run(self, cancel: CancelToken) -> AsyncIterator[Progress]:
        cancel.check()
        try:
            await self.cluster.scale(self.stack.service(self.target), self.replicas)
        except (RuntimeError, RuntimeUnavailable) as exc:  # the API server's refusal, in words
            yield Progress("failed", self.target, str(exc))
            return
        yield Progress("ok", self.target, f"desired replicas set to {self.replicas}")
        try:
            ok, said = await self._reconciled(cancel)
        except (RuntimeError, RuntimeUnavailable) as exc:
            ok, said = False, str(exc)
        yield Progress("done" if ok else "failed", self.target, said)

    async def _reconciled(self, cancel: CancelToken) -> tuple[bool, str]:
        """Until the workload has rolled out at the new count (kubectl rollout status), a
        failure that waiting will not fix, or the timeout. Reads the runtime's watched
        store: no API call per look."""
        service = self.stack.service(self.target)
        started = time.perf_counter()
        said = ""
        while True:
            cancel.check()
            state = (await self.runtime.list_states([service]))[self.target]
            w = state.workload
            if w is None:
                return False, state.error or "the workload is gone"
            elapsed = time.perf_counter() - started
            done, said, failed = _reconcile_verdict(w, self.replicas)
            if done or failed:
                return done, said + (f" in {elapsed:.1f}s" if done else "")
            if elapsed >= self.timeout:
                return False, f"not reconciled after {self.timeout:g}s: {said}"
            await asyncio.sleep(self.poll)


def _reconcile_verdict(w: Workload, replicas: int) -> tuple[bool, str, bool]:
    """(done, in words, failed for good) for a workload asked to run `replicas`."""
    if replicas == 0:
        running = len(w.pods)
        return running == 0, "scaled to 0: no pods left" if running == 0 else \
            f"{running} pods still running", False
    verdict = judge_workload(w)
    if verdict is None and w.desired == replicas:
        return True, f"{w.ready}/{w.desired} replicas ready", False
    if verdict is None:
        return False, f"{w.desired} desired (the scale not yet seen)", False
    return False, verdict.issues[0] if verdict.issues else verdict.health, \
        verdict.stuck or verdict.restart_loop


def autoscaler_note(hpa: Autoscaler | None, replicas: int) -> str:
    """What a HorizontalPodAutoscaler will do to a manual scale, in one line ("" if none).

    The HPA owns the replica count of its target: outside min..max it scales straight back;
    inside, its next sync (15 s by default) may change it again; at 0 it stops acting
    (ScalingDisabled) until something scales the workload up.
    """
    if hpa is None:
        return ""
    name = f"autoscaler {hpa.name}"
    if replicas == 0:
        return f"{name} pauses while the workload is at 0 (it scales nothing from 0)"
    if replicas < hpa.min_replicas:
        return f"{name} will scale it back up to its minimum, {hpa.min_replicas}"
    if replicas > hpa.max_replicas:
        return f"{name} will scale it back down to its maximum, {hpa.max_replicas}"
    return (f"{name} keeps it between {hpa.min_replicas} and {hpa.max_replicas}: "
            f"it may change {replicas} again on its next sync")


class DeletePod:
    """Delete one pod; its controller starts a fresh one (the blunt fix for a stuck pod)."""

    name = "delete-pod"
    writes = True

    def __init__(self, stack: Stack, runtime: Runtime, service: str, pod: str) -> None:
        _service(stack, service, "delete-pod")
        self.cluster = _cluster(runtime, "delete-pod")
        self.stack, self.runtime, self.target, self.pod = stack, runtime, service, pod

    def plan(self) -> list[Step]:
        return [Step("delete", f"delete pod {self.pod} of {self.target}", self.target,
                     "the workload's controller creates a replacement")]

    async def run(self, cancel: CancelToken) -> AsyncIterator[Progress]:
        cancel.check()
        try:
            await self.cluster.delete_pod(self.stack.service(self.target), self.pod)
        except (RuntimeError, RuntimeUnavailable) as exc:  # gone already, not its pod
            yield Progress("failed", self.target, str(exc))
            return
        yield Progress("done", self.target, f"pod {self.pod} deleted")


class ProbeInside:
    """The service's http and exec checks, run inside one of its pods through the API.

    What the seeds did with `docker exec ... wget` on a laptop, on the cluster: it tells a
    dead endpoint from a network path (Service, Ingress, NetworkPolicy) that drops traffic.
    """

    name = "probe-inside"
    writes = False

    def __init__(self, stack: Stack, runtime: Runtime, service: str) -> None:
        _service(stack, service, "probe-inside")
        self.stack, self.runtime, self.target = stack, runtime, service

    def checks(self) -> list[HealthCheck]:
        out = []
        for check in self.stack.service(self.target).checks:
            if check.kind == "http":
                out.append(replace(check, host="127.0.0.1", where="inside"))
            elif check.kind == "exec":
                out.append(check)
        return out

    def plan(self) -> list[Step]:
        steps = [Step(c.describe(), f"run {c.describe()} inside a pod", self.target)
                 for c in self.checks()]
        return steps or [Step("none", "no http or exec check to run inside", self.target)]

    async def run(self, cancel: CancelToken) -> AsyncIterator[Progress]:
        service = self.stack.service(self.target)
        failed = 0
        for check in self.checks():
            cancel.check()
            result = await run_check(check, service, self.runtime)
            said = (result.output or "").strip()[:200]
            if result.ok:
                yield Progress("ok", check.describe(), said or "ok")
            else:
                failed += 1
                detail = result.error + (f": {said}" if said and said not in result.error else "")
                yield Progress("failed", check.describe(), detail)
        total = len(self.checks())
        yield Progress("done", self.target, f"{total - failed}/{total} checks pass inside")
