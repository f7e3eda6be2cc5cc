"""Rollouts as a cluster runs them: the fake's controller (tests/k8s_fake_controller.py)
rolls pods over time, with surge and a readiness delay, and the console must wait for the
rollout as `kubectl rollout status` does, not for readiness (the old pods stay ready).

Order is read from the fake's history of versions (which write came first), never from
timings: "kafka's rollout completed before auth was scaled up".
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from actions.base import CancelToken
from actions.bringup import BringUp
from actions.kubernetes import Scale
from actions.restart import Restart
from console.model import Stack
from console.monitor import Monitor
from console.runtime.kubernetes.runtime import KubernetesRuntime
from tests.k8s_fake_api import FakeKubeAPI, deployment, pod
from tests.unit.test_k8s_runtime import svc


def rolled_out_at(fake: FakeKubeAPI, name: str, generation: int) -> int:
    """The version at which the controller reported `name` fully rolled out at
    `generation` (kubectl's conditions), or 0 if it never did."""
    for rv, kind, _, obj in fake.history:
        if kind != "Deployment" or obj["metadata"]["name"] != name:
            continue
        st, want = obj.get("status") or {}, obj["spec"].get("replicas", 1)
        if obj["metadata"].get("generation") == generation == st.get("observedGeneration") \
                and st.get("updatedReplicas") == st.get("replicas") == want \
                and st.get("availableReplicas") == want:
            return rv
    return 0


def scaled_up_at(fake: FakeKubeAPI, name: str) -> int:
    """The version at which `name`'s desired replicas went from 0 to more."""
    last = None
    for rv, kind, _, obj in fake.history:
        if kind == "Deployment" and obj["metadata"]["name"] == name:
            now = obj["spec"].get("replicas", 1)
            if last == 0 and now > 0:
                return rv
            last = now
    return 0


def kafka_and_dependents(fake: FakeKubeAPI) -> Stack:
    fake.put("Deployment", deployment("kafka", 3))
    for i in range(3):
        fake.put("Pod", pod("kafka", f"k{i}"))
    for name in ("auth", "notification", "orders"):
        fake.put("Deployment", deployment(name, 1))
        fake.put("Pod", pod(name, "p0"))
    return Stack("t", (svc("kafka"), svc("auth", phase=1, depends_on=("kafka",)),
                       svc("notification", phase=1, depends_on=("kafka",)),
                       svc("orders", phase=2, depends_on=("auth",))))


async def test_restart_with_dependents_waits_for_the_rollout(
    fake: FakeKubeAPI, runtime: KubernetesRuntime
) -> None:
    """Readiness says 3/3 from the first second (the old pods); the dependents must come
    back only once every kafka pod runs the restarted template."""
    stack = kafka_and_dependents(fake)
    fake.run_controller(ready_delay=0.3)
    monitor = Monitor(stack, runtime)
    action = Restart(stack, runtime, monitor, "kafka", with_dependents=True, timeout=30,
                     poll_interval=0.05)
    events = [e async for e in action.run(CancelToken())]
    assert [(e.kind, e.step) for e in events if e.kind == "failed"] == []
    done = rolled_out_at(fake, "kafka", 2)
    assert done, "kafka's rollout never completed"
    for name in ("auth", "notification", "orders"):
        assert scaled_up_at(fake, name) > done, f"{name} came back before kafka rolled out"
    kafka_pods = [p for p in fake.objects["Pod"] if p.startswith("kafka-")]
    assert len(kafka_pods) == 3 and not {"kafka-k0", "kafka-k1", "kafka-k2"} & set(kafka_pods)


async def test_a_service_in_rollout_is_rolling_out_not_healthy(
    fake: FakeKubeAPI, runtime: KubernetesRuntime
) -> None:
    fake.put("Deployment", deployment("kafka", 3))
    for i in range(3):
        fake.put("Pod", pod("kafka", f"k{i}"))
    stack = Stack("t", (svc("kafka"),))
    monitor = Monitor(stack, runtime)
    assert (await monitor.refresh()).get("kafka").issues == ()
    fake.never_ready.add("vextrus/kafka:2.0")  # the new pods do not get ready: it stays mid-way
    fake.run_controller(ready_delay=0.1)
    fake.set_image("Deployment", "kafka", "vextrus/kafka:2.0")
    seen: set[str] = set()
    for _ in range(500):  # up to ~10 s on a loaded machine; done in a few ticks
        status = (await monitor.refresh()).get("kafka")
        seen.update(status.issues)
        if "rolling out (1/3 updated)" in status.issues:
            break
        await asyncio.sleep(0.02)
    assert "rolling out (1/3 updated)" in seen, seen
    assert status.state.value == "starting" and status.health != "healthy"


async def test_progress_deadline_exceeded_fails_the_restart_at_once(
    fake: FakeKubeAPI, runtime: KubernetesRuntime
) -> None:
    """A rollout the controller gave up on (progressDeadlineSeconds) is a failure, like an
    image that cannot be pulled: the restart says so and leaves the dependents down."""
    stack = kafka_and_dependents(fake)
    kafka = fake.objects["Deployment"]["kafka"]
    kafka["spec"]["progressDeadlineSeconds"] = 1
    fake.put("Deployment", kafka)
    fake.never_ready.add("vextrus/kafka:1.4.2")  # its new pods fail their readiness probe
    fake.run_controller(ready_delay=0.1)
    action = Restart(stack, runtime, Monitor(stack, runtime), "kafka", with_dependents=True,
                     timeout=60, poll_interval=0.05)
    events = [e async for e in action.run(CancelToken())]
    failed = [(e.step, e.message) for e in events if e.kind == "failed"]
    assert len(failed) == 1 and failed[0][0] == "kafka"
    assert failed[0][1].startswith("rollout stuck: ProgressDeadlineExceeded: ReplicaSet "
                                   '"kafka-'), failed
    assert "has timed out progressing. (1/3 updated)" in failed[0][1]
    assert "not healthy after" not in failed[0][1]  # not the 60 s timeout
    assert scaled_up_at(fake, "auth") == 0


async def test_phased_bringup_waits_for_a_dependency_mid_rollout(
    fake: FakeKubeAPI, runtime: KubernetesRuntime
) -> None:
    """kafka is wanted up already (start does nothing) but rolling out a new image."""
    fake.put("Deployment", deployment("kafka", 2))
    for i in range(2):
        fake.put("Pod", pod("kafka", f"k{i}"))
    fake.put("Deployment", deployment("auth", 0, annotations={
        "vextrus.io/replicas-before-stop": "1"}))
    fake.run_controller(ready_delay=0.3)
    fake.set_image("Deployment", "kafka", "vextrus/kafka:2.0")
    stack = Stack("t", (svc("kafka"), svc("auth", phase=1, depends_on=("kafka",))))
    action = BringUp(stack, runtime, Monitor(stack, runtime), timeout=30, poll_interval=0.05)
    events = [e async for e in action.run(CancelToken())]
    assert events[-1].kind == "done", [(e.kind, e.step, e.message) for e in events]
    assert 0 < rolled_out_at(fake, "kafka", 2) < scaled_up_at(fake, "auth")


async def test_scale_waits_until_the_controller_reconciled(
    fake: FakeKubeAPI, runtime: KubernetesRuntime
) -> None:
    fake.put("Deployment", deployment("auth", 1))
    fake.put("Pod", pod("auth", "a0"))
    fake.run_controller(ready_delay=0.3)
    stack = Stack("t", (svc("auth"),))
    events = [e async for e in Scale(stack, runtime, "auth", 3, timeout=30).run(CancelToken())]
    assert [e.kind for e in events] == ["ok", "done"]
    assert events[-1].message.startswith("3/3 replicas ready")
    status = fake.objects["Deployment"]["auth"]["status"]
    assert status["readyReplicas"] == 3 and len(
        [p for p in fake.objects["Pod"] if p.startswith("auth-")]) == 3


async def test_scale_that_cannot_reconcile_fails_with_the_reason(
    fake: FakeKubeAPI, runtime: KubernetesRuntime
) -> None:
    fake.put("Deployment", deployment("auth", 1, image="vextrus/auth:9.9"))
    fake.put("Pod", pod("auth", "a0"))
    fake.unpullable["vextrus/auth:9.9"] = "ErrImagePull"
    fake.run_controller(ready_delay=0.1)
    stack = Stack("t", (svc("auth"),))
    events = [e async for e in Scale(stack, runtime, "auth", 2, timeout=30).run(CancelToken())]
    assert [e.kind for e in events] == ["ok", "failed"]
    assert events[-1].message == ('cannot start: ErrImagePull: Back-off pulling image '
                                  '"vextrus/auth:9.9"')


def test_cli_restart_with_dependents_on_the_cluster(
    fake: FakeKubeAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's command line: the dependents come back after kafka's rollout."""
    from cli.main import main

    kafka_and_dependents(fake)
    fake.run_controller(ready_delay=0.3)
    stack = tmp_path / "stack.toml"
    stack.write_text('[stack]\nname = "t"\n[stack.kubernetes]\nnamespace = "vextrus"\n'
                     '[services.kafka]\ntier = "core"\n'
                     '[services.auth]\ntier = "core"\nphase = 1\ndepends_on = ["kafka"]\n'
                     '[services.notification]\ntier = "core"\nphase = 1\n'
                     'depends_on = ["kafka"]\n'
                     '[services.orders]\ntier = "core"\nphase = 2\ndepends_on = ["auth"]\n',
                     encoding="utf-8")
    config = fake.write_kubeconfig(tmp_path / "kubeconfig", "dev-cluster")
    code = main(["--stack", str(stack), "--runtime", "kubernetes", "--kubeconfig", str(config),
                 "--state-dir", str(tmp_path), "restart", "kafka", "--with-dependents", "--yes"])
    out = capsys.readouterr()
    assert code == 0, out.err + out.out
    assert "kafka: healthy in 0.0s" not in out.out
    done = rolled_out_at(fake, "kafka", 2)
    assert 0 < done < min(scaled_up_at(fake, n) for n in ("auth", "notification", "orders"))


async def test_ready_is_not_available_until_min_ready_seconds(
    fake: FakeKubeAPI, runtime: KubernetesRuntime
) -> None:
    """minReadySeconds: the new pod is Ready, every replica is ready, and the rollout is
    still not done until it has stayed ready that long."""
    obj = deployment("auth", 1)
    obj["spec"]["minReadySeconds"] = 1
    fake.put("Deployment", obj)
    fake.put("Pod", pod("auth", "a0"))
    fake.run_controller(ready_delay=0.1)
    stack = Stack("t", (svc("auth"),))
    monitor = Monitor(stack, runtime)
    await runtime.scale(svc("auth"), 2)
    seen = []
    for _ in range(1000):  # up to ~20 s on a loaded machine; about 1.2 s here
        status = (await monitor.refresh()).get("auth")
        w = status.container.workload if status.container else None
        seen.append((w.ready if w else 0, status.state.value, status.issues))
        if status.state.value == "operational":
            break
        await asyncio.sleep(0.02)
    assert (2, "starting", ("rolling out (1/2 updated available)",)) in seen, seen
    assert seen[-1][1] == "operational"


async def test_old_pods_linger_terminating_and_the_rollout_still_completes(
    fake: FakeKubeAPI, runtime: KubernetesRuntime
) -> None:
    """With a grace period the replaced pods stay listed (Terminating) after the rollout is
    done, as on a cluster; the restart does not wait for them, kubectl does not either."""
    fake.put("Deployment", deployment("auth", 2))
    for i in range(2):
        fake.put("Pod", pod("auth", f"a{i}"))
    fake.run_controller(ready_delay=0.1, grace=2.0)
    stack = Stack("t", (svc("auth"),))
    reasons: set[str] = set()
    stop = asyncio.Event()

    async def watch() -> None:
        while not stop.is_set():
            w = runtime.states_now([svc("auth")])["auth"].workload
            reasons.update(p.reason for p in (w.pods if w else ()))
            await asyncio.sleep(0.02)

    await runtime.list_states([svc("auth")])
    watcher = asyncio.create_task(watch())
    events = [e async for e in Restart(stack, runtime, Monitor(stack, runtime), "auth",
                                       timeout=30, poll_interval=0.05).run(CancelToken())]
    stop.set()
    await watcher
    assert [e.kind for e in events][-1] == "done", events
    assert "Terminating" in reasons
    assert rolled_out_at(fake, "auth", 2)
