"""The Kubernetes runtime: the stack's Deployments and StatefulSets on one cluster namespace.

Watches, not polling: five informers (Deployments, StatefulSets, Pods, Warning Events,
HorizontalPodAutoscalers) list once and then watch (`kubernetes_watch`), so a refresh reads
a local store and costs no API call. `events()` turns store changes into RuntimeEvents for
the services whose state changed, and a lost API server into StreamStatus with the reason.

The official client is imported only here, and only when this runtime is chosen; its
blocking calls run in threads. Writes go through the production guard first
(`kubernetes_config.WriteGuard`), then use the requests kubectl uses: the restartedAt
annotation patch for a rollout restart, the scale subresource for scale, start and stop.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from concurrent.futures import wait as wait_futures
from datetime import UTC, datetime
from typing import Any, TypeVar

from console.model import KubernetesSettings, Service
from console.runtime.base import (
    ContainerState,
    ExecResult,
    LogLine,
    RuntimeEvent,
    RuntimeUnavailable,
    StreamStatus,
)
from console.runtime.bridge import post_to_loop
from console.runtime.kubernetes.config import ClusterTarget, WriteGuard
from console.runtime.kubernetes.errors import KubernetesActionError, KubernetesWriteRefused
from console.runtime.kubernetes.http import ApiError, KubeHttp
from console.runtime.kubernetes.mapping import (
    Found,
    container_state,
    d,
    find_workload,
    meta,
    name_of,
    pods_of,
    ref_of,
    restart_times,
)
from console.runtime.kubernetes.watch import WATCH_TIMEOUT_S, Informer, wait_synced
from console.runtime.reap import Reaper
from console.runtime.usage import UsageReport

T = TypeVar("T")

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
REPLICAS_BEFORE_STOP = "vextrus.io/replicas-before-stop"
STRATEGIC = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
RESTART_WINDOW_S = 300.0
SEEN_TIMEOUT_S = 5.0  # a write's own watch event: milliseconds on a healthy link
SYNC_TIMEOUT_S = 15.0
DEBOUNCE_S = 0.05  # a burst of watch events (a rollout) becomes one status change
REAP_WAIT_S = 10.0  # close() waits this long for the kills of given-up execs in pods

COLLECTIONS = {  # kind -> (group/version prefix, plural)
    "Deployment": ("/apis/apps/v1", "deployments"),
    "StatefulSet": ("/apis/apps/v1", "statefulsets"),
    "Pod": ("/api/v1", "pods"),
    "Event": ("/api/v1", "events"),
    "HorizontalPodAutoscaler": ("/apis/autoscaling/v2", "horizontalpodautoscalers"),
}
OPTIONAL_KINDS = ("Event", "HorizontalPodAutoscaler")


class KubernetesRuntime:
    """Runtime over one namespace of one kubeconfig context."""

    name = "kubernetes"
    host_probes = False  # pods are not on this host: their readiness speaks for them

    def __init__(
        self,
        settings: KubernetesSettings,
        target: ClusterTarget | None,
        guard: WriteGuard,
        unavailable: str = "",
        sync_timeout: float = SYNC_TIMEOUT_S,
        watch_timeout: int = WATCH_TIMEOUT_S,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings, self.target, self.guard = settings, target, guard
        self.unavailable = unavailable  # why there is no cluster at all (missing kubeconfig)
        self.sync_timeout, self.watch_timeout, self.clock = sync_timeout, watch_timeout, clock
        self.namespace = target.namespace if target else ""
        self.host = f"{target.context} ({target.server})" if target else "no cluster"
        self._lock = threading.Lock()
        self.http: KubeHttp | None = None
        self.informers: dict[str, Informer] = {}
        self._subscribers: set[_Subscriber] = set()
        self._restarts = _RestartMemory(RESTART_WINDOW_S)
        self._closed = False
        self._link_problem = ""
        # service -> the container the operator chose for logs, exec and probes; without
        # a choice, the pod's kubectl.kubernetes.io/default-container, else its first
        self.chosen_containers: dict[str, str] = {}
        self._reaper = Reaper("pod-reap")  # kills what given-up execs left running in pods
        self._without_env: set[tuple[str, str]] = set()  # (pod, container): cannot tag

    # --- starting: config, client, informers ----------------------------------------------

    def _ensure_started(self) -> dict[str, Informer]:
        """Thread side: load the client and start the watches once."""
        with self._lock:
            if self._closed:
                raise RuntimeUnavailable("Kubernetes runtime is closed")
            if self.target is None:
                raise RuntimeUnavailable(self.unavailable or "no Kubernetes context")
            if self.http is None:
                self.http = KubeHttp(self.target)
            if not self.informers:
                self.informers = self._make_informers(self.http)
                for informer in self.informers.values():
                    informer.start()
            return self.informers

    def path(self, kind: str, name: str = "", sub: str = "") -> str:
        prefix, plural = COLLECTIONS[kind]
        path = f"{prefix}/namespaces/{self.namespace}/{plural}"
        return path + (f"/{name}" if name else "") + (f"/{sub}" if sub else "")

    def _make_informers(self, http: KubeHttp) -> dict[str, Informer]:
        def gone(exc: BaseException) -> bool:
            return isinstance(exc, ApiError) and exc.status == 410

        def optional(exc: BaseException) -> bool:
            return isinstance(exc, ApiError) and exc.status in (403, 404)

        def fetcher(path: str) -> Callable[[dict[str, object], tuple[float, float]], Any]:
            return lambda query, timeout: http.request("GET", path, query=query, timeout=timeout)

        out = {}
        for kind in COLLECTIONS:
            call = fetcher(self.path(kind))
            out[kind] = Informer(
                kind, call, self._changed, self._link, required=kind not in OPTIONAL_KINDS,
                field_selector="type=Warning" if kind == "Event" else None,
                describe_error=self._describe, is_gone=gone, is_optional=optional,
                watch_timeout=self.watch_timeout,
            )
        return out

    def _describe(self, exc: BaseException) -> str:
        """A client error in the operator's words, naming the context and server."""
        if isinstance(exc, ApiError) and exc.status:
            return f"API server {self.host} answered {exc}"
        return f"API server {self.host} unreachable: {_short_reason(exc)}"

    # --- store changes -> subscribers -------------------------------------------------------

    def _changed(self, kind: str, obj: dict | None) -> None:
        if kind == "Pod":
            pods = [obj] if obj is not None else self.informers["Pod"].items()
            for pod in pods:
                self._restarts.record(pod)
        for sub in list(self._subscribers):
            sub.post("changed")

    def _link(self, kind: str, connected: bool, reason: str) -> None:
        """Tell subscribers when the whole link changes (an optional kind never counts)."""
        with self._lock:
            problem = self._problem()
            if problem == self._link_problem:
                return
            self._link_problem = problem
        status = StreamStatus(connected=problem == "", reason=problem)
        for sub in list(self._subscribers):
            sub.post(status)

    def _problem(self) -> str:
        """The first required watch that is down, in words; "" while all are connected."""
        for informer in self.informers.values():
            if informer.problem and informer.required:
                return informer.problem
        return ""

    # --- list_states --------------------------------------------------------------------

    async def list_states(self, services: Sequence[Service]) -> dict[str, ContainerState]:
        """From the watched store: no API call once the first list has arrived."""
        informers = await asyncio.to_thread(self._ensure_started)
        required = [i for i in informers.values() if i.required]
        synced = await asyncio.to_thread(wait_synced, required, self.sync_timeout)
        # Events and autoscalers: waited for briefly, the matrix does not hang on them.
        optional = [i for i in informers.values() if not i.required]
        await asyncio.to_thread(wait_synced, optional, 2.0 if synced else 0.0)
        if not synced or self._problem():
            raise RuntimeUnavailable(
                self._problem() or f"API server {self.host} did not answer within "
                f"{self.sync_timeout:g}s"
            )
        return self.states_now(services)

    def states_now(self, services: Sequence[Service]) -> dict[str, ContainerState]:
        """Map every service from the current store (pure computing, a few ms for 40)."""
        store = {kind: inf.items() for kind, inf in self.informers.items()}
        workloads = {k: store.get(k, []) for k in ("Deployment", "StatefulSet")}
        now = self.clock()
        context = self.target.context if self.target else ""
        out: dict[str, ContainerState] = {}
        for svc in services:
            found = self._find(svc, workloads, store.get("Pod", []))
            if found is None:
                out[svc.name] = ContainerState(service=svc.name, error=self._not_found(svc))
                continue
            recent = self._restarts.recent([name_of(p) for p in found.pods], time.time())
            out[svc.name] = container_state(
                svc.name, found, store.get("Event", []), store.get("HorizontalPodAutoscaler", []),
                now, recent, context,
            )
        return out

    def _find(
        self, svc: Service, workloads: dict[str, list[dict]], pods: list[dict]
    ) -> Found | None:
        hit = find_workload(ref_of(svc), workloads, self.settings.label)
        if hit is None:
            return None
        kind, obj = hit
        return Found(kind, obj, pods_of(obj, pods))

    def _not_found(self, svc: Service) -> str:
        return f"no {ref_of(svc).describe()} in namespace {self.namespace}"

    # --- events ------------------------------------------------------------------------

    async def events(self, services: Sequence[Service]) -> AsyncGenerator[
        RuntimeEvent | StreamStatus, None
    ]:
        """Changes of service state, pushed by the watches; link changes as StreamStatus."""
        sub = _Subscriber(asyncio.get_running_loop())
        self._subscribers.add(sub)
        try:
            backoff = 0.5
            while True:
                try:
                    informers = await asyncio.to_thread(self._ensure_started)
                    break
                except RuntimeUnavailable as exc:  # no kubeconfig yet: say so, look again
                    yield StreamStatus(False, str(exc))
                    await asyncio.sleep(backoff)
                    backoff = min(30.0, backoff * 2)
            required = [i for i in informers.values() if i.required]
            await asyncio.to_thread(wait_synced, required, self.sync_timeout)
            last = self.states_now(services)
            while True:
                item = await sub.get()
                if isinstance(item, StreamStatus):
                    yield item
                    continue
                await asyncio.sleep(DEBOUNCE_S)
                sub.drop_changes()
                states = self.states_now(services)
                for event in diff_events(last, states, self.clock()):
                    yield event
                last = states
        finally:
            self._subscribers.discard(sub)

    # --- writes --------------------------------------------------------------------------

    def _check_write(self, verb: str, service: Service) -> None:
        if self.guard.read_only:
            raise KubernetesWriteRefused(f"{verb} {service.name}: refused: {self.guard.reason()}")

    async def _workload(self, service: Service, verb: str) -> Found:
        """The service's workload from the store (the watches are started if need be)."""
        await self.list_states([service])
        store = {kind: inf.items() for kind, inf in self.informers.items()}
        workloads = {k: store.get(k, []) for k in ("Deployment", "StatefulSet")}
        found = self._find(service, workloads, store.get("Pod", []))
        if found is None:
            raise KubernetesActionError(f"{service.name}: {self._not_found(service)}, "
                                        f"nothing to {verb}")
        return found

    async def _call(self, op: Callable[[KubeHttp], T]) -> T:
        """One request in a thread; a refusal is an action error, no answer is unavailable."""
        def run() -> T:
            assert self.http is not None
            try:
                return op(self.http)
            except ApiError as exc:
                if not exc.status:
                    raise RuntimeUnavailable(self._describe(exc)) from exc
                raise KubernetesActionError(f"kubernetes: {exc}") from exc
            except (RuntimeUnavailable, KubernetesActionError):
                raise
            except Exception as exc:  # urllib3's connection errors and the like
                raise RuntimeUnavailable(self._describe(exc)) from exc

        return await asyncio.to_thread(run)

    async def restart(self, service: Service, timeout: float = 10) -> None:
        """`kubectl rollout restart`: a new restartedAt annotation on the pod template."""
        self._check_write("restart", service)
        found = await self._workload(service, "restart")
        stamp = self.clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
        await self._patch(found, body, STRATEGIC)

    async def scale(self, service: Service, replicas: int) -> None:
        """`kubectl scale`: a merge patch of the scale subresource."""
        if replicas < 0:
            raise KubernetesActionError(f"scale {service.name}: replicas must be 0 or more")
        self._check_write("scale", service)
        found = await self._workload(service, "scale")
        await self._scale(found, replicas)

    async def stop(self, service: Service, timeout: float = 10) -> None:
        """Scale to 0, remembering the replica count in an annotation for `start`."""
        self._check_write("stop", service)
        found = await self._workload(service, "stop")
        desired = _desired(found.workload)
        if desired == 0:
            return
        body = {"metadata": {"annotations": {REPLICAS_BEFORE_STOP: str(desired)}}}
        await self._patch(found, body, MERGE)
        await self._scale(found, 0)

    async def start(self, service: Service) -> None:
        """Scale a workload at 0 back to what it had (annotation), its HPA minimum, or 1."""
        self._check_write("start", service)
        found = await self._workload(service, "start")
        if _desired(found.workload) > 0:
            return  # already wanted up: bring-up waits for readiness, as with Docker
        await self._scale(found, self._replicas_to_restore(found))

    def _replicas_to_restore(self, found: Found) -> int:
        saved = d(found.workload, "metadata", "annotations").get(REPLICAS_BEFORE_STOP, "")
        if isinstance(saved, str) and saved.isdigit() and int(saved) > 0:
            return int(saved)
        for hpa in self.informers["HorizontalPodAutoscaler"].items():
            target = d(hpa, "spec", "scaleTargetRef")
            if (target.get("kind"), target.get("name")) == (found.kind, name_of(found.workload)):
                return int(d(hpa, "spec").get("minReplicas") or 1)
        return 1

    async def delete_pod(self, service: Service, pod: str) -> None:
        """Delete one pod of the service's workload; its controller makes a new one."""
        self._check_write("delete pod of", service)
        found = await self._workload(service, "delete")
        names = [name_of(p) for p in found.pods]
        if pod not in names:
            raise KubernetesActionError(
                f"{service.name}: pod {pod!r} is not one of its pods ({', '.join(names) or 'none'})"
            )
        await self._call(lambda h: h.json("DELETE", self.path("Pod", pod)))

    async def _patch(self, found: Found, body: dict, content_type: str) -> None:
        path = self.path(found.kind, name_of(found.workload))
        stored = await self._call(
            lambda h: h.json("PATCH", path, body=body, content_type=content_type))
        await self._until_seen(found, stored)

    async def _scale(self, found: Found, replicas: int) -> None:
        path = self.path(found.kind, name_of(found.workload), "scale")
        body = {"spec": {"replicas": replicas}}
        scale = await self._call(lambda h: h.json("PATCH", path, body=body, content_type=MERGE))
        await self._until_seen(found, scale)  # a Scale carries its workload's version

    async def _until_seen(self, found: Found, answer: dict) -> None:
        """Wait (briefly) for the watch to bring the written version into the store.

        Without it, the refresh right after `restart` reads the workload as it was before
        the write (generation not bumped yet) and calls it healthy: a restart-with-
        dependents then starts the dependents while the rollout has not even begun.
        """
        version = str(meta(answer).get("resourceVersion") or "")
        informer = self.informers.get(found.kind)
        if version and informer is not None:
            await asyncio.to_thread(informer.wait_for, self.namespace, name_of(found.workload),
                                    version, SEEN_TIMEOUT_S)

    # --- exec and logs (kubernetes_streams) ----------------------------------------------

    async def exec(self, service: Service, argv: Sequence[str], timeout: float) -> ExecResult:
        """Run argv in a ready pod of the service through the API's exec (websocket)."""
        from console.runtime.kubernetes.streams import PodExec, pick_pod

        found = await self._workload(service, "exec in")
        pod = pick_pod(found.pods)
        if pod is None:
            raise KubernetesActionError(f"{service.name}: no running pod to exec in")
        assert self.http is not None
        path = self.path("Pod", name_of(pod), "exec")
        pod_exec = PodExec(self.http, self._describe, self._reaper, self._without_env)
        return await pod_exec.run(path, pod, list(argv), timeout,
                                  self.chosen_containers.get(service.name))

    async def reaped(self, timeout: float = 10.0) -> int:
        """Wait until every given-up exec has been killed inside its pod (or found
        impossible to kill); how many could not be, so far. `close()` calls it; so do tests."""
        pending = self._reaper.pending()
        if pending:
            await asyncio.to_thread(wait_futures, pending, timeout)
        return self._reaper.unreaped

    def choose_container(self, service: str, container: str | None) -> None:
        """Logs, exec and probes of `service` go to `container` from now on (None: the
        pod's default again)."""
        if container:
            self.chosen_containers[service] = container
        else:
            self.chosen_containers.pop(service, None)

    async def logs(
        self,
        service: Service,
        tail: int = 100,
        follow: bool = False,
        timestamps: bool = True,
        previous: bool = False,
        pod: str | None = None,
    ) -> AsyncIterator[LogLine]:
        """Every pod of the workload, merged (by time for the tail); `previous`: the crashed
        container's last run, what `kubectl logs --previous` shows for a crash loop."""
        from console.runtime.kubernetes.streams import merged_logs

        found = await self._workload(service, "read logs of")
        pods = [p for p in found.pods if pod is None or name_of(p) == pod]
        if not pods:
            raise KubernetesActionError(f"{service.name}: no pod to read logs of")
        assert self.http is not None
        http = self.http
        async for line in merged_logs(http, self.path, service.name, pods, tail, follow,
                                      previous, self._describe,
                                      self.chosen_containers.get(service.name)):
            yield line

    def previous_logs(self, service: Service, tail: int = 100) -> AsyncIterator[LogLine]:
        """The crashed container's last run (`kubectl logs --previous`): finished, so no
        follow (capabilities.PreviousLogs)."""
        return self.logs(service, tail=tail, follow=False, previous=True)

    async def usage(self, services: Sequence[Service]) -> UsageReport:
        """CPU and memory from the metrics API (console.runtime.kubernetes.metrics)."""
        from console.runtime.kubernetes.metrics import sample_metrics

        return await asyncio.to_thread(sample_metrics, self, services)

    async def describe(self, service: Service) -> list[tuple[str, str]]:
        """The workload's and its pods' YAML as the API server has them."""
        from console.runtime.kubernetes.metrics import describe_objects

        await self.list_states([service])
        return await self._call(lambda _http: describe_objects(self, service))

    async def shell_target(self, service: Service) -> tuple[str, str]:
        """(pod, container) for an interactive shell: a running pod of the workload."""
        from console.runtime.kubernetes.streams import pick_pod

        found = await self._workload(service, "open a shell in")
        pod = pick_pod(found.pods)
        if pod is None:
            raise KubernetesActionError(f"{service.name}: no running pod to open a shell in")
        containers = [str(c.get("name")) for c in d(pod, "spec").get("containers") or []]
        return name_of(pod), containers[0] if containers else ""

    def pods(self, service: Service) -> list[str]:
        """Pod names of the service's workload, from the store (for pickers and the CLI)."""
        store = {kind: inf.items() for kind, inf in self.informers.items()}
        workloads = {k: store.get(k, []) for k in ("Deployment", "StatefulSet")}
        found = self._find(service, workloads, store.get("Pod", []))
        return [name_of(p) for p in found.pods] if found else []

    async def close(self) -> None:
        with self._lock:
            self._closed = True
            informers = list(self.informers.values())
            http, self.http = self.http, None
        for informer in informers:
            informer.stop()
        await self.reaped(REAP_WAIT_S)
        self._reaper.shutdown()
        await asyncio.to_thread(_join_all, informers)
        if http is not None:
            await asyncio.to_thread(http.close)


def _join_all(informers: list[Informer]) -> None:
    for informer in informers:
        informer.join(2.0)


def _desired(workload: dict) -> int:
    value = d(workload, "spec").get("replicas")
    return value if isinstance(value, int) else 1


# --- events from state changes ------------------------------------------------------------


def diff_events(
    old: dict[str, ContainerState], new: dict[str, ContainerState], now: datetime
) -> list[RuntimeEvent]:
    """One event per service whose state changed, named by the most telling change."""
    out = []
    for name, state in new.items():
        before = old.get(name)
        if before == state or (before is not None and _same(before, state)):
            continue
        out.append(RuntimeEvent(service=name, action=_action(before, state), time=now,
                                container_id=state.container_id,
                                attributes=_attributes(state)))
    return out


def _same(a: ContainerState, b: ContainerState) -> bool:
    """Equal in what the operator sees (pod objects change on every kubelet heartbeat)."""
    return (a.present, a.state, a.health, a.restart_count, a.oom_killed, a.error,
            a.workload) == (b.present, b.state, b.health, b.restart_count, b.oom_killed, b.error,
                            b.workload)


def _action(before: ContainerState | None, after: ContainerState) -> str:
    if before is None or (not before.present and after.present):
        return "create"
    if before.present and not after.present:
        return "destroy"
    if after.restart_count > before.restart_count:
        return "oom" if after.oom_killed and not before.oom_killed else "restart"
    if after.health != before.health:
        return "health_status"
    return "update"


def _attributes(state: ContainerState) -> dict[str, str]:
    attrs: dict[str, str] = {}
    if state.health:
        attrs["health"] = state.health
    if state.exit_code is not None:
        attrs["exitCode"] = str(state.exit_code)
    if state.workload is not None:
        attrs["ready"] = f"{state.workload.ready}/{state.workload.desired}"
        if state.workload.rollout:
            attrs["rollout"] = state.workload.rollout
    return attrs


class _Subscriber:
    """One `events()` consumer: thread-safe posts from the watches, read in the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self._pending_change = False

    def post(self, item: Any) -> None:
        post_to_loop(self.loop, self._put, item)

    def _put(self, item: Any) -> None:
        if item == "changed":
            if self._pending_change:
                return  # one wake-up per burst is enough
            self._pending_change = True
        self.queue.put_nowait(item)

    async def get(self) -> Any:
        item = await self.queue.get()
        return item

    def drop_changes(self) -> None:
        self._pending_change = False


class _RestartMemory:
    """Crash times (lastState.terminated.finishedAt) seen per pod, within the loop window."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._lock = threading.Lock()
        self._by_pod: dict[str, set[datetime]] = {}

    def record(self, pod: dict) -> None:
        times = restart_times(pod)
        if not times:
            return
        with self._lock:
            self._by_pod.setdefault(str(meta(pod).get("name") or ""), set()).update(times)

    def recent(self, pods: list[str], now: float) -> tuple[datetime, ...]:
        cutoff = now - self.window_s
        with self._lock:
            found = {t for p in pods for t in self._by_pod.get(p, ()) if t.timestamp() >= cutoff}
        return tuple(sorted(found))


# --- error words ------------------------------------------------------------------------


def _one_line(exc: object, limit: int = 200) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short_reason(exc: BaseException) -> str:
    """The innermost OS words (connection refused, name unknown), else the message."""
    todo, seen = [exc], set()
    while todo:
        cur = todo.pop(0)
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        if isinstance(cur, TimeoutError):
            return "no answer in time"
        if isinstance(cur, OSError) and cur.strerror:
            return cur.strerror.lower()
        nested = [cur.__cause__, cur.__context__, getattr(cur, "reason", None), *cur.args]
        todo.extend(e for e in nested if isinstance(e, BaseException))
    text = str(exc)
    if "Connection refused" in text:
        return "connection refused"
    return _one_line(text or type(exc).__name__, 160)


def build_kubernetes_runtime(
    settings: KubernetesSettings,
    kubeconfig: str | None = None,
    context: str | None = None,
    namespace: str | None = None,
    allow_writes: bool = False,
) -> KubernetesRuntime:
    """The runtime for the factory: a missing kubeconfig is a reason, not an exception.

    With no cluster, every call says why (RuntimeUnavailable) and nothing can be written.
    """
    from console.runtime.kubernetes.config import KubeconfigError, resolve_target

    try:
        target = resolve_target(settings, kubeconfig, context, namespace)
    except KubeconfigError as exc:
        guard = WriteGuard(context or "?", False, allow_writes, settings.production)
        return KubernetesRuntime(settings, None, guard, unavailable=str(exc))
    guard = WriteGuard(target.context, target.production, allow_writes, target.pattern)
    return KubernetesRuntime(settings, target, guard)
