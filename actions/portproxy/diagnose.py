"""Port diagnosis: who answers on a service's port, from where, and what that means.

For each port of a service the host is probed (a TCP connect to the address clients use,
127.0.0.1 by default) and, when that fails, the container is asked from inside through the
runtime (`wget` on 127.0.0.1:PORT, the seeds' own check). The answers are then classified
by one pure function, `classify()`, so every rule is testable with plain data:

- ok: the host reaches it, and the listener is the service (or cannot be told apart)
- forwarding broken: it answers inside the container, not from the host
- service down: nobody answers, inside or out
- port taken by another process: the host port answers, but the service's container is not
  running, or the listening process is not in it (found through /proc/net/tcp socket inodes
  matched against /proc/PID/fd links, and the process's cgroup naming the container)
- wrong address: the expected address is silent, but the port answers on another loopback
  address (127.0.0.1..127.0.0.4 are tried) or /proc/net/tcp shows it bound elsewhere
- stale rule: a netsh or forwarder rule whose target no longer answers

/proc is read directly (no psutil dependency); where it is missing (macOS) or unreadable
(another user's processes), the owner is "unknown" and never turned into an accusation.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from actions.portproxy.netsh import ProxyRule
from console.forwarder import os_reason
from console.model import Service, Stack
from console.runtime.base import ContainerState, Runtime

Status = Literal[
    "ok",
    "forwarding broken",
    "service down",
    "port taken by another process",
    "wrong address",
    "stale rule",
]
STATUSES: tuple[Status, ...] = (
    "ok", "forwarding broken", "service down", "port taken by another process",
    "wrong address", "stale rule",
)
SCAN_ADDRESSES = ("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4")
PROBE_KINDS = ("http", "tcp", "postgres", "redis", "kafka", "temporal")
# Processes that hold a published port on a container's behalf.
DOCKER_HELPERS = ("docker-proxy", "rootlesskit", "vpnkit", "com.docker.back", "slirp4netns")


# --- what is checked ------------------------------------------------------------------------


@dataclass(frozen=True)
class PortSpec:
    """One port of one service, with the address the host expects and the health path."""

    service: str
    port: int
    expected_host: str = "127.0.0.1"
    path: str | None = None  # http path to ask inside; None: a plain TCP port

    @property
    def expected(self) -> str:
        return f"{self.expected_host}:{self.port}"


def port_specs(stack: Stack, only: str | None = None) -> list[PortSpec]:
    """Every host-facing port of the stack, once per service and port.

    Host checks come first because they name the address clients use and the health path;
    bare `ports` entries fill in with 127.0.0.1 and a TCP check.
    """
    specs: list[PortSpec] = []
    for service in stack.services:
        if only is not None and service.name != only:
            continue
        specs.extend(_service_specs(service))
    return specs


def _service_specs(service: Service) -> list[PortSpec]:
    seen: dict[int, PortSpec] = {}
    for check in service.checks:
        if check.kind not in PROBE_KINDS or check.where != "host" or check.port is None:
            continue
        path = check.path if check.kind == "http" else None
        if check.port not in seen or (path and seen[check.port].path is None):
            seen[check.port] = PortSpec(service.name, check.port, check.host, path)
    for port in service.ports:
        seen.setdefault(port, PortSpec(service.name, port))
    return list(seen.values())


# --- /proc: listeners and their owners --------------------------------------------------


@dataclass(frozen=True)
class Listener:
    """A listening TCP socket as /proc/net/tcp{,6} shows it."""

    address: str
    port: int
    inode: int


@dataclass(frozen=True)
class Owner:
    """A process holding a listening socket."""

    pid: int
    name: str
    cgroup: str = ""
    cmdline: tuple[str, ...] = ()
    pgid: int = 0  # process group: how the local runtime names a service's "container"

    def describe(self) -> str:
        return f"pid {self.pid} ({self.name})"

    def is_docker_helper(self) -> bool:
        return self.name.startswith(DOCKER_HELPERS)

    def is_vextrus_forwarder(self) -> bool:
        """Another `vextrus-console portproxy fix` holding the port is the fix, not a thief."""
        args = list(self.cmdline)
        return any(a == "portproxy" and args[i + 1 : i + 2] == ["fix"] for i, a in enumerate(args))

    def in_container(self, container_id: str) -> bool:
        """Docker: the cgroup names the container; local runtime: `pgid:N` is the group."""
        if container_id.startswith("pgid:"):
            return container_id == f"pgid:{self.pgid}"
        return bool(container_id) and container_id in self.cgroup


def decode_address(hexaddr: str) -> str:
    """/proc/net/tcp prints each 32-bit word of the address in host byte order."""
    words = [hexaddr[i : i + 8] for i in range(0, len(hexaddr), 8)]
    raw = b"".join(int(w, 16).to_bytes(4, sys.byteorder) for w in words)
    addr = ipaddress.ip_address(raw)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)


def parse_proc_net_tcp(text: str) -> list[Listener]:
    """The LISTEN rows (state 0A) of /proc/net/tcp or /proc/net/tcp6."""
    out: list[Listener] = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[3] != "0A":
            continue
        addr, _, port = fields[1].partition(":")
        with contextlib.suppress(ValueError):
            out.append(Listener(decode_address(addr), int(port, 16), int(fields[9])))
    return out


@dataclass(frozen=True)
class Snapshot:
    """Listening sockets and their owners, read once per diagnosis."""

    listeners: tuple[Listener, ...] = ()
    owners: Mapping[int, tuple[Owner, ...]] = field(default_factory=dict)
    available: bool = False  # False: no /proc (macOS, Windows): nothing known

    def on_port(self, port: int) -> list[Listener]:
        return [item for item in self.listeners if item.port == port]

    def owners_of(self, listeners: Iterable[Listener]) -> list[Owner]:
        found: list[Owner] = []
        for item in listeners:
            found.extend(o for o in self.owners.get(item.inode, ()) if o not in found)
        return found


def read_snapshot(ports: Iterable[int], root: Path = Path("/proc")) -> Snapshot:
    """Blocking: call it in a thread. Owners are looked up only for the given ports."""
    listeners: list[Listener] = []
    available = False
    for name in ("tcp", "tcp6"):
        try:
            listeners += parse_proc_net_tcp((root / "net" / name).read_text())
            available = True
        except OSError:
            continue
    if not available:
        return Snapshot()
    wanted = set(ports)
    inodes = {item.inode for item in listeners if item.port in wanted and item.inode}
    return Snapshot(tuple(listeners), socket_owners(inodes, root), available=True)


def socket_owners(inodes: set[int], root: Path = Path("/proc")) -> dict[int, tuple[Owner, ...]]:
    """Which processes hold these socket inodes (their /proc/PID/fd links say socket:[N])."""
    found: dict[int, list[Owner]] = {}
    if not inodes:
        return {}
    for entry in _pids(root):
        for inode in _socket_inodes(root / entry / "fd") & inodes:
            found.setdefault(inode, []).append(_owner(root, int(entry)))
    return {inode: tuple(owners) for inode, owners in found.items()}


def _pids(root: Path) -> list[str]:
    try:
        return [name for name in os.listdir(root) if name.isdigit()]
    except OSError:
        return []


def _socket_inodes(fd_dir: Path) -> set[int]:
    out: set[int] = set()
    try:
        names = os.listdir(fd_dir)
    except OSError:  # gone, or another user's process
        return out
    for name in names:
        try:
            link = os.readlink(fd_dir / name)
        except OSError:
            continue
        if link.startswith("socket:[") and link.endswith("]"):
            out.add(int(link[8:-1]))
    return out


def _owner(root: Path, pid: int) -> Owner:
    base = root / str(pid)
    name = _read(base / "comm").strip() or "?"
    cmdline = tuple(a for a in _read(base / "cmdline").split("\0") if a)
    return Owner(pid, name, _read(base / "cgroup"), cmdline, _pgid(_read(base / "stat")))


def _pgid(stat: str) -> int:
    """Field 5 of /proc/PID/stat (after the parenthesised command name, which may hold spaces)."""
    fields = stat.rpartition(")")[2].split()
    return int(fields[2]) if len(fields) > 2 and fields[2].isdigit() else 0


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


# --- probing ---------------------------------------------------------------------------------


async def tcp_answers(host: str, port: int, timeout: float) -> tuple[bool, str]:
    """A TCP connect: the question "does anything listen there" and nothing more."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except TimeoutError:
        return False, f"timed out after {timeout:g}s"
    except OSError as exc:
        return False, os_reason(exc)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True, ""


Verdict = tuple[bool | None, str]  # (answers? None: cannot tell, why)
_MISSING = "missing"  # the tool is not in the image: try the next way of running it


def inside_argv(port: int, path: str | None) -> list[str]:
    """The seeds' `wget -qO- http://127.0.0.1:PORT/health`.

    For a non-HTTP port the same request still tells a refusal from a listener that
    answered something other than HTTP, and wget is in every image the seeds use. No `-T`:
    Debian's busybox-static 1.35 wget segfaults with it; the exec timeout bounds it instead.
    """
    return ["wget", "-q", "-O", "-", f"http://127.0.0.1:{port}{path or '/'}"]


def nc_argv(port: int, timeout: float) -> list[str]:
    """The fallback: a bare connect (stdin is empty, so nc half-closes and waits)."""
    return ["nc", "-w", str(max(1, int(timeout))), "127.0.0.1", str(port)]


def _words(output: str) -> tuple[str, str]:
    full = " ".join(output.split()).removeprefix("wget: ").removeprefix("nc: ")
    return full.lower(), full[:80]


def _missing(exit_code: int, lowered: str) -> bool:
    return exit_code == 127 or "executable file not found" in lowered or (
        "not found" in lowered and exit_code == 126)


def judge_inside(exit_code: int, output: str) -> Verdict:
    """Read wget's outcome: refused -> nobody listens; an HTTP answer, even an error,
    -> someone does; a crash or silence -> cannot tell (then nc is asked)."""
    lowered, text = _words(output)
    if exit_code == 0:
        return True, "answers inside" + (f": {text}" if text else "")
    if "refused" in lowered or "can't connect" in lowered:
        return False, "connection refused inside"
    if _missing(exit_code, lowered):
        return None, _MISSING
    if exit_code >= 128 or not text:
        return None, f"wget ended with exit code {exit_code}"
    if "bad address" in lowered or "unreachable" in lowered:
        return False, f"not reachable inside: {text}"
    return True, f"answers inside: {text}"


def judge_nc(exit_code: int, output: str) -> Verdict:
    lowered, text = _words(output)
    if exit_code == 0:
        return True, "accepts connections inside"
    if "refused" in lowered or "can't connect" in lowered:
        return False, "connection refused inside"
    if _missing(exit_code, lowered):
        return None, _MISSING
    return None, f"nc ended with exit code {exit_code}" + (f": {text}" if text else "")


async def probe_inside(
    runtime: Runtime, service: Service, spec: PortSpec, timeout: float
) -> Verdict:
    """wget first (the seeds' check), then a bare nc connect when wget cannot tell."""
    verdict = await _exec_probe(runtime, service, inside_argv(spec.port, spec.path),
                                timeout, judge_inside, on_timeout=None)
    if verdict[0] is not None:
        return verdict
    fallback = await _exec_probe(runtime, service, nc_argv(spec.port, timeout), timeout,
                                 judge_nc, on_timeout=True)
    return fallback if fallback[0] is not None else verdict


async def _exec_probe(
    runtime: Runtime,
    service: Service,
    argv: list[str],
    timeout: float,
    judge: Callable[[int, str], Verdict],
    on_timeout: bool | None,
) -> Verdict:
    """Run it as is, then through `busybox` (images with busybox but no applet links).

    A timeout means a connection was made and left open (a refusal is immediate on
    127.0.0.1), which for a bare connect is an answer.
    """
    for prefix in ((), ("busybox",)):
        try:
            result = await runtime.exec(service, [*prefix, *argv], timeout + 2)
        except TimeoutError:
            return on_timeout, f"{argv[0]} inside: no reply within {timeout + 2:g}s"
        except Exception as exc:  # the runtime's own error types; the reason is what matters
            first = str(exc).splitlines()[0] if str(exc) else repr(exc)
            return None, f"cannot probe inside: {first}"
        verdict = judge(result.exit_code, result.output)
        if verdict[1] != _MISSING:
            return verdict
    return None, f"cannot probe inside: no {argv[0]} in the container"


# --- facts -> finding -----------------------------------------------------------------------


@dataclass(frozen=True)
class PortFacts:
    """Everything observed about one port, before any judgement."""

    spec: PortSpec
    container: ContainerState | None  # None: no runtime to ask
    host_ok: bool
    host_error: str = ""
    inside_ok: bool | None = None
    inside_detail: str = ""
    other_addresses: tuple[str, ...] = ()  # where else the port answers or is bound
    owners: tuple[Owner, ...] = ()  # processes listening on the expected address (if seen)
    via_forwarder: str = ""  # one of our own forwarders listens there: its target


@dataclass(frozen=True)
class Finding:
    """One row of the diagnosis table; `to_dict()` is the stable JSON shape."""

    service: str
    port: int
    status: Status
    expected: str
    detail: str
    host_ok: bool | None = None
    inside_ok: bool | None = None
    actual_address: str | None = None
    owner: str | None = None
    container_id: str | None = None
    rule: ProxyRule | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["rule"] = asdict(self.rule) if self.rule else None
        return data


def classify(facts: PortFacts) -> Finding:
    """The rules, in order; see the module docstring."""
    spec = facts.spec
    base = Finding(spec.service, spec.port, "ok", spec.expected, "",
                   host_ok=facts.host_ok, inside_ok=facts.inside_ok,
                   container_id=_container_id(facts.container))
    if facts.host_ok:
        return _judge_listener(facts, base)
    if facts.other_addresses:
        actual = facts.other_addresses[0]
        return _replace(base, "wrong address",
                        f"silent on {spec.expected}, answers on {actual}:{spec.port}",
                        actual_address=actual)
    if facts.inside_ok:
        return _replace(base, "forwarding broken",
                        f"{facts.inside_detail}; host {spec.expected}: {facts.host_error}")
    return _replace(base, "service down", _down_reason(facts))


def _judge_listener(facts: PortFacts, base: Finding) -> Finding:
    container = facts.container
    owner_text = ", ".join(o.describe() for o in facts.owners) or "listener not visible"
    if facts.via_forwarder:
        return _replace(base, "ok", f"answers via forwarder -> {facts.via_forwarder}")
    ours = [o for o in facts.owners if o.is_vextrus_forwarder()]
    if ours:
        return _replace(base, "ok", f"answers via vextrus forwarder ({ours[0].describe()})",
                        owner=ours[0].describe())
    if container is not None and container.state != "running":
        state = "not created" if not container.present else container.state
        detail = f"{base.expected} answers, but {base.service} is {state}"
        return _replace(base, "port taken by another process", f"{detail}; {owner_text}",
                        owner=owner_text if facts.owners else None)
    if container is not None and facts.owners and not any(
        o.in_container(container.container_id) or o.is_docker_helper() for o in facts.owners
    ):
        return _replace(base, "port taken by another process",
                        f"listener {owner_text} is not {base.service}'s container",
                        owner=owner_text)
    return _replace(base, "ok", f"answers on {base.expected}" + (
        f" ({owner_text})" if facts.owners else ""), owner=owner_text if facts.owners else None)


def _down_reason(facts: PortFacts) -> str:
    container = facts.container
    if container is None:
        where = "no runtime to look inside"
    elif not container.present:
        where = "no container"
    elif container.state != "running":
        code = f" {container.exit_code}" if container.exit_code is not None else ""
        where = f"container {container.state}{code}"
    else:
        where = facts.inside_detail or "nothing answers inside"
    return f"host {facts.spec.expected}: {facts.host_error or 'no answer'}; {where}"


def _container_id(container: ContainerState | None) -> str | None:
    if container is None or not container.present:
        return None
    return container.container_id or container.container_name or None


def _replace(base: Finding, status: Status, detail: str, **changes: object) -> Finding:
    from dataclasses import replace

    return replace(base, status=status, detail=detail, **changes)  # type: ignore[arg-type]


# --- gathering the facts for one port ----------------------------------------------------


@dataclass(frozen=True)
class ProbeSettings:
    timeout: float = 1.0
    scan: tuple[str, ...] = SCAN_ADDRESSES


async def gather_facts(
    spec: PortSpec,
    service: Service,
    runtime: Runtime | None,
    container: ContainerState | None,
    snapshot: Snapshot,
    settings: ProbeSettings,
) -> PortFacts:
    """Host first; inside and the address scan only when the host gets no answer."""
    host_ok, host_error = await tcp_answers(spec.expected_host, spec.port, settings.timeout)
    if host_ok:
        owners = _expected_owners(spec, snapshot)
        return PortFacts(spec, container, True, owners=tuple(owners))
    others_task = asyncio.ensure_future(_other_addresses(spec, snapshot, settings))
    inside: tuple[bool | None, str] = (None, "")
    if runtime is not None and container is not None and container.state == "running":
        inside = await probe_inside(runtime, service, spec, settings.timeout)
    others = await others_task
    return PortFacts(spec, container, False, host_error, inside[0], inside[1], others)


def _expected_owners(spec: PortSpec, snapshot: Snapshot) -> list[Owner]:
    """Owners of sockets that accept connections for the expected address on this port.

    Empty when they cannot be seen: no /proc, another user's process, or a port Docker
    publishes through iptables with no listening process at all.
    """
    expected = "127.0.0.1" if spec.expected_host == "localhost" else spec.expected_host
    listening = [
        item for item in snapshot.on_port(spec.port)
        if item.address == expected or ipaddress.ip_address(item.address).is_unspecified
    ]
    return snapshot.owners_of(listening)


async def _other_addresses(
    spec: PortSpec, snapshot: Snapshot, settings: ProbeSettings
) -> tuple[str, ...]:
    """Loopback addresses that answer on the port, then other bindings /proc shows."""
    if not _is_loopback(spec.expected_host):
        return ()
    candidates = [a for a in settings.scan if a != spec.expected_host]
    answers = await asyncio.gather(
        *(tcp_answers(a, spec.port, settings.timeout) for a in candidates)
    )
    found = [a for a, (ok, _) in zip(candidates, answers, strict=True) if ok]
    for item in snapshot.on_port(spec.port):
        unspecified = ipaddress.ip_address(item.address).is_unspecified
        if item.address not in found and item.address != spec.expected_host and not unspecified:
            found.append(item.address)
    return tuple(found)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- stale rules -----------------------------------------------------------------------------


def owning_service(stack: Stack, port: int) -> str:
    for spec in port_specs(stack):
        if spec.port == port:
            return spec.service
    return "-"


async def check_rule(rule: ProxyRule, stack: Stack, timeout: float) -> Finding:
    """A netsh rule is stale when nothing answers at its connect address and port."""
    ok, error = await tcp_answers(rule.connect_address, rule.connect_port, timeout)
    return rule_finding(rule, stack, ok, error)


def rule_finding(rule: ProxyRule, stack: Stack, answers: bool, error: str = "") -> Finding:
    service = owning_service(stack, rule.listen_port)
    expected = f"{rule.listen_address}:{rule.listen_port}"
    if answers:
        return Finding(service, rule.listen_port, "ok", expected,
                       f"{rule.describe()}: target answers", rule=rule)
    return Finding(service, rule.listen_port, "stale rule", expected,
                   f"{rule.describe()}: target does not answer"
                   + (f" ({error})" if error else ""), rule=rule)


def summarize(findings: Sequence[Finding]) -> dict[str, int]:
    counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
    for finding in findings:
        counts[finding.status] += 1
    return counts
