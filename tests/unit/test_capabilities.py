"""Which runtime can do what, as `console.runtime.capabilities` documents it.

The console offers a verb (pause restarts, kill, describe, scale...) where the runtime
implements its interface; this pins the table in that module's docstring to the code, so
a runtime that loses a method loses the key in the UI knowingly, not by a typo.
"""

from __future__ import annotations

import pytest

from console.runtime import capabilities as cap
from console.runtime.docker.runtime import DockerRuntime
from console.runtime.kubernetes.runtime import KubernetesRuntime
from console.runtime.local.runtime import LocalRuntime

METHOD_ONLY = {
    cap.RestartPolicies: {DockerRuntime, LocalRuntime},
    cap.Killable: {DockerRuntime, LocalRuntime},
    cap.Describable: {DockerRuntime, KubernetesRuntime, LocalRuntime},
    cap.UsageSource: {DockerRuntime, KubernetesRuntime, LocalRuntime},
    cap.ClusterVerbs: {KubernetesRuntime},
    cap.PreviousLogs: {KubernetesRuntime},
}


@pytest.mark.parametrize("capability", list(METHOD_ONLY), ids=lambda c: c.__name__)
def test_each_runtime_has_exactly_the_documented_capabilities(capability: type) -> None:
    having = {r for r in (DockerRuntime, KubernetesRuntime, LocalRuntime)
              if issubclass(r, capability)}
    assert having == METHOD_ONLY[capability]
    letters = "".join(r.name[0].upper() for r in sorted(having, key=lambda r: r.name))
    row = next(line for line in (cap.__doc__ or "").splitlines()
               if line.strip().startswith(capability.__name__ + " "))
    assert "".join(row.split()[1:1 + len(letters)]) == letters  # the docstring's table


def test_data_capabilities_on_real_instances() -> None:
    """Kubernetes keeps the chosen container per service; Docker creates from Compose."""
    docker_rt = DockerRuntime("p", base_url="unix:///nonexistent.sock")
    local_rt = LocalRuntime()
    assert isinstance(docker_rt, cap.ComposeCreator)
    assert not isinstance(local_rt, cap.ComposeCreator)
    assert not isinstance(docker_rt, cap.ContainerChoice | cap.WriteGuarded)
    assert not isinstance(local_rt, cap.ContainerChoice | cap.WriteGuarded)
