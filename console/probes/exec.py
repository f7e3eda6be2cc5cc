"""Exec probe: run a command inside the service's container; exit code 0 means healthy.

For services whose health is only visible from inside (`tctl cluster health`,
`pg_isready`, an OpenTelemetry extension on the container's loopback). Also builds the
wget command line the http probe uses for `where="inside"`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from console.model import HealthCheck, Service
from console.probes.base import ProbeResult
from console.probes.common import Outcome, failed, guarded

if TYPE_CHECKING:
    from console.runtime.base import Runtime

NO_RUNTIME = "no runtime to exec in"


class ExecProbe:
    """ok when the command exits 0 inside the container."""

    kind = "exec"

    async def run(
        self, check: HealthCheck, service: Service, runtime: Runtime | None
    ) -> ProbeResult:
        """Exec through the runtime; its output is the evidence either way."""
        if runtime is None:
            return failed(check, NO_RUNTIME, where="inside")
        if not check.command:
            return failed(check, "no command configured", where="inside")
        argv = list(check.command)
        rt = runtime

        async def body() -> Outcome:
            result = await rt.exec(service, argv, check.timeout)
            if result.exit_code == 0:
                return Outcome(True, output=result.output or "exit code 0")
            return Outcome(False, output=result.output, error=exit_words(result.exit_code))

        return await guarded(check, body, where="inside")


def exit_words(code: int) -> str:
    """`exit code 1`, naming the shell's conventions that point at a broken image."""
    if code == 127:
        return "exit code 127: command not found in the container"
    if code == 126:
        return "exit code 126: command not executable in the container"
    if code > 128:
        return f"exit code {code}: killed by signal {code - 128}"
    return f"exit code {code}"


def inside_http_argv(check: HealthCheck) -> list[str]:
    """`wget -qO- -T N http://127.0.0.1:PORT/PATH`: the seeds' own inside health check.

    Always the container's loopback (the point is to bypass port forwarding). Busybox
    wget's `-T` takes whole seconds: rounded down (at least 1) so wget gives up before the
    probe's own deadline and its complaint ("download timed out") can still be read.
    """
    seconds = max(1, int(check.timeout))
    return ["wget", "-qO-", "-T", str(seconds), f"http://127.0.0.1:{check.port}{check.path}"]
