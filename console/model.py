"""The stack model: what services exist, how to check them and what they depend on.

Plain frozen dataclasses, no I/O. The stack file loader (`console.stackfile`) builds these;
everything else (runtimes, probes, the status engine, actions, the UI) reads them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

CheckKind = Literal["http", "tcp", "postgres", "redis", "kafka", "temporal", "exec"]
CHECK_KINDS: tuple[str, ...] = ("http", "tcp", "postgres", "redis", "kafka", "temporal", "exec")
Where = Literal["host", "inside"]


@dataclass(frozen=True)
class HealthCheck:
    """One way of asking a service whether it is healthy.

    `where="host"` probes from the operator's machine (what users and other hosts see);
    `where="inside"` runs the probe inside the service's container through the runtime, the
    seeds' `docker exec ... wget -qO- http://127.0.0.1:PORT/health`. An http check run from
    the host is automatically repeated inside when the host cannot reach the service, which
    is how port-forwarding faults are told apart from dead services.
    """

    kind: CheckKind
    port: int | None = None
    host: str = "127.0.0.1"
    path: str = "/health"
    where: Where = "host"
    timeout: float = 2.0
    expect_status: int | None = None  # None: any 2xx/3xx
    command: tuple[str, ...] = ()  # for kind="exec"
    user: str | None = None  # postgres
    database: str | None = None  # postgres
    password_env: str | None = None  # name of the env var holding the password (never the value)
    namespace: str | None = None  # temporal
    task_queues: tuple[str, ...] = ()  # temporal: queues whose pollers are reported

    def describe(self) -> str:
        """A short human label, e.g. `http :3001/health` or `exec wget ...`."""
        if self.kind == "http":
            return f"http {self.host}:{self.port}{self.path}" + (
                " (inside)" if self.where == "inside" else ""
            )
        if self.kind == "exec":
            return "exec " + " ".join(self.command)
        return f"{self.kind} {self.host}:{self.port}"


@dataclass(frozen=True)
class RuntimeNames:
    """How each runtime names the service: compose service, k8s workload, local command."""

    compose: str | None = None
    k8s: str | None = None  # "deployment/NAME" or "statefulset/NAME" or plain NAME
    local: tuple[str, ...] = ()  # argv of a local process (local-process runtime)


Condition = Literal["service_started", "service_healthy", "service_completed_successfully"]
CONDITIONS: tuple[str, ...] = (
    "service_started", "service_healthy", "service_completed_successfully",
)


@dataclass(frozen=True)
class Dependency:
    """One `depends_on` edge with Compose's meaning.

    `condition`: what the dependency must be before the dependent may start (Compose's
    default and short syntax is `service_started`). `required=False`: a dependency that is
    missing or not up never blocks. `restart=True`: restarting the dependency restarts the
    dependent too. Stack-file edges without a declared condition mean "healthy", which is
    what the seeds' status matrix has always meant by a met dependency.
    """

    name: str
    condition: Condition = "service_healthy"
    required: bool = True
    restart: bool = False


@dataclass(frozen=True)
class ComposeSource:
    """Where a stack's model comes from when Compose is the engine of record.

    Exactly what `docker compose` is given: `-f` files, `--env-file`, `--profile`,
    `--project-directory` and `-p`. Paths are absolute once loaded.
    """

    files: tuple[str, ...]
    env_files: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    project_dir: str | None = None
    project: str | None = None


@dataclass(frozen=True)
class Service:
    """One service of the stack as the stack file declares it."""

    name: str
    tier: str = "core"
    phase: int = 0
    ports: tuple[int, ...] = ()
    checks: tuple[HealthCheck, ...] = ()
    depends_on: tuple[str, ...] = ()
    runtime: RuntimeNames = field(default_factory=RuntimeNames)
    description: str = ""
    environment: tuple[str, ...] = ()  # env var names the service needs (values never stored)
    edges: tuple[Dependency, ...] = ()  # conditions of `depends_on` (absent: healthy)
    oneshot: bool = False  # a job: exiting 0 is its success ("completed"), not a failure
    ready_when_running: bool = False  # Compose: nothing to verify, running is ready
    docker_healthcheck: bool = False  # Compose declares a healthcheck: Docker's verdict

    @property
    def compose_name(self) -> str:
        return self.runtime.compose or self.name

    def edge(self, dependency: str) -> Dependency:
        """The edge to `dependency`, with the stack file's default condition if undeclared."""
        for edge in self.edges:
            if edge.name == dependency:
                return edge
        return Dependency(dependency)


@dataclass(frozen=True)
class TemporalSettings:
    address: str = "127.0.0.1:7233"
    namespace: str = "vextrus"
    task_queues: tuple[str, ...] = ("vextrus-workflows",)
    tls: bool = False
    api_key_env: str | None = None


@dataclass(frozen=True)
class KubernetesSettings:
    """`[stack.kubernetes]`: where the stack runs on a cluster, and how careful to be there.

    `context` and `namespace` default to the kubeconfig's current context and its namespace;
    `label` is the label key that finds a workload whose name differs from the service's;
    contexts matching `production` (fnmatch) open read-only unless writes are allowed.
    """

    context: str | None = None
    namespace: str | None = None
    label: str = "app.kubernetes.io/name"
    production: str = "*prod*"


@dataclass(frozen=True)
class Stack:
    """The whole stack: services in file order plus stack-wide settings."""

    name: str
    services: tuple[Service, ...]
    project: str = "vextrus"  # compose project name (label com.docker.compose.project)
    tiers: tuple[str, ...] = ()  # display order of tiers
    phases: Mapping[int, str] = field(default_factory=dict)  # phase number -> label
    temporal: TemporalSettings | None = None
    source: str = "<bundled>"
    kubernetes: KubernetesSettings = field(default_factory=KubernetesSettings)
    compose: ComposeSource | None = None  # set when Compose is the engine of record

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {s.name: s for s in self.services})

    def service(self, name: str) -> Service:
        by_name: dict[str, Service] = self._by_name  # type: ignore[attr-defined]
        return by_name[name]

    def names(self) -> list[str]:
        return [s.name for s in self.services]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name  # type: ignore[attr-defined]

    def tier_order(self) -> list[str]:
        seen = list(self.tiers)
        for s in self.services:
            if s.tier not in seen:
                seen.append(s.tier)
        return seen

    def with_project(self, project: str) -> Stack:
        return Stack(
            name=self.name,
            services=self.services,
            project=project,
            tiers=self.tiers,
            phases=self.phases,
            temporal=self.temporal,
            source=self.source,
            kubernetes=self.kubernetes,
            compose=self.compose,
        )


# --- graph helpers ----------------------------------------------------------------------


def dependents_map(services: Iterable[Service]) -> dict[str, list[str]]:
    """Reverse edges: for each service, the services that depend on it directly."""
    out: dict[str, list[str]] = {}
    services = list(services)
    for s in services:
        out.setdefault(s.name, [])
    for s in services:
        for d in s.depends_on:
            out.setdefault(d, []).append(s.name)
    return out


def transitive(start: str, edges: Mapping[str, Iterable[str]]) -> list[str]:
    """Every node reachable from `start` along `edges`, breadth first, without `start`."""
    seen: list[str] = []
    frontier = list(edges.get(start, ()))
    while frontier:
        node = frontier.pop(0)
        if node in seen or node == start:
            continue
        seen.append(node)
        frontier.extend(edges.get(node, ()))
    return seen


def find_cycle(services: Iterable[Service]) -> list[str] | None:
    """Return one dependency cycle as a path (first node repeated at the end), or None."""
    deps = {s.name: list(s.depends_on) for s in services}
    white, grey, black = 0, 1, 2
    color = dict.fromkeys(deps, white)
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        color[node] = grey
        stack.append(node)
        for nxt in deps.get(node, []):
            if nxt not in color:
                continue
            if color[nxt] == grey:
                return [*stack[stack.index(nxt) :], nxt]
            if color[nxt] == white:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        color[node] = black
        return None

    for name in deps:
        if color[name] == white:
            found = visit(name)
            if found:
                return found
    return None


def topological_layers(services: Iterable[Service]) -> list[list[str]]:
    """Dependency layers: layer 0 has no dependencies, layer n depends only on layers < n.

    Assumes the graph is acyclic (the loader rejects cycles). Order inside a layer follows
    the stack file.
    """
    services = list(services)
    names = [s.name for s in services]
    deps = {s.name: [d for d in s.depends_on if d in names] for s in services}
    level: dict[str, int] = {}

    def depth(n: str) -> int:
        if n not in level:
            level[n] = 0 if not deps[n] else 1 + max(depth(d) for d in deps[n])
        return level[n]

    for n in names:
        depth(n)
    layers: list[list[str]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for n in names:
        layers[level[n]].append(n)
    return layers
