"""The kubernetes runtime against a loopback API server (tests/k8s_fake_api.py).

No cluster can run here, so the fake serves real-shaped objects and the protocol the API
reference documents (lists, watches with bookmarks, 410 Gone, patches, logs, exec over a
websocket). Every test drives the real runtime through the official client's transport.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from actions.base import CancelToken
from actions.bringup import BringUp, Decision, Diagnosis
from console.model import KubernetesSettings, RuntimeNames, Service, Stack
from console.monitor import Monitor
from console.runtime.base import RuntimeEvent, RuntimeUnavailable, StreamStatus
from console.runtime.kubernetes.runtime import (
    KubernetesActionError,
    KubernetesRuntime,
    KubernetesWriteRefused,
    build_kubernetes_runtime,
)
from console.status.engine import evaluate
from console.status.types import State
from tests.k8s_fake_api import KINDS, FakeKubeAPI, deployment, event, hpa, make_runtime, pod

NOW = datetime.now(UTC)


def svc(name: str, k8s: str | None = None, phase: int = 0,
        depends_on: tuple[str, ...] = ()) -> Service:
    return Service(name, phase=phase, runtime=RuntimeNames(k8s=k8s), depends_on=depends_on)


async def until(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    """Wait for something the watch delivers; fails with the test's own assertion after."""
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)


def bad_morning(fake: FakeKubeAPI) -> None:
    """A healthy auth with an HPA at its limit, a crash loop, an OOM kill, a bad image."""
    fake.put("Deployment", deployment("auth", 3))
    for i in range(3):
        fake.put("Pod", pod("auth", f"a{i}"))
    fake.put("HorizontalPodAutoscaler", hpa("auth", 3, 10, 2, 10, cpu_now=95, limited=True))
    fake.put("Deployment", deployment("configuration", 1, ready=0))
    fake.put("Pod", pod("configuration", "c0", ready=False, restarts=7,
                        waiting=("CrashLoopBackOff", "back-off 5m0s restarting failed container"),
                        last_terminated=(1, "Error", NOW - timedelta(seconds=40))))
    fake.put("StatefulSet", deployment("elasticsearch", 1, ready=0, kind="StatefulSet"))
    fake.put("Pod", pod("elasticsearch", "0", ready=False, restarts=4,
                        waiting=("CrashLoopBackOff", "back-off 2m40s"),
                        last_terminated=(137, "OOMKilled", NOW - timedelta(seconds=70))))
    fake.put("Deployment", deployment("notification", 2, ready=0, image="vextrus/notify:9.9"))
    fake.put("Pod", pod("notification", "n0", phase="Pending", ready=False,
                        waiting=("ImagePullBackOff",
                                 'Back-off pulling image "vextrus/notify:9.9"')))
    fake.put("Deployment", deployment("audit-svc", 2, ready=1, labels={"tier": "core"}))
    fake.put("Pod", pod("audit-svc", "u0"))
    fake.put("Pod", pod("audit-svc", "u1", ready=False))
    fake.put("Event", event("audit-svc-u1", "Unhealthy",
                            "Readiness probe failed: HTTP probe failed with statuscode: 503",
                            count=12))


STACK = (svc("auth"), svc("configuration", "deployment/configuration"),
         svc("elasticsearch", "statefulset/elasticsearch"), svc("notification"),
         svc("audit"), svc("minio"))


def _audit_by_label(fake: FakeKubeAPI) -> None:
    obj = fake.objects["Deployment"]["audit-svc"]
    obj["metadata"]["labels"]["app.kubernetes.io/name"] = "audit"
    fake.put("Deployment", obj)


# --- mapping and status ----------------------------------------------------------------


async def test_a_bad_morning_in_words(fake: FakeKubeAPI, runtime: KubernetesRuntime) -> None:
    bad_morning(fake)
    _audit_by_label(fake)
    states = await runtime.list_states(STACK)
    status = evaluate(Stack("t", STACK), states, {}, datetime.now(UTC), runtime_name="kubernetes")

    auth = status.get("auth")
    assert auth.state is State.OPERATIONAL
    assert auth.container is not None and auth.container.workload is not None
    assert (auth.container.workload.ready, auth.container.workload.desired) == (3, 3)
    hpa_facts = auth.container.workload.autoscaler
    assert hpa_facts is not None
    assert (hpa_facts.current, hpa_facts.desired, hpa_facts.min_replicas,
            hpa_facts.max_replicas) == (3, 10, 2, 10)
    assert hpa_facts.metrics == ("cpu 95%/70%",)
    assert auth.issues == ("autoscaler at its maximum (3/10 replicas): cpu 95%/70%",)

    config = status.get("configuration")
    assert config.state is State.RESTART_LOOP
    assert config.restart_count == 7
    assert config.issues[0] == "restart loop: CrashLoopBackOff, 7 restarts, last exit code 1"

    elastic = status.get("elasticsearch")
    assert elastic.state is State.RESTART_LOOP
    assert elastic.container is not None and elastic.container.oom_killed
    assert elastic.issues[0].endswith("last exit code 137 (OOM killed)")

    notify = status.get("notification")
    assert notify.state is State.NOT_STARTED
    assert notify.issues[0] == ('cannot start: ImagePullBackOff: Back-off pulling image '
                                '"vextrus/notify:9.9"')

    audit = status.get("audit")  # found by its app.kubernetes.io/name label
    assert audit.container is not None and audit.container.container_name == "deployment/audit-svc"
    assert audit.state is State.UNHEALTHY
    assert audit.issues[0] == ("unhealthy: 1/2 replicas ready: Readiness probe failed: HTTP "
                               "probe failed with statuscode: 503 (x12)")

    minio = status.get("minio")
    assert minio.state is State.NOT_STARTED
    assert minio.container is not None and "no minio in namespace vextrus" in minio.container.error


async def test_refresh_reads_the_store_not_the_api(fake: FakeKubeAPI,
                                                   runtime: KubernetesRuntime) -> None:
    bad_morning(fake)
    await runtime.list_states(STACK)
    await until(lambda: sum(fake.watcher_count(k) for k in KINDS) == len(KINDS))
    gets = len(fake.requests_for("GET"))  # five lists, five watches
    for _ in range(5):
        await runtime.list_states(STACK)
    assert len(fake.requests_for("GET")) == gets  # the watches carry the news, not requests


async def test_host_probes_are_not_run_against_the_operators_machine(
    fake: FakeKubeAPI, runtime: KubernetesRuntime
) -> None:
    from console.model import HealthCheck

    fake.put("Deployment", deployment("auth", 1))
    fake.put("Pod", pod("auth", "a0"))
    # Port 9 on loopback answers nothing: run from the host, this check would fail.
    stack = Stack("t", (Service("auth", checks=(HealthCheck("http", port=9),)),))
    status = await Monitor(stack, runtime).refresh()
    assert status.get("auth").state is State.OPERATIONAL
    assert status.get("auth").probes == ()


# --- watches --------------------------------------------------------------------------


async def test_bookmarks_move_the_version_and_a_closed_stream_resumes_from_it(
    fake: FakeKubeAPI, runtime: KubernetesRuntime
) -> None:
    fake.put("Deployment", deployment("auth", 1))
    await runtime.list_states([svc("auth")])
    pods = runtime.informers["Pod"]
    await until(lambda: fake.watcher_count("Pod") == 1)
    watch = fake.requests_for("GET", r"/pods$")[-1]
    assert watch.query["watch"] == ["true"] and watch.query["allowWatchBookmarks"] == ["true"]

    fake.bookmark("Pod")
    await until(lambda: pods.counters.bookmarks == 1)
    bookmarked = str(fake.rv)
    assert pods.resource_version == bookmarked

    fake.close_watches("Pod")  # the server ends the stream (its timeoutSeconds)
    await until(lambda: pods.counters.watches == 2 and fake.watcher_count("Pod") == 1)
    resumed = fake.requests_for("GET", r"/pods$")[-1]
    assert resumed.query["resourceVersion"] == [bookmarked]
    assert pods.counters.lists == 1  # resumed, not re-listed

    fake.put("Pod", pod("auth", "a0"))  # and it still sees changes
    await until(lambda: len(pods.items()) == 1)
    assert [p["metadata"]["name"] for p in pods.items()] == ["auth-a0"]


async def test_410_gone_lists_again(fake: FakeKubeAPI, runtime: KubernetesRuntime) -> None:
    fake.put("Deployment", deployment("auth", 1))
    await runtime.list_states([svc("auth")])
    deployments = runtime.informers["Deployment"]
    await until(lambda: fake.watcher_count("Deployment") == 1)
    fake.expire("Deployment")  # ERROR event, Status code 410 (Expired), stream ends
    fake.put("Deployment", deployment("auth", 4, ready=2))
    await until(lambda: deployments.counters.lists == 2)
    assert deployments.counters.gone == 1
    states = await runtime.list_states([svc("auth")])
    workload = states["auth"].workload
    assert workload is not None and (workload.ready, workload.desired) == (2, 4)


async def test_api_server_down_degrades_and_recovers(
    fake: FakeKubeAPI, runtime: KubernetesRuntime
) -> None:
    fake.put("Deployment", deployment("auth", 1))
    fake.put("Pod", pod("auth", "a0"))
    services = [svc("auth")]
    await runtime.list_states(services)
    stream = runtime.events(services)
    first = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.2)
    fake.stop()
    lost = await asyncio.wait_for(first, 10)
    assert isinstance(lost, StreamStatus) and not lost.connected
    assert f"127.0.0.1:{fake.port}" in lost.reason and "connection refused" in lost.reason
    with pytest.raises(RuntimeUnavailable, match="connection refused"):
        await runtime.list_states(services)

    fake.start()  # same port: the API server is back
    back = await asyncio.wait_for(anext(stream), 15)
    assert back == StreamStatus(True, "")
    states = await runtime.list_states(services)
    assert states["auth"].health == "healthy"
    await stream.aclose()


async def test_a_watch_event_becomes_a_runtime_event(
    fake: FakeKubeAPI, runtime: KubernetesRuntime
) -> None:
    fake.put("Deployment", deployment("configuration", 1))
    fake.put("Pod", pod("configuration", "c0"))
    services = [svc("configuration")]
    await runtime.list_states(services)
    stream = runtime.events(services)
    pending = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.3)
    fake.put("Pod", pod("configuration", "c0", ready=False, restarts=1,
                        waiting=("CrashLoopBackOff", "back-off 10s"),
                        last_terminated=(137, "OOMKilled", datetime.now(UTC))))
    got = await asyncio.wait_for(pending, 5)
    assert isinstance(got, RuntimeEvent)
    assert (got.service, got.action) == ("configuration", "oom")
    assert got.attributes["exitCode"] == "137"
    await stream.aclose()


# --- actions --------------------------------------------------------------------------


async def test_rollout_restart_sends_kubectls_patch(fake: FakeKubeAPI,
                                                    runtime: KubernetesRuntime) -> None:
    fake.put("Deployment", deployment("auth", 2))
    fake.put("StatefulSet", deployment("postgres", 1, kind="StatefulSet"))
    runtime.clock = lambda: datetime(2025, 9, 25, 10, 42, 7, tzinfo=UTC)
    await runtime.restart(svc("auth"))
    await runtime.restart(svc("postgres", "statefulset/postgres"))
    first, second = fake.requests_for("PATCH")
    assert first.path == "/apis/apps/v1/namespaces/vextrus/deployments/auth"
    assert first.content_type == "application/strategic-merge-patch+json"
    assert first.body == {"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": "2025-09-25T10:42:07Z"}}}}}
    assert second.path == "/apis/apps/v1/namespaces/vextrus/statefulsets/postgres"
    stored = fake.objects["Deployment"]["auth"]["spec"]["template"]["metadata"]
    assert stored["annotations"]["kubectl.kubernetes.io/restartedAt"] == "2025-09-25T10:42:07Z"


async def test_scale_stop_and_start_use_the_scale_subresource(
    fake: FakeKubeAPI, runtime: KubernetesRuntime
) -> None:
    fake.put("Deployment", deployment("auth", 3))
    await runtime.scale(svc("auth"), 5)
    scale = fake.requests_for("PATCH")[-1]
    assert scale.path == "/apis/apps/v1/namespaces/vextrus/deployments/auth/scale"
    assert scale.content_type == "application/merge-patch+json"
    assert scale.body == {"spec": {"replicas": 5}}

    await until(lambda: runtime.informers["Deployment"].items()[0]["spec"]["replicas"] == 5)
    await runtime.stop(svc("auth"))
    remember, to_zero = fake.requests_for("PATCH")[-2:]
    assert remember.content_type == "application/merge-patch+json"
    assert remember.body == {"metadata": {"annotations": {"vextrus.io/replicas-before-stop": "5"}}}
    assert to_zero.body == {"spec": {"replicas": 0}}

    await until(lambda: runtime.informers["Deployment"].items()[0]["spec"]["replicas"] == 0)
    await runtime.start(svc("auth"))
    assert fake.requests_for("PATCH")[-1].body == {"spec": {"replicas": 5}}


async def test_delete_pod_only_of_the_services_workload(
    fake: FakeKubeAPI, runtime: KubernetesRuntime
) -> None:
    fake.put("Deployment", deployment("auth", 2))
    fake.put("Deployment", deployment("audit", 1))
    fake.put("Pod", pod("auth", "a0"))
    fake.put("Pod", pod("audit", "u0"))
    with pytest.raises(KubernetesActionError, match="'audit-u0' is not one of its pods"):
        await runtime.delete_pod(svc("auth"), "audit-u0")
    assert fake.requests_for("DELETE") == []
    await runtime.delete_pod(svc("auth"), "auth-a0")
    assert [r.path for r in fake.requests_for("DELETE")] == [
        "/api/v1/namespaces/vextrus/pods/auth-a0"]
    assert "auth-a0" not in fake.objects["Pod"]


async def test_phased_bringup_scales_up_in_order_and_waits_for_readiness(
    fake: FakeKubeAPI, runtime: KubernetesRuntime, tmp_path: Path
) -> None:
    fake.controller_delay = 0.3  # the controller and kubelet: ready pods a moment later
    fake.put("StatefulSet", deployment("postgres", 0, kind="StatefulSet",
                                       annotations={"vextrus.io/replicas-before-stop": "1"}))
    fake.put("Deployment", deployment("auth", 0, annotations={
        "vextrus.io/replicas-before-stop": "2"}))
    stack = Stack("t", (svc("postgres", "statefulset/postgres", 0),
                        svc("auth", phase=1, depends_on=("postgres",))))
    action = BringUp(stack, runtime, Monitor(stack, runtime), timeout=10, poll_interval=0.05)
    events = [e async for e in action.run(CancelToken())]
    assert [e.step for e in events if e.kind == "ok"] == ["postgres", "auth"]
    assert events[-1].kind == "done" and events[-1].data["readiness"] == 1.0
    scales = [(r.path.split("/")[-2], r.body) for r in fake.requests_for("PATCH", "/scale$")]
    assert scales == [("postgres", {"spec": {"replicas": 1}}), ("auth", {"spec": {"replicas": 2}})]


async def test_bringup_fails_fast_on_an_image_that_cannot_be_pulled(
    fake: FakeKubeAPI, runtime: KubernetesRuntime
) -> None:
    """Waiting will not fix a bad image: the diagnosis comes at once, not after the timeout."""
    fake.controller_delay = 0.1
    fake.unpullable["vextrus/notify:9.9"] = "ImagePullBackOff"
    fake.put("StatefulSet", deployment("postgres", 1, kind="StatefulSet"))
    fake.put("Pod", pod("postgres", "0"))
    fake.put("Deployment", deployment("notification", 0, image="vextrus/notify:9.9",
                                      annotations={"vextrus.io/replicas-before-stop": "1"}))
    stack = Stack("t", (svc("postgres", "statefulset/postgres", 0),
                        svc("notification", phase=1, depends_on=("postgres",))))
    seen: list[Diagnosis] = []

    async def decide(diagnosis: Diagnosis) -> Decision:
        seen.append(diagnosis)
        return "abort"

    action = BringUp(stack, runtime, Monitor(stack, runtime), decide=decide, timeout=30,
                     poll_interval=0.05)
    events = [e async for e in action.run(CancelToken())]
    failed = [e for e in events if e.kind == "failed" and e.step]
    assert [(e.step, e.message) for e in failed] == [
        ("notification", 'cannot start: ImagePullBackOff: Back-off pulling image '
                         '"vextrus/notify:9.9"')]  # not "not healthy after 30s: ..."
    assert [d.service for d in seen] == ["notification"]
    assert (events[-1].kind, events[-1].message) == ("failed", "aborted in phase 1 (phase 1)")
    assert [r.path.split("/")[-2] for r in fake.requests_for("PATCH", "/scale$")] == [
        "notification"]


# --- logs and exec ------------------------------------------------------------------------


async def test_logs_of_all_pods_merged_and_the_previous_container(
    fake: FakeKubeAPI, runtime: KubernetesRuntime
) -> None:
    fake.put("Deployment", deployment("auth", 2))
    fake.put("Pod", pod("auth", "a0"))
    fake.put("Pod", pod("auth", "a1"))
    fake.logs[("auth-a0", False)] = ["2025-09-25T10:00:01.000000001Z boot a0",
                                     "2025-09-25T10:00:03.5Z ready a0"]
    fake.logs[("auth-a1", False)] = ["2025-09-25T10:00:02Z boot a1"]
    fake.logs[("auth-a1", True)] = ["2025-09-25T09:59:00Z FATAL: out of memory"]
    lines = [(line.text, line.time) async for line in runtime.logs(svc("auth"), tail=10)]
    assert [t for t, _ in lines] == ["[auth-a0] boot a0", "[auth-a1] boot a1", "[auth-a0] ready a0"]
    assert lines[0][1] == datetime(2025, 9, 25, 10, 0, 1, tzinfo=UTC)
    log_get = fake.requests_for("GET", "/log$")[-1]
    assert log_get.query["timestamps"] == ["true"] and log_get.query["tailLines"] == ["10"]

    previous = [line.text async for line in runtime.logs(svc("auth"), previous=True,
                                                             pod="auth-a1")]
    assert previous == ["FATAL: out of memory"]
    with pytest.raises(KubernetesActionError, match="previous terminated container"):
        async for _ in runtime.logs(svc("auth"), previous=True, pod="auth-a0"):
            pass


async def test_follow_streams_new_lines(fake: FakeKubeAPI, runtime: KubernetesRuntime) -> None:
    fake.put("Deployment", deployment("auth", 1))
    fake.put("Pod", pod("auth", "a0"))
    fake.logs[("auth-a0", False)] = ["2025-09-25T10:00:01Z boot"]
    stream = runtime.logs(svc("auth"), follow=True)
    assert (await asyncio.wait_for(anext(stream), 5)).text == "boot"
    fake.append_log("auth-a0", "2025-09-25T10:00:09Z GET /health 200")
    assert (await asyncio.wait_for(anext(stream), 5)).text == "GET /health 200"
    await stream.aclose()


async def test_exec_in_a_pod_through_the_websocket(fake: FakeKubeAPI,
                                                   runtime: KubernetesRuntime) -> None:
    fake.put("Deployment", deployment("auth", 2))
    fake.put("Pod", pod("auth", "a0", ready=False))
    fake.put("Pod", pod("auth", "a1"))
    seen: list[tuple[str, list[str]]] = []

    def handler(pod_name: str, argv: list[str]) -> tuple[int, str, str]:
        seen.append((pod_name, argv))
        return (1, "", "wget: server returned error: HTTP/1.1 503 Service Unavailable\n")

    fake.exec_handler = handler
    result = await runtime.exec(svc("auth"), ["wget", "-qO-", "http://127.0.0.1:3001/health"], 5)
    [(pod_name, argv)] = seen
    assert pod_name == "auth-a1"  # the ready pod
    assert argv[0] == "env" and argv[1].startswith("VEXTRUS_PROBE=")  # tagged, to be killable
    assert argv[2:] == ["wget", "-qO-", "http://127.0.0.1:3001/health"]
    assert result.exit_code == 1 and "503 Service Unavailable" in result.output
    fake.exec_handler = lambda p, a: (0, '{"status":"ok"}', "")
    ok = await runtime.exec(svc("auth"), ["wget", "-qO-", "x"], 5)
    assert (ok.exit_code, ok.output) == (0, '{"status":"ok"}')


async def test_exec_past_its_timeout_is_a_timeout(fake: FakeKubeAPI,
                                                  runtime: KubernetesRuntime) -> None:
    fake.put("Deployment", deployment("auth", 1))
    fake.put("Pod", pod("auth", "a0"))
    fake.exec_delay = 3.0
    with pytest.raises(TimeoutError, match=r"did not finish within 0\.5s"):
        await runtime.exec(svc("auth"), ["sleep", "10"], 0.5)


async def test_probe_inside_runs_the_http_check_in_a_pod(
    fake: FakeKubeAPI, runtime: KubernetesRuntime
) -> None:
    from actions.kubernetes import ProbeInside
    from console.model import HealthCheck

    fake.put("Deployment", deployment("auth", 1))
    fake.put("Pod", pod("auth", "a0"))
    fake.exec_handler = lambda p, argv: (1, "", "wget: server returned error: HTTP/1.1 503\n")
    stack = Stack("t", (Service("auth", checks=(HealthCheck("http", port=3001),)),))
    events = [e async for e in ProbeInside(stack, runtime, "auth").run(CancelToken())]
    assert [(e.kind, e.step) for e in events] == [
        ("failed", "http 127.0.0.1:3001/health (inside)"), ("done", "auth")]
    assert "HTTP/1.1 503" in events[0].message
    assert events[-1].message == "0/1 checks pass inside"


# --- the production guard and a missing kubeconfig ------------------------------------------


async def test_production_context_is_read_only_by_default(fake: FakeKubeAPI,
                                                          tmp_path: Path) -> None:
    fake.put("Deployment", deployment("auth", 1))
    rt = make_runtime(fake, tmp_path, context="prod-eu")
    try:
        assert rt.guard.read_only and rt.guard.confirm_word is None
        with pytest.raises(KubernetesWriteRefused) as refused:
            await rt.restart(svc("auth"))
        assert str(refused.value) == (
            "restart auth: refused: context 'prod-eu' matches the production pattern '*prod*': "
            "read-only (pass --allow-writes to change anything)")
        for write in (rt.stop(svc("auth")), rt.start(svc("auth")), rt.scale(svc("auth"), 2),
                      rt.delete_pod(svc("auth"), "x")):
            with pytest.raises(KubernetesWriteRefused):
                await write
        assert fake.requests_for("PATCH") == [] and fake.requests_for("DELETE") == []
    finally:
        await rt.close()


async def test_pattern_from_the_stack_and_allowed_writes(fake: FakeKubeAPI,
                                                         tmp_path: Path) -> None:
    fake.put("Deployment", deployment("auth", 1))
    rt = make_runtime(fake, tmp_path, context="live-eu", allow_writes=True,
                      production="*prod*,live-*")
    try:
        assert not rt.guard.read_only and rt.guard.confirm_word == "live-eu"
        await rt.restart(svc("auth"))  # the runtime writes; the typed question is the UI's
        assert len(fake.requests_for("PATCH")) == 1
    finally:
        await rt.close()


async def test_missing_kubeconfig_is_one_line_and_the_monitor_keeps_going(
    tmp_path: Path,
) -> None:
    rt = build_kubernetes_runtime(KubernetesSettings(), str(tmp_path / "nope"))
    with pytest.raises(RuntimeUnavailable) as missing:
        await rt.list_states([svc("auth")])
    assert str(missing.value) == (f"kubeconfig {tmp_path / 'nope'}: not found "
                                  "(set KUBECONFIG or pass --kubeconfig)")
    status = await Monitor(Stack("t", (svc("auth"),)), rt).refresh()
    assert status.runtime_error == str(missing.value)
    assert status.get("auth").state is State.UNKNOWN
    stream = rt.events([svc("auth")])
    first = await asyncio.wait_for(anext(stream), 5)
    assert first == StreamStatus(False, str(missing.value))
    with contextlib.suppress(Exception):
        await stream.aclose()
    await rt.close()
