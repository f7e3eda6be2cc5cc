"""The fake cluster's controllers and kubelet: what a real cluster does to objects over time.

A thread ticks every `tick` seconds and does what the deployment controller, the
statefulset controller and the kubelet would, following their documented behaviour:

* Deployment (https://kubernetes.io/docs/concepts/workloads/controllers/deployment/,
  "Rolling Update Deployment", "Progress Deadline Seconds", "Deployment status"): pods of
  the current template carry its `pod-template-hash`; a rolling update creates new pods up
  to `replicas + maxSurge` (default 25%, rounded up) and removes old ones while at least
  `replicas - maxUnavailable` (default 25%, rounded down) stay available; the status
  (`observedGeneration`, `replicas` counting old pods too, `updatedReplicas`,
  `readyReplicas`, `availableReplicas`, the Available and Progressing conditions) is
  written after each step; no progress for `progressDeadlineSeconds` sets Progressing
  False with reason ProgressDeadlineExceeded.
* StatefulSet ("Deployment and Scaling Guarantees", "Rolling Updates"): OrderedReady, so
  ordinal N is created once 0..N-1 are Running and Ready; a rolling update replaces pods
  from the highest ordinal down, one at a time; `updateRevision` / `currentRevision`.
* The kubelet: a new pod is Pending (ContainerCreating) and becomes Running and Ready
  `ready_delay` seconds later (available `minReadySeconds` after that), unless its image
  cannot be pulled (`unpullable`): then it waits in that reason forever and a Warning
  event says so, as `kubectl describe` shows.
* Events: the controllers' Normal `ScalingReplicaSet` / `SuccessfulCreate` events and the
  kubelet's Warnings, so a field selector on `type` has something to filter.

A deleted pod is Terminating (`deletionTimestamp`, not counted in the workload's status,
still listed and still Ready) for `grace` seconds when one is set, else it goes at once; a
pod's readiness is a delay, not a probe: what the console reads is the same either way.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.k8s_fake_api import FakeKubeAPI


def template_hash(template: dict) -> str:
    return hashlib.sha1(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


def _percent(value: object, replicas: int, round_up: bool, default: str) -> int:
    text = str(value if value is not None else default)
    if text.endswith("%"):
        share = replicas * int(text[:-1]) / 100
        return math.ceil(share) if round_up else math.floor(share)
    return int(text)


def _ready(pod: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in pod["status"].get("conditions") or [])


class Controller:
    """Controllers and kubelet over one FakeKubeAPI; `start()` runs them in a thread."""

    def __init__(self, api: FakeKubeAPI, ready_delay: float = 0.3, tick: float = 0.05,
                 grace: float = 0.0) -> None:
        self.api, self.ready_delay, self.tick = api, ready_delay, tick
        # terminationGracePeriodSeconds: a deleted pod stays, Terminating, this long
        self.grace = grace
        self.dying: dict[str, float] = {}  # pod -> when the kubelet removes it
        self.born: dict[str, float] = {}  # pod -> when it was created (monotonic)
        self.ready_at: dict[str, float] = {}  # pod -> when the kubelet made it Ready
        self.progress: dict[str, float] = {}  # workload -> last time its rollout moved
        self.counter = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Controller:
        """Adopt what the test put (at rest: its pods are the current revision), then tick."""
        with self.api.lock:
            for kind, key in (("Deployment", "pod-template-hash"),
                              ("StatefulSet", "controller-revision-hash")):
                for name, obj in self.api.objects[kind].items():
                    current = template_hash(obj["spec"]["template"])
                    self._adopt(obj, self._pods_of(obj), key, current)
                    self.progress[name] = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="fake-controller", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)

    def _loop(self) -> None:
        while not self._stop.wait(self.tick):
            with self.api.lock:
                self.step()

    def step(self) -> None:
        """One pass: the kubelet first (pods become ready), then every workload."""
        api = self.api
        now = time.monotonic()
        for name, until in list(self.dying.items()):
            if now >= until:
                del self.dying[name]
                api.delete("Pod", name)
        for pod in list(api.objects["Pod"].values()):
            self._kubelet(pod)
        for name, obj in list(api.objects["Deployment"].items()):
            self._deployment(name, obj)
        for name, obj in list(api.objects["StatefulSet"].items()):
            self._statefulset(name, obj)

    # --- the kubelet ------------------------------------------------------------------

    def _kubelet(self, pod: dict) -> None:
        name = pod["metadata"]["name"]
        born = self.born.get(name)
        if born is None or _ready(pod):
            return  # not ours (put by a test as it is), or done
        images = [c["image"] for c in pod["spec"]["containers"]]
        image = next((i for i in images if i in self.api.unpullable), images[-1])
        reason = self.api.unpullable.get(image)
        status = pod["status"]
        if reason is not None:
            waiting = {"reason": reason, "message": f'Back-off pulling image "{image}"'}
            if status["containerStatuses"][-1]["state"].get("waiting") != waiting:
                self._pod_state(pod, "Pending", False, {"waiting": waiting})
                self._event(pod, "Pod", "Warning", "Failed",
                            f'Failed to pull image "{image}": {reason}')
            return
        if time.monotonic() - born < self.ready_delay:
            return
        running = {"running": {"startedAt": _now()}}
        if self.api.never_ready & set(images):  # a readiness probe that keeps failing
            if status["phase"] != "Running":
                self._pod_state(pod, "Running", False, running)
                self._event(pod, "Pod", "Warning", "Unhealthy",
                            "Readiness probe failed: HTTP probe failed with statuscode: 503")
            return
        self._pod_state(pod, "Running", True, running)
        self.ready_at[name] = time.monotonic()

    def _pod_state(self, pod: dict, phase: str, ready: bool, state: dict) -> None:
        pod = copy.deepcopy(pod)
        status = pod["status"]
        status["phase"] = phase
        status["conditions"] = [{"type": "PodScheduled", "status": "True"},
                                {"type": "Ready", "status": "True" if ready else "False"}]
        for cs in status["containerStatuses"]:
            cs.update({"ready": ready, "started": ready, "state": state})
        self.api.put("Pod", pod)

    # --- Deployment ---------------------------------------------------------------------

    def _deployment(self, name: str, obj: dict) -> None:
        spec = obj["spec"]
        want = spec.get("replicas", 1)
        current = template_hash(spec["template"])
        pods = self._pods_of(obj)
        if name not in self.progress:
            self._adopt(obj, pods, "pod-template-hash", current)
            pods = self._pods_of(obj)
        new = [p for p in pods if p["metadata"]["labels"].get("pod-template-hash") == current]
        old = [p for p in pods if p not in new]
        strategy = spec.get("strategy") or {}
        rolling = strategy.get("rollingUpdate") or {}
        surge = _percent(rolling.get("maxSurge"), want, True, "25%")
        unavailable = _percent(rolling.get("maxUnavailable"), want, False, "25%")
        if surge == 0 and unavailable == 0:
            surge = 1
        moved = False
        room = want + surge - len(pods)
        for _ in range(max(0, min(room, want - len(new)))):
            self._create(obj, "Deployment", "pod-template-hash", current, f"{name}-{current[:5]}")
            moved = True
        usable = self._available_of(obj)
        ready = sum(1 for p in pods if usable(p))
        floor = want - unavailable
        for p in sorted(old, key=usable):  # the unavailable ones first: they serve nobody
            if usable(p) and ready - 1 < floor:
                break
            ready -= 1 if usable(p) else 0
            self.terminate(p["metadata"]["name"])
            moved = True
        if not old and len(new) > want:
            for p in sorted(new, key=_ready)[: len(new) - want]:
                self.terminate(p["metadata"]["name"])
                moved = True
        self.progress.setdefault(name, time.monotonic())
        self._deployment_status(name, obj, current, moved)

    def _deployment_status(self, name: str, obj: dict, current: str, moved: bool) -> None:
        pods = self._pods_of(obj)
        new = [p for p in pods if p["metadata"]["labels"].get("pod-template-hash") == current]
        ready = sum(1 for p in pods if _ready(p))
        usable = self._available_of(obj)
        available = sum(1 for p in pods if usable(p))
        want = obj["spec"].get("replicas", 1)
        status: dict[str, Any] = {
            "observedGeneration": obj["metadata"].get("generation", 1),
            "replicas": len(pods), "updatedReplicas": len(new),
            "readyReplicas": ready, "availableReplicas": available,
            "unavailableReplicas": max(0, want - available),
        }
        status = {k: v for k, v in status.items() if v or k == "observedGeneration"}
        done = len(new) == want == len(pods) and sum(1 for p in new if usable(p)) == want
        old_status = obj.get("status") or {}
        now = time.monotonic()
        counts = {k: old_status.get(k) for k in ("replicas", "updatedReplicas", "readyReplicas")}
        if moved or done or counts != {k: status.get(k) for k in counts}:
            self.progress[name] = now
        rs = f"{name}-{current[:5]}"
        deadline = obj["spec"].get("progressDeadlineSeconds", 600)
        if done:
            progressing = ("True", "NewReplicaSetAvailable",
                           f'ReplicaSet "{rs}" has successfully progressed.')
        elif now - self.progress[name] > deadline:
            progressing = ("False", "ProgressDeadlineExceeded",
                           f'ReplicaSet "{rs}" has timed out progressing.')
        else:
            progressing = ("True", "ReplicaSetUpdated", f'ReplicaSet "{rs}" is progressing.')
        enough = available >= want - _percent(
            ((obj["spec"].get("strategy") or {}).get("rollingUpdate") or {}).get(
                "maxUnavailable"), want, False, "25%")
        status["conditions"] = [
            {"type": "Available", "status": "True" if enough else "False",
             "reason": "MinimumReplicasAvailable" if enough else
             "MinimumReplicasUnavailable"},
            {"type": "Progressing", "status": progressing[0], "reason": progressing[1],
             "message": progressing[2]},
        ]
        if progressing[1] == "ProgressDeadlineExceeded" and \
                _condition_reason(old_status) != "ProgressDeadlineExceeded":
            self._event(obj, "Deployment", "Warning", "ProgressDeadlineExceeded", progressing[2])
        if status != old_status:
            updated = copy.deepcopy(obj)
            updated["status"] = status
            self.api.put("Deployment", updated)

    # --- StatefulSet --------------------------------------------------------------------

    def _statefulset(self, name: str, obj: dict) -> None:
        spec = obj["spec"]
        want = spec.get("replicas", 1)
        current = template_hash(spec["template"])
        key = "controller-revision-hash"
        if name not in self.progress:
            self._adopt(obj, self._pods_of(obj), key, current)
            self.progress[name] = time.monotonic()
        pods = {p["metadata"]["name"]: p for p in self._pods_of(obj)}
        ordinals = [f"{name}-{i}" for i in range(want)]
        for extra in sorted(set(pods) - set(ordinals), reverse=True)[:1]:
            self.terminate(extra)  # scale down: highest ordinal first, one by one
        if all(n in pods and _ready(pods[n]) for n in ordinals):
            stale = [n for n in ordinals if pods[n]["metadata"]["labels"].get(key) != current]
            if stale:
                self.terminate(stale[-1])  # rolling update: highest ordinal first
        else:
            for n in ordinals:
                if n not in pods:
                    if n not in self.dying:  # the old pod of that name must be gone first
                        self._create(obj, "StatefulSet", key, current, n, exact=True)
                    break
                if not _ready(pods[n]):
                    break
        pods = {p["metadata"]["name"]: p for p in self._pods_of(obj)}
        updated = sum(1 for p in pods.values() if p["metadata"]["labels"].get(key) == current)
        ready = sum(1 for p in pods.values() if _ready(p))
        old_status = obj.get("status") or {}
        done = updated == want == len(pods)
        status = {"observedGeneration": obj["metadata"].get("generation", 1),
                  "replicas": len(pods), "readyReplicas": ready, "availableReplicas": ready,
                  "currentReplicas": updated if done else len(pods) - updated,
                  "updatedReplicas": updated, "updateRevision": f"{name}-{current[:5]}",
                  "currentRevision": f"{name}-{current[:5]}" if done else
                  old_status.get("currentRevision", f"{name}-{current[:5]}")}
        status = {k: v for k, v in status.items() if v or k == "observedGeneration"}
        if status != old_status:
            updated_obj = copy.deepcopy(obj)
            updated_obj["status"] = status
            self.api.put("StatefulSet", updated_obj)

    # --- shared -------------------------------------------------------------------------

    def _available_of(self, obj: dict) -> Any:
        """Available = Ready for at least `minReadySeconds` (pods a test put count as old)."""
        wait = obj["spec"].get("minReadySeconds", 0)
        now = time.monotonic()

        def available(pod: dict) -> bool:
            since = self.ready_at.get(pod["metadata"]["name"])
            return _ready(pod) and (since is None or now - since >= wait)
        return available

    def terminate(self, name: str) -> dict | None:
        """DELETE with a grace period: deletionTimestamp set, the pod stays (still Ready,
        as until its containers stop) and the kubelet removes it `grace` seconds later."""
        pod = self.api.objects["Pod"].get(name)
        if pod is None or self.grace <= 0:
            return self.api.delete("Pod", name)
        if name not in self.dying:
            dying = copy.deepcopy(pod)
            dying["metadata"]["deletionTimestamp"] = _now()
            dying["metadata"]["deletionGracePeriodSeconds"] = max(1, round(self.grace))
            self.dying[name] = time.monotonic() + self.grace
            return self.api.put("Pod", dying)
        return pod

    def _pods_of(self, obj: dict) -> list[dict]:
        """The active pods (not Terminating), as the ReplicaSet controller counts them."""
        match = obj["spec"]["selector"].get("matchLabels") or {}
        return sorted((p for p in self.api.objects["Pod"].values()
                       if all(p["metadata"]["labels"].get(k) == v for k, v in match.items())
                       and "deletionTimestamp" not in p["metadata"]),
                      key=lambda p: p["metadata"]["name"])

    def _adopt(self, obj: dict, pods: list[dict], key: str, current: str) -> None:
        """Pods put by a test for a workload at rest are its current revision."""
        status = obj.get("status") or {}
        if obj["metadata"].get("generation", 1) > status.get("observedGeneration", 0):
            return  # changed before the controller first looked: a real rollout
        for p in pods:
            if p["metadata"]["labels"].get(key) != current:
                labelled = copy.deepcopy(p)
                labelled["metadata"]["labels"][key] = current
                self.api.put("Pod", labelled)

    def _create(self, obj: dict, kind: str, key: str, current: str, base: str,
                exact: bool = False) -> None:
        from tests.k8s_fake_api import pod_from_template

        self.counter += 1
        name = base if exact else f"{base}-{self.counter:05x}"
        made = pod_from_template(obj, name, {key: current})
        self.born[name] = time.monotonic()
        self.api.put("Pod", made)
        self._event(obj, kind, "Normal", "SuccessfulCreate", f"Created pod: {name}")

    def _event(self, about: dict, involved: str, kind: str, reason: str, message: str) -> None:
        from tests.k8s_fake_api import event

        self.counter += 1
        made = event(about["metadata"]["name"], reason, message, event_type=kind,
                     involved_kind=involved, when=datetime.now(UTC))
        made["metadata"]["name"] += f".{self.counter:x}"
        self.api.put("Event", made)


def _condition_reason(status: dict) -> str:
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Progressing":
            return str(cond.get("reason") or "")
    return ""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
