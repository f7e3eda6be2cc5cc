"""A shell "into" a service: which command opens it, on each runtime. No Textual here.

The console suspends itself and runs the command in the operator's terminal (App.suspend);
this module only decides the command. Docker: `docker exec -it CONTAINER SHELL` against the
runtime's own daemon. Kubernetes: `kubectl exec -it POD -c CONTAINER -- SHELL` in the
runtime's context and namespace. Local processes: the operator's shell in the service's
working directory with its environment. The shell is the one the image has: bash, then
ash, then sh, then busybox's (a FROM scratch busybox image has only /bin/busybox), each
tried with a quick exec through the runtime.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from console.model import Service

SHELLS: tuple[tuple[str, ...], ...] = (("bash",), ("ash",), ("sh",), ("/bin/busybox", "sh"))
PROBE_TIMEOUT_S = 5.0


class ShellUnavailable(Exception):
    """No shell can be opened; str() is one line for the operator."""


@dataclass(frozen=True)
class ShellPlan:
    argv: tuple[str, ...]
    cwd: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)  # empty: the console's own

    @property
    def text(self) -> str:
        """The command as the journal and the notification say it."""
        return " ".join(self.argv)


async def find_shell(runtime: Any, service: Service) -> tuple[str, ...]:
    """The first shell of SHELLS that starts inside the service."""
    tried = []
    for shell in SHELLS:
        try:
            result = await runtime.exec(service, [*shell, "-c", "exit 0"], PROBE_TIMEOUT_S)
        except TimeoutError:
            continue
        if result.exit_code == 0:
            return shell
        tried.append(" ".join(shell))
    raise ShellUnavailable(f"{service.name}: no shell in the image (tried {', '.join(tried)})")


async def shell_plan(runtime: Any, service: Service) -> ShellPlan:
    """The command that opens an interactive shell in `service` on `runtime`."""
    if runtime is None:
        raise ShellUnavailable("no runtime: the console runs with --runtime none")
    if runtime.name == "local":
        cwd, env = runtime.shell_directory(service)
        return ShellPlan((os.environ.get("SHELL") or "/bin/sh",), cwd, env)
    if runtime.name == "docker":
        return await _docker_plan(runtime, service)
    if runtime.name == "kubernetes":
        return await _kubectl_plan(runtime, service)
    raise ShellUnavailable(f"a shell is not available on the {runtime.name} runtime")


async def _docker_plan(runtime: Any, service: Service) -> ShellPlan:
    docker = _tool("docker", "the Docker CLI (docker.io) is needed for an interactive shell")
    states = await runtime.list_states([service])
    state = states.get(service.name)
    if state is None or state.state != "running" or not state.container_id:
        what = state.state if state is not None else "missing"
        raise ShellUnavailable(f"{service.name}: container is {what}; start it first")
    shell = await find_shell(runtime, service)
    env = {**os.environ, "DOCKER_HOST": str(runtime.host)}
    return ShellPlan((docker, "exec", "-it", state.container_id, *shell), env=env)


async def _kubectl_plan(runtime: Any, service: Service) -> ShellPlan:
    kubectl = _tool("kubectl", "kubectl is needed for an interactive shell in a pod")
    pod, container = await runtime.shell_target(service)
    shell = await find_shell(runtime, service)
    target = runtime.target
    argv: list[str] = [kubectl, "--context", str(target.context), "-n",
                       str(runtime.namespace), "exec", "-it", pod]
    if container:
        argv += ["-c", container]
    # KUBECONFIG, not --kubeconfig: the runtime's may be a list of files, as the variable's
    env = {**os.environ, "KUBECONFIG": str(target.kubeconfig)}
    return ShellPlan((*argv, "--", *shell), env=env)


def _tool(name: str, why: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ShellUnavailable(f"{name} not found on PATH: {why}")
    return path

