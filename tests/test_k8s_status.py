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
from console.status import evaluate
from console.status_types import State
from console.status_workload import judge_workload

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
