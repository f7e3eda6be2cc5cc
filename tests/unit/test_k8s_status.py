"""Status rules for Kubernetes workloads that decide how a bring-up waits.

Pure: a Workload as the runtime reports it, judged by the status engine. A bad image will
not heal by waiting (the kubelet retries the pull, but the image stays wrong), so the
verdict says so and a bring-up stops waiting at once; a pod still being scheduled or
created heals by itself and is waited on.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from console.model import RuntimeNames, Service, Stack
from console.runtime.base import ContainerState, PodSummary, Workload
from console.status.engine import evaluate
from console.status.types import State
from console.status.workload import judge_workload

NOW = datetime(2025, 9, 25, 10, 42, 7, tzinfo=UTC)


def workload(*pods: PodSummary, desired: int = 1) -> Workload:
    ready = sum(1 for p in pods if p.ready)
    return Workload("Deployment", "notification", "vextrus", desired, ready, pods=pods)


def waiting(reason: str, message: str = "") -> PodSummary:
    return PodSummary("notification-n0", "Pending", reason=reason, message=message)


@pytest.mark.parametrize("reason", ["ImagePullBackOff", "ErrImagePull", "InvalidImageName"])
def test_an_image_that_cannot_be_pulled_is_stuck(reason: str) -> None:
    verdict = judge_workload(workload(waiting(reason, 'image "vextrus/notify:9.9"')))
    assert verdict is not None and verdict.stuck
    assert verdict.state is State.NOT_STARTED
    assert verdict.issues == (f'cannot start: {reason}: image "vextrus/notify:9.9"',)


@pytest.mark.parametrize("reason", ["ContainerCreating", "PodInitializing", ""])
def test_a_pod_on_its_way_is_waited_on(reason: str) -> None:
    verdict = judge_workload(workload(waiting(reason)))
    assert verdict is not None and not verdict.stuck
    assert verdict.state is State.STARTING


def test_the_status_carries_stuck_to_the_waiters() -> None:
    """What `actions.waiting` reads: the flag on the service's status, dependencies or not."""
    stack = Stack("t", (Service("postgres", runtime=RuntimeNames(k8s="statefulset/postgres")),
                        Service("notification", phase=1, depends_on=("postgres",)),
                        Service("auth", phase=1)))
    bad = ContainerState("notification", present=True, state="waiting",
                         workload=workload(waiting("ErrImagePull", "pull access denied")))
    starting = ContainerState("auth", present=True, state="waiting",
                              workload=workload(waiting("ContainerCreating")))
    status = evaluate(stack, {"notification": bad, "auth": starting}, {}, NOW,
                      runtime_name="kubernetes")
    notification = status.get("notification")
    assert notification.stuck and notification.state is State.NOT_STARTED
    assert notification.issues[0] == "cannot start: ErrImagePull: pull access denied"
    assert not status.get("auth").stuck
    assert not status.get("postgres").stuck  # not started at all: a start may fix it


# --- rollouts, as `kubectl rollout status` judges them -------------------------------------


def rolled(generation: int = 2, observed: int = 2, replicas: int = 3, updated: int = 3,
           total: int = 3, available: int = 3, progressing: str = "NewReplicaSetAvailable",
           message: str = "", kind: str = "Deployment") -> Workload:
    """A real-shaped Deployment status mapped by the runtime (old pods still ready)."""
    from console.runtime.kubernetes.mapping import Found, container_state
    from tests.k8s_fake_api import deployment, pod

    obj = deployment("kafka", replicas, kind=kind)
    obj["metadata"]["generation"] = generation
    obj["status"] = {"observedGeneration": observed, "replicas": total,
                     "updatedReplicas": updated, "readyReplicas": total,
                     "availableReplicas": available,
                     "conditions": [{"type": "Progressing", "status": "True",
                                     "reason": progressing, "message": message}]}
    pods = [pod("kafka", f"k{i}") for i in range(total)]
    state = container_state("kafka", Found(kind, obj, pods), [], [], NOW)
    assert state.workload is not None
    return state.workload


@pytest.mark.parametrize(("workload", "issue"), [
    (rolled(observed=1), "rolling out (new spec not yet seen by the controller)"),
    (rolled(updated=2, total=4, progressing="ReplicaSetUpdated"), "rolling out (2/3 updated)"),
    (rolled(total=4, progressing="ReplicaSetUpdated"), "rolling out (1 old pod terminating)"),
    (rolled(available=2, progressing="ReplicaSetUpdated"),
     "rolling out (2/3 updated available)"),
])
def test_a_rollout_under_way_is_not_healthy(workload: Workload, issue: str) -> None:
    """Every replica is ready (the old pods answer) and still it is not done."""
    verdict = judge_workload(workload)
    assert verdict is not None and not verdict.stuck
    assert (verdict.state, verdict.issues) == (State.STARTING, (issue,))


def test_a_finished_rollout_is_judged_by_readiness_again() -> None:
    assert judge_workload(rolled()) is None
    # after the rollout completed, a replica that fails readiness is not a rollout
    assert judge_workload(rolled(available=2)) is None  # readyReplicas says 3: healthy


def test_progress_deadline_exceeded_is_stuck() -> None:
    verdict = judge_workload(rolled(updated=1, total=4, progressing="ProgressDeadlineExceeded",
                                    message='ReplicaSet "kafka-5c8d" has timed out progressing.'))
    assert verdict is not None and verdict.stuck
    assert verdict.state is State.DEGRADED  # the old pods still serve
    assert verdict.issues == ('rollout stuck: ProgressDeadlineExceeded: ReplicaSet "kafka-5c8d" '
                              "has timed out progressing. (1/3 updated)",)


def test_a_statefulset_rolls_until_its_revisions_agree() -> None:
    from console.runtime.kubernetes.mapping import Found, container_state
    from tests.k8s_fake_api import deployment, pod

    obj = deployment("postgres", 2, kind="StatefulSet")
    obj["status"].update({"readyReplicas": 2, "updatedReplicas": 1,
                          "currentRevision": "postgres-6d4", "updateRevision": "postgres-7f9"})
    pods = [pod("postgres", str(i)) for i in range(2)]
    w = container_state("postgres", Found("StatefulSet", obj, pods), [], [], NOW).workload
    assert w is not None and w.rollout == "1/2 updated"
    obj["status"].update({"updatedReplicas": 2, "currentRevision": "postgres-7f9"})
    w = container_state("postgres", Found("StatefulSet", obj, pods), [], [], NOW).workload
    assert w is not None and w.rollout == "" and judge_workload(w) is None


def test_a_paused_rollout_is_stuck_until_resumed() -> None:
    from console.runtime.kubernetes.mapping import Found, container_state
    from tests.k8s_fake_api import deployment, pod

    obj = deployment("kafka", 3)
    obj["metadata"]["generation"] = 2
    obj["spec"]["paused"] = True
    obj["status"].update({"observedGeneration": 2, "updatedReplicas": 0, "replicas": 3})
    pods = [pod("kafka", f"k{i}") for i in range(3)]
    w = container_state("kafka", Found("Deployment", obj, pods), [], [], NOW).workload
    assert w is not None
    verdict = judge_workload(w)
    assert verdict is not None and verdict.stuck and verdict.issues == (
        "rollout paused (kubectl rollout resume deployment/kafka) (0/3 updated)",)
