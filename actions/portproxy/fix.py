"""Guided action `portproxy`: diagnose host port access, then fix it the platform's way.

`PortProxyDiagnose` (read-only) probes every service port from the host and from inside
its container and classifies each one (see `actions.portproxy.diagnose`). The fix depends
on where the console runs:

- Linux / macOS: `ForwarderFix` starts built-in TCP forwarders (`console.forwarder`): into
  the container through the runtime for "forwarding broken", to the address that answers
  for "wrong address". They live as long as the process (the CLI runs them in the
  foreground), so nothing is left behind on the machine.
- Windows / WSL2: the fix belongs to Windows (netsh port proxy rules, the firewall, the IP
  Helper service), so `plan_script()` turns the findings into a PowerShell script that is
  printed for review; `NetshApply` runs it, on Windows with elevation only.

Findings that no proxy can fix (service down, port taken) are reported with what to do,
never papered over with a forwarder.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from actions.base import ActionError, CancelToken, Progress, ProgressKind, Step
from actions.portproxy.diagnose import (
    Finding,
    PortSpec,
    ProbeSettings,
    Snapshot,
    check_rule,
    classify,
    gather_facts,
    owning_service,
    port_specs,
    read_snapshot,
    rule_finding,
    summarize,
)
from actions.portproxy.netsh import (
    PlatformKind,
    ProxyRule,
    RuleToAdd,
    ScriptPlan,
    current_wsl_address,
    merge_deletions,
    parse_show_output,
)
from console.forwarder import (
    ExecTarget,
    Forwarder,
    ForwarderError,
    ForwarderManager,
    Target,
    TcpTarget,
    validate_target_address,
)
from console.model import Stack
from console.runtime.base import ContainerState, Runtime


class PortProxyDiagnose:
    """Probe each service port from the host and inside; one finding per port and rule."""

    name = "portproxy diagnose"
    writes = False

    def __init__(
        self,
        stack: Stack,
        runtime: Runtime | None,
        rules: Sequence[ProxyRule] = (),
        forwarders: ForwarderManager | None = None,
        only: str | None = None,
        settings: ProbeSettings | None = None,
        proc_root: Path = Path("/proc"),
    ) -> None:
        if only is not None and only not in stack:
            raise ActionError(f"portproxy: unknown service {only!r}")
        self.stack, self.runtime, self.rules = stack, runtime, tuple(rules)
        self.forwarders = forwarders
        self.target = only or stack.name
        self.settings = settings or ProbeSettings()
        self.proc_root = proc_root
        self.specs = port_specs(stack, only)
        self.findings: list[Finding] = []

    def plan(self) -> list[Step]:
        steps = [Step(f"{s.service}:{s.port}", f"probe {s.service} on {s.expected} from the host,"
                      " and inside its container if the host gets no answer", s.service)
                 for s in self.specs]
        steps += [Step(f"rule {r.listen_port}", f"check that the target of {r.describe()} "
                       "still answers", owning_service(self.stack, r.listen_port))
                  for r in self.rules]
        return steps

    async def run(self, cancel: CancelToken) -> AsyncIterator[Progress]:
        self.findings = []
        yield Progress("started", "", f"checking {len(self.specs)} port(s), "
                       f"{len(self.rules) + len(self._forwarder_list())} rule(s)")
        states, error = await self._states()
        if error:
            yield Progress("info", "", f"runtime unavailable ({error}): judging from the host only")
        snapshot = await asyncio.to_thread(
            read_snapshot, [s.port for s in self.specs], self.proc_root
        )
        cancel.check()
        tasks = [asyncio.ensure_future(self._port(s, states, snapshot)) for s in self.specs]
        tasks += [asyncio.ensure_future(check_rule(r, self.stack, self.settings.timeout))
                  for r in self.rules]
        tasks += [asyncio.ensure_future(self._forwarder_rule(f)) for f in self._forwarder_list()]
        later: list[Finding] = []  # what a port fix cannot change: after the actionable
        try:
            for task in tasks:
                finding = await task
                cancel.check()
                self.findings.append(finding)
                if finding.status in NOT_A_PORT_FIX:
                    later.append(finding)
                else:
                    yield finding_event(finding)
            # At 80x24 the five fixable lines must not scroll behind 25 "service down" ones.
            for finding in sorted(later, key=lambda f: f.status == "ok"):
                yield finding_event(finding)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        yield Progress("done", "", summary_text(self.findings),
                       data={"findings": [f.to_dict() for f in self.findings]})

    async def _states(self) -> tuple[dict[str, ContainerState] | None, str]:
        """None when there is no runtime or it cannot answer: nothing is then inferred
        from a container's absence. The second item says why the runtime failed."""
        if self.runtime is None:
            return None, ""
        try:
            return await self.runtime.list_states(self.stack.services), ""
        except Exception as exc:  # RuntimeUnavailable and friends: judged without the runtime
            return None, str(exc).splitlines()[0] if str(exc) else type(exc).__name__

    async def _port(
        self, spec: PortSpec, states: dict[str, ContainerState] | None, snapshot: Snapshot
    ) -> Finding:
        service = self.stack.service(spec.service)
        container = None if states is None else states.get(
            spec.service, ContainerState(service=spec.service))
        runtime = self.runtime if states is not None else None
        facts = await gather_facts(spec, service, runtime, container, snapshot, self.settings)
        return classify(replace(facts, via_forwarder=self._forwarded(spec)))

    def _forwarded(self, spec: PortSpec) -> str:
        """Our own forwarder on the expected address is the fix at work, not a thief."""
        host = "127.0.0.1" if spec.expected_host == "localhost" else spec.expected_host
        for forwarder in self._forwarder_list():
            if (forwarder.listen_host, forwarder.listen_port) == (host, spec.port):
                return forwarder.target.describe()
        return ""

    def _forwarder_list(self) -> list[Forwarder]:
        return self.forwarders.forwarders() if self.forwarders else []

    async def _forwarder_rule(self, forwarder: Forwarder) -> Finding:
        answers = await forwarder.target.answers(self.settings.timeout + 1)
        return rule_finding(forwarder_rule(forwarder), self.stack, answers)


def forwarder_rule(forwarder: Forwarder) -> ProxyRule:
    """A running forwarder described like a netsh rule, so both are checked alike."""
    target = forwarder.target
    if isinstance(target, ExecTarget):
        connect, port = f"exec:{target.label or target.container[:12]}", target.port
    elif isinstance(target, TcpTarget):
        connect, port = target.host, target.port
    else:
        connect, port = target.describe(), 0
    return ProxyRule(forwarder.listen_host, forwarder.listen_port, connect, port,
                     source="forwarder")


NOT_A_PORT_FIX = ("ok", "service down")  # listed after the findings a port fix acts on


def finding_event(finding: Finding) -> Progress:
    kind: ProgressKind = "ok" if finding.ok else "failed"
    step = f"{finding.service}:{finding.port}"
    return Progress(kind, step, f"{finding.status}: {finding.detail}", data=finding.to_dict())


def summary_text(findings: Sequence[Finding]) -> str:
    counts = summarize(findings)
    parts = [f"{n} {status}" for status, n in counts.items() if n]
    return ", ".join(parts) if parts else "no ports to check"


def render_table(findings: Sequence[Finding]) -> str:
    """The final table: fixed columns, the detail last so it may run long."""
    width = max([len("SERVICE"), *(len(f.service) for f in findings)])
    lines = [f"{'SERVICE':<{width}}  {'PORT':>5}  {'STATUS':<29}  DETAIL"]
    lines += [f"{f.service:<{width}}  {f.port:>5}  {f.status:<29}  {f.detail}" for f in findings]
    return "\n".join(lines) + "\n"


# --- Linux / macOS: built-in forwarders ----------------------------------------------------


@dataclass(frozen=True)
class PlannedForward:
    service: str
    port: int
    status: str
    listen_host: str
    listen_port: int
    target: Target

    def describe(self) -> str:
        return f"{self.listen_host}:{self.listen_port} -> {self.target.describe()}"


def expected_host(finding: Finding) -> str:
    host = finding.expected.rpartition(":")[0]
    return "127.0.0.1" if host == "localhost" else host


@dataclass(frozen=True)
class Skip:
    """A problem no forwarder fixes, with what to do instead."""

    service: str
    port: int
    status: str
    advice: str

    @property
    def step(self) -> str:
        return f"{self.service}:{self.port}"

    def __str__(self) -> str:
        return f"{self.service} {self.port}: {self.status}: {self.advice}"


def plan_forwards(
    findings: Sequence[Finding],
    docker_host: str | None = None,
    docker: str = "docker",
    only: str | None = None,
    exec_supported: bool = True,
) -> tuple[list[PlannedForward], list[Skip]]:
    """Forwarders for the findings a forwarder fixes; a note for every other problem.

    `exec_supported` is False when the runtime is not Docker: the exec target speaks
    `docker exec`, so forwarding into a container is then reported, not attempted.
    """
    planned: list[PlannedForward] = []
    notes: list[Skip] = []
    for f in findings:
        if f.ok or (only is not None and f.service != only):
            continue
        if f.status == "forwarding broken" and f.container_id and exec_supported:
            target: Target = ExecTarget(f.container_id, f.port, docker=docker,
                                        docker_host=docker_host, label=f.service)
        elif f.status == "wrong address" and f.actual_address:
            target = TcpTarget(f.actual_address, f.port)
        else:
            notes.append(Skip(f.service, f.port, f.status, advice(f)))
            continue
        planned.append(PlannedForward(f.service, f.port, f.status, expected_host(f), f.port,
                                      target))
    return planned, notes


def advice(finding: Finding) -> str:
    """What the operator does instead, for findings a port proxy cannot fix."""
    if finding.status == "service down":
        return f"start it first (vextrus-console bringup --only {finding.service})"
    if finding.status == "port taken by another process":
        who = finding.owner or "another process"
        return f"free the port ({who}) or move {finding.service} to another port"
    if finding.status == "stale rule":
        return "remove the rule" + (f" ({finding.rule.describe()})" if finding.rule else "")
    if finding.status == "forwarding broken":
        return "forwarding into the container needs the docker runtime"
    return finding.detail


class ForwarderFix:
    """Start one forwarder per fixable finding; they run until the manager stops them."""

    name = "portproxy fix"
    writes = True

    def __init__(
        self,
        findings: Sequence[Finding],
        manager: ForwarderManager,
        target: str = "",
        docker_host: str | None = None,
        docker: str = "docker",
        only: str | None = None,
        exec_supported: bool = True,
    ) -> None:
        self.manager, self.target = manager, target or only or "stack"
        self.planned, self.notes = plan_forwards(findings, docker_host, docker, only,
                                                 exec_supported)
        self.started: list[Forwarder] = []

    def plan(self) -> list[Step]:
        steps = [Step(f"forward {p.service}:{p.port}", f"forward {p.describe()}", p.service,
                      p.status) for p in self.planned]
        steps += [Step(f"skip {n.step}", f"leave {n.step} ({n.status}): {n.advice}", n.service)
                  for n in self.notes]
        return steps

    async def run(self, cancel: CancelToken) -> AsyncIterator[Progress]:
        for note in self.notes:
            yield Progress("skipped", note.step, f"{note.status}: {note.advice}")
        failures = 0
        for item in self.planned:
            cancel.check()
            event = await self._start(item)
            failures += event.kind == "failed"
            yield event
        kind: ProgressKind = "failed" if failures or (not self.started and self.notes) else "done"
        yield Progress(kind, "", f"{len(self.started)} forwarder(s) running"
                       + (f", {failures} failed" if failures else ""))

    async def _start(self, item: PlannedForward) -> Progress:
        step = f"{item.service}:{item.port}"
        try:
            forwarder = Forwarder(item.listen_host, item.listen_port, item.target,
                                  label=item.service)
            await self.manager.add(forwarder)
        except ForwarderError as exc:
            return Progress("failed", step, str(exc))
        self.started.append(forwarder)
        return Progress("ok", step, f"forwarding {item.describe()}")


# --- Windows / WSL2: the netsh script -----------------------------------------------------


def plan_script(
    findings: Sequence[Finding],
    existing: Sequence[ProxyRule] = (),
    connect_address: str | None = None,
    listen_address: str | None = None,
    only: str | None = None,
) -> ScriptPlan:
    """Which rules to add and delete for these findings; notes for what rules cannot fix.

    Forwarding broken -> listen where clients connect, connect to the current address
    (WSL2's eth0 address); wrong address -> connect to the address that answers; stale
    rules -> deleted (and an existing rule on a port being re-added is replaced).
    """
    add: list[RuleToAdd] = []
    notes: list[str] = []
    stale: list[ProxyRule] = []
    for f in findings:
        if f.ok or (only is not None and f.service != only):
            continue
        listen = listen_address or expected_host(f)
        if f.status == "stale rule" and f.rule is not None:
            stale.append(f.rule)
        elif f.status == "wrong address" and f.actual_address:
            add.append(RuleToAdd(f.service, listen, f.port, f.actual_address, f.port))
        elif f.status == "forwarding broken" and connect_address:
            add.append(RuleToAdd(f.service, listen, f.port, connect_address, f.port))
        elif f.status == "forwarding broken":
            notes.append(f"{f.service} {f.port}: forwarding broken, but the current address "
                         "is unknown: pass --connect-address")
        else:
            notes.append(f"{f.service} {f.port}: {f.status}: {advice(f)}")
    return ScriptPlan(tuple(add), merge_deletions(add, stale, existing), tuple(notes))


def resolve_connect_address(kind: PlatformKind, override: str | None = None) -> str | None:
    """Where Windows must send forwarded connections: given, or WSL2's current address."""
    if override:
        try:
            validate_target_address(override)
        except ForwarderError as exc:
            raise ActionError(f"--connect-address: {str(exc).split(': ', 1)[1]}") from None
        return netsh_ipv4("--connect-address", override)
    if kind == "wsl":
        return current_wsl_address()
    if kind == "windows":
        return _wsl_address_from_windows()
    return None


def netsh_ipv4(option: str, text: str) -> str:
    """v4tov4 rules take IPv4 addresses; anything else is refused in one line."""
    try:
        return str(ipaddress.IPv4Address(text.strip()))
    except ValueError:
        raise ActionError(f"{option}: {text!r} is not an IPv4 address (netsh v4tov4)") from None


def _wsl_address_from_windows() -> str | None:
    """On Windows, ask the default WSL distribution (`wsl.exe hostname -I`)."""
    exe = shutil.which("wsl.exe") or shutil.which("wsl")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "hostname", "-I"], capture_output=True, timeout=10,
                             check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    words = out.decode("utf-8", "replace").replace("\0", "").split()
    return words[0] if words else None


def read_netsh_rules(kind: PlatformKind, rules_file: str | None = None) -> list[ProxyRule]:
    """Existing rules: from a saved `show v4tov4` output, or from netsh itself on Windows
    and WSL2 (netsh.exe through interop); none elsewhere. Reading changes nothing."""
    if rules_file:
        try:
            return parse_show_output(Path(rules_file).read_text(encoding="utf-8",
                                                                errors="replace"))
        except OSError as exc:
            raise ActionError(f"--rules-from: {rules_file}: {exc.strerror or exc}") from None
    exe = {"windows": "netsh", "wsl": "netsh.exe"}.get(kind)
    path = shutil.which(exe) if exe else None
    if path is None:
        return []
    try:
        out = subprocess.run([path, "interface", "portproxy", "show", "v4tov4"],
                             capture_output=True, timeout=15, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return parse_show_output(out.decode("utf-8", "replace"))


def windows_is_admin() -> bool:
    """Elevation on Windows (shell32.IsUserAnAdmin); False anywhere else."""
    try:
        import ctypes

        return bool(ctypes.windll.shell32.IsUserAnAdmin())  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return False


class NetshApply:
    """Run the generated script in PowerShell: Windows only, elevated only."""

    name = "portproxy fix"
    writes = True

    def __init__(
        self,
        script: str,
        kind: PlatformKind,
        target: str = "stack",
        is_admin: Callable[[], bool] = windows_is_admin,
    ) -> None:
        self.script, self.kind, self.target, self.is_admin = script, kind, target, is_admin

    def refusal(self) -> str | None:
        """Why it cannot run here (one line), or None."""
        if self.kind != "windows":
            return (f"portproxy fix --apply: netsh rules can only be applied on Windows itself "
                    f"(this is {self.kind}); run the printed script in an elevated PowerShell")
        if not self.is_admin():
            return ("portproxy fix --apply: not elevated; run vextrus-console from an elevated "
                    "PowerShell (Run as Administrator), or run the printed script there")
        return None

    def plan(self) -> list[Step]:
        commands = [ln for ln in self.script.splitlines() if ln.startswith("netsh ")
                    or "New-NetFirewallRule" in ln]
        return [Step(f"cmd {i + 1}", ln.strip()) for i, ln in enumerate(commands)]

    async def run(self, cancel: CancelToken) -> AsyncIterator[Progress]:
        refusal = self.refusal()
        if refusal:
            raise ActionError(refusal)
        cancel.check()
        path = _write_script(self.script)
        try:
            proc = await asyncio.create_subprocess_exec(
                "powershell.exe", "-NoProfile", "-ExecutionPolicy", "Bypass", "-File", path,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            )
            assert proc.stdout is not None
            async for raw in proc.stdout:
                line = raw.decode("utf-8", "replace").rstrip()
                if line:
                    yield Progress("info", "powershell", line)
            code = await proc.wait()
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)
        if code:
            yield Progress("failed", "", f"the script failed (exit code {code})")
        else:
            yield Progress("done", "", "port proxy rules applied")


def _write_script(text: str) -> str:
    fd, path = tempfile.mkstemp(prefix="vextrus-portproxy-", suffix=".ps1")
    with os.fdopen(fd, "w", encoding="utf-8-sig") as handle:  # BOM: PowerShell 5 reads UTF-8
        handle.write(text)
    return path
