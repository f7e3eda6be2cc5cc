"""The stack-file format: every table and key checked, with the rules in one place.

`parse_stack` is the whole reading: TOML, then [stack], [services.*] and their checks,
then dependencies (unknown names, cycles) and phase order. The format is documented in
`docs/stack-file.md`.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, cast

from console.model import (
    CHECK_KINDS,
    CheckKind,
    ComposeSource,
    HealthCheck,
    KubernetesSettings,
    RuntimeNames,
    Service,
    Stack,
    TemporalSettings,
    Where,
    find_cycle,
)
from console.stackfile.errors import Path_, describe_value, did_you_mean, quoted
from console.stackfile.locate import Locator, load_toml
from console.stackfile.reader import Reader

SERVICE_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
PROJECT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_HOST_LABEL_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")

TOP_KEYS = ("stack", "services")
STACK_KEYS = ("name", "project", "tiers", "phases", "temporal", "kubernetes", "compose")
COMPOSE_KEYS = ("files", "env_files", "profiles", "project_directory")
KUBERNETES_KEYS = ("context", "namespace", "label", "production")
# A namespace is a DNS-1123 label; a label key is an optional DNS prefix and a name.
K8S_NAMESPACE_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
K8S_LABEL_KEY_RE = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
TEMPORAL_KEYS = ("address", "namespace", "task_queues", "tls", "api_key_env")
SERVICE_KEYS = (
    "tier", "phase", "ports", "depends_on", "description", "environment", "checks", "runtime",
)
CHECK_KEYS = tuple(f.name for f in fields(HealthCheck))
RUNTIME_KEYS = ("compose", "k8s", "local")
K8S_KINDS = ("deployment", "statefulset")
WHERES = ("host", "inside")

# Check fields that only mean something for some kinds: a `path` on a tcp check is a
# mistake (the author meant http), not something to ignore silently.
_FIELD_KINDS: dict[str, tuple[str, ...]] = {
    "path": ("http",),
    "expect_status": ("http",),
    "command": ("exec",),
    "user": ("postgres",),
    "database": ("postgres",),
    "password_env": ("postgres", "redis"),
    "namespace": ("temporal",),
    "task_queues": ("temporal",),
}


def parse_stack(text: str, source: str) -> Stack:
    """Parse and validate stack-file text; `source` names the file in messages."""
    data = load_toml(text, source)
    r = Reader(source, Locator(text))
    r.known_keys((), data, TOP_KEYS)
    settings = _parse_stack_table(r, data.get("stack", {}), source)
    if settings.compose is not None and "services" not in data:
        data = {**data, "services": {}}  # the compose project declares them
    services = _parse_services(r, data, settings.tiers, settings.compose is not None)
    if settings.compose is None:
        _check_dependencies(r, services)  # with Compose: checked once merged with its model
    return Stack(
        name=settings.name,
        services=tuple(services),
        project=settings.project,
        tiers=settings.tiers,
        phases=settings.phases,
        temporal=settings.temporal,
        source=source,
        kubernetes=settings.kubernetes,
        compose=settings.compose,
    )



# --- [stack] --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Settings:
    name: str
    project: str
    tiers: tuple[str, ...]
    phases: dict[int, str]
    temporal: TemporalSettings | None
    kubernetes: KubernetesSettings = field(default_factory=KubernetesSettings)
    compose: ComposeSource | None = None


def _parse_stack_table(r: Reader, raw: Any, source: str) -> _Settings:
    """[stack]: optional; a file without it is named after the file."""
    path: Path_ = ("stack",)
    table = r.table(path, raw)
    r.known_keys(path, table, STACK_KEYS)
    default_name = Path(source).stem.strip("<>") or "stack"
    name = r.string((*path, "name"), table.get("name", default_name))
    default_project = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-_") or "stack"
    project = r.string((*path, "project"), table.get("project", default_project))
    if not PROJECT_RE.match(project):
        r.fail((*path, "project"), f"{quoted(project)} is not a valid compose project name "
               "(lowercase letters, digits, '-' and '_', starting with a letter or digit)")
    tiers = r.strings((*path, "tiers"), table.get("tiers", []))
    _no_duplicates(r, (*path, "tiers"), tiers, "tier")
    phases = _parse_phases(r, table.get("phases", {}))
    temporal = None
    if "temporal" in table:
        temporal = _parse_temporal(r, table["temporal"])
    kubernetes = _parse_kubernetes(r, table.get("kubernetes", {}))
    compose = _parse_compose(r, table["compose"], source) if "compose" in table else None
    return _Settings(name, project, tiers, phases, temporal, kubernetes, compose)


def _parse_compose(r: Reader, raw: Any, source: str) -> ComposeSource:
    """[stack.compose]: the compose project this stack file adds to (paths relative to it)."""
    path: Path_ = ("stack", "compose")
    table = r.table(path, raw)
    r.known_keys(path, table, COMPOSE_KEYS)
    files = r.strings((*path, "files"), table.get("files", []))
    if not files:
        r.fail((*path, "files"), "name at least one compose file, e.g. [\"compose.yaml\"]")
    base = Path(source).parent if not source.startswith("<") else Path.cwd()

    def here(p: str) -> str:
        return str(base / p) if not Path(p).is_absolute() else p

    project_dir = None
    if "project_directory" in table:
        project_dir = here(r.string((*path, "project_directory"), table["project_directory"]))
    return ComposeSource(
        files=tuple(here(f) for f in files),
        env_files=tuple(here(f) for f in r.strings((*path, "env_files"),
                                                    table.get("env_files", []))),
        profiles=r.strings((*path, "profiles"), table.get("profiles", [])),
        project_dir=project_dir,
    )


def _parse_kubernetes(r: Reader, raw: Any) -> KubernetesSettings:
    """[stack.kubernetes]: context, namespace, workload label key, production pattern."""
    path: Path_ = ("stack", "kubernetes")
    table = r.table(path, raw)
    r.known_keys(path, table, KUBERNETES_KEYS)
    defaults = KubernetesSettings()
    context = r.string((*path, "context"), table["context"]) if "context" in table else None
    namespace = None
    if "namespace" in table:
        namespace = r.string((*path, "namespace"), table["namespace"])
        if not K8S_NAMESPACE_RE.match(namespace):
            r.fail((*path, "namespace"), f"{quoted(namespace)} is not a valid namespace "
                   "(lowercase letters, digits and '-', at most 63, e.g. \"vextrus\")")
    label = r.string((*path, "label"), table.get("label", defaults.label))
    if not K8S_LABEL_KEY_RE.match(label):
        r.fail((*path, "label"), f"{quoted(label)} is not a valid label key "
               "(e.g. \"app.kubernetes.io/name\" or \"app\")")
    production = r.string((*path, "production"), table.get("production", defaults.production))
    return KubernetesSettings(context, namespace, label, production)


def _parse_phases(r: Reader, raw: Any) -> dict[int, str]:
    """[stack.phases]: TOML keys are strings, so "0" = "infrastructure" becomes {0: ...}."""
    path: Path_ = ("stack", "phases")
    table = r.table(path, raw)
    phases: dict[int, str] = {}
    for key, label in table.items():
        if not re.fullmatch(r"\d+", key):
            r.fail((*path, key), f"phase {quoted(key)} must be a whole number >= 0")
        phases[int(key)] = r.string((*path, key), label)
    return dict(sorted(phases.items()))


def _parse_temporal(r: Reader, raw: Any) -> TemporalSettings:
    path: Path_ = ("stack", "temporal")
    table = r.table(path, raw)
    r.known_keys(path, table, TEMPORAL_KEYS)
    defaults = TemporalSettings()
    address = r.string((*path, "address"), table.get("address", defaults.address))
    _check_address(r, (*path, "address"), address)
    tls = table.get("tls", defaults.tls)
    if not isinstance(tls, bool):
        r.fail((*path, "tls"), f"expected true or false, got {describe_value(tls)}")
    api_key_env = None
    if "api_key_env" in table:
        api_key_env = r.env_name((*path, "api_key_env"), table["api_key_env"])
    return TemporalSettings(
        address=address,
        namespace=r.string((*path, "namespace"), table.get("namespace", defaults.namespace)),
        task_queues=r.strings(
            (*path, "task_queues"), table.get("task_queues", list(defaults.task_queues))
        ),
        tls=tls,
        api_key_env=api_key_env,
    )


def _check_address(r: Reader, path: Path_, address: str) -> None:
    """`host:port`, the form the Temporal client takes."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        r.fail(path, f"{quoted(address)} must be host:port, e.g. \"127.0.0.1:7233\"")
    if not _valid_host(host.strip("[]")):
        r.fail(path, f"{quoted(host)} is not a valid IP address or hostname")
    if not 1 <= int(port) <= 65535:
        r.fail(path, f"port {port} is outside 1-65535")


def _no_duplicates(r: Reader, path: Path_, items: Iterable[Any], what: str) -> None:
    seen: set[Any] = set()
    for i, item in enumerate(items):
        if item in seen:
            r.fail((*path, i), f"{what} {quoted(str(item))} is listed twice")
        seen.add(item)


# --- [services] ---------------------------------------------------------------------------


def _parse_services(
    r: Reader, data: Mapping[str, Any], tiers: tuple[str, ...], overlay: bool = False
) -> list[Service]:
    if "services" not in data:
        r.fail((), "no [services] table: a stack file must declare at least one service")
    table = r.table(("services",), data["services"])
    if not table and not overlay:
        r.fail(("services",), "[services] is empty: declare at least one service")
    return [_parse_service(r, name, raw, tiers) for name, raw in table.items()]


def _parse_service(r: Reader, name: str, raw: Any, tiers: tuple[str, ...]) -> Service:
    path: Path_ = ("services", name)
    if not SERVICE_NAME_RE.match(name):
        r.fail(path, "invalid service name: use lowercase letters, digits and '-', "
               "starting with a letter or digit, at most 63 characters")
    table = r.table(path, raw)
    r.known_keys(path, table, SERVICE_KEYS)
    tier = r.string((*path, "tier"), table.get("tier", "core"))
    if tiers and tier not in tiers:
        r.fail((*path, "tier"), f"unknown tier {quoted(tier)}{did_you_mean(tier, tiers)} "
               f"(stack.tiers: {', '.join(tiers)})")
    ports = tuple(
        r.integer((*path, "ports", i), p, 1, 65535, "port")
        for i, p in enumerate(r.array((*path, "ports"), table.get("ports", [])))
    )
    _no_duplicates(r, (*path, "ports"), ports, "port")
    depends_on = r.strings((*path, "depends_on"), table.get("depends_on", []))
    _no_duplicates(r, (*path, "depends_on"), depends_on, "dependency")
    environment = tuple(
        r.env_name((*path, "environment", i), e)
        for i, e in enumerate(r.array((*path, "environment"), table.get("environment", [])))
    )
    return Service(
        name=name,
        tier=tier,
        phase=r.integer((*path, "phase"), table.get("phase", 0), 0, None, "phase"),
        ports=ports,
        checks=_parse_checks(r, path, table.get("checks", [])),
        depends_on=depends_on,
        runtime=_parse_runtime(r, (*path, "runtime"), table.get("runtime", {})),
        description=r.string((*path, "description"), table.get("description", ""), False),
        environment=environment,
    )


def _parse_runtime(r: Reader, path: Path_, raw: Any) -> RuntimeNames:
    table = r.table(path, raw)
    r.known_keys(path, table, RUNTIME_KEYS)
    compose = r.string((*path, "compose"), table["compose"]) if "compose" in table else None
    k8s = r.string((*path, "k8s"), table["k8s"]) if "k8s" in table else None
    if k8s and "/" in k8s:
        kind = k8s.split("/", 1)[0]
        if kind not in K8S_KINDS:
            hint = did_you_mean(kind, K8S_KINDS)
            r.fail((*path, "k8s"), f"unknown workload kind {quoted(kind)}{hint} "
                   "(use deployment/NAME, statefulset/NAME or a plain NAME)")
    local = r.strings((*path, "local"), table.get("local", []))
    return RuntimeNames(compose=compose, k8s=k8s, local=local)


# --- checks ---------------------------------------------------------------------------------


def _parse_checks(r: Reader, service_path: Path_, raw: Any) -> tuple[HealthCheck, ...]:
    path = (*service_path, "checks")
    items = r.array(path, raw)
    return tuple(_parse_check(r, (*path, i), item) for i, item in enumerate(items))


def _parse_check(r: Reader, path: Path_, raw: Any) -> HealthCheck:
    """One health check; every field is checked against its kind so typos fail early."""
    table = r.table(path, raw)
    r.known_keys(path, table, CHECK_KEYS)
    kind = _check_kind(r, path, table)
    for key, kinds in _FIELD_KINDS.items():
        if key in table and kind not in kinds:
            r.fail((*path, key), f"applies to {' and '.join(kinds)} checks only, "
                   f"not to a {kind} check")
    port = _check_port(r, path, table, kind)
    defaults = HealthCheck(kind=kind)
    return HealthCheck(
        kind=kind,
        port=port,
        host=_check_host(r, (*path, "host"), table.get("host", defaults.host)),
        path=_check_path(r, (*path, "path"), table.get("path", defaults.path)),
        where=_check_where(r, (*path, "where"), table.get("where", default_where(kind))),
        timeout=_check_timeout(r, (*path, "timeout"), table.get("timeout", defaults.timeout)),
        expect_status=_optional_status(r, (*path, "expect_status"), table.get("expect_status")),
        command=_check_command(r, path, table, kind),
        user=_optional_str(r, (*path, "user"), table.get("user")),
        database=_optional_str(r, (*path, "database"), table.get("database")),
        password_env=_optional_env(r, (*path, "password_env"), table.get("password_env")),
        namespace=_optional_str(r, (*path, "namespace"), table.get("namespace")),
        task_queues=r.strings((*path, "task_queues"), table.get("task_queues", [])),
    )


def default_where(kind: str) -> str:
    """An exec check runs a command inside the container, so that is where it lives."""
    return "inside" if kind == "exec" else "host"


def _check_kind(r: Reader, path: Path_, table: Mapping[str, Any]) -> CheckKind:
    if "kind" not in table:
        r.fail(path, f"check has no kind (one of: {', '.join(CHECK_KINDS)})")
    kind = r.string((*path, "kind"), table["kind"])
    if kind not in CHECK_KINDS:
        hint = did_you_mean(kind, CHECK_KINDS) or f" (one of: {', '.join(CHECK_KINDS)})"
        r.fail((*path, "kind"), f"unknown check kind {quoted(kind)}{hint}")
    return cast(CheckKind, kind)


def _check_port(r: Reader, path: Path_, table: Mapping[str, Any], kind: str) -> int | None:
    """Every kind but exec connects somewhere, so it needs a port."""
    if "port" not in table:
        if kind == "exec":
            return None
        r.fail(path, f"{kind} check has no port")
    return r.integer((*path, "port"), table["port"], 1, 65535, "port")


def _check_host(r: Reader, path: Path_, value: Any) -> str:
    host = r.string(path, value)
    if not _valid_host(host):
        r.fail(path, f"{quoted(host)} is not a valid IP address or hostname")
    return host


def _valid_host(host: str) -> bool:
    """An IP address (v4 or v6) or an RFC 1123 hostname such as localhost or kafka.internal."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    if not host or len(host) > 253 or re.fullmatch(r"[\d.]+", host):
        return False  # all-digit "hostnames" are mistyped IPs
    return all(_HOST_LABEL_RE.match(label) for label in host.rstrip(".").split("."))


def _check_path(r: Reader, path: Path_, value: Any) -> str:
    text = r.string(path, value)
    if not text.startswith("/"):
        r.fail(path, f"{quoted(text)} must start with \"/\"")
    if any(c.isspace() for c in text):
        r.fail(path, f"{quoted(text)} must not contain spaces")
    return text


def _check_where(r: Reader, path: Path_, value: Any) -> Where:
    where = r.string(path, value)
    if where not in WHERES:
        r.fail(path, f"{quoted(where)} must be \"host\" or \"inside\"")
    return cast(Where, where)


def _check_timeout(r: Reader, path: Path_, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        r.fail(path, f"expected seconds (a number > 0), got {describe_value(value)}")
    if not math.isfinite(value) or value <= 0:
        r.fail(path, f"must be > 0 seconds, got {value}")
    return float(value)


def _check_command(
    r: Reader, path: Path_, table: Mapping[str, Any], kind: str
) -> tuple[str, ...]:
    if kind != "exec":
        return ()
    if "command" not in table:
        r.fail(path, "exec check has no command")
    command = r.strings((*path, "command"), table["command"])
    if not command:
        r.fail((*path, "command"), "must not be empty")
    return command


def _optional_status(r: Reader, path: Path_, value: Any) -> int | None:
    return None if value is None else r.integer(path, value, 100, 599, "HTTP status")


def _optional_str(r: Reader, path: Path_, value: Any) -> str | None:
    return None if value is None else r.string(path, value)


def _optional_env(r: Reader, path: Path_, value: Any) -> str | None:
    return None if value is None else r.env_name(path, value)


# --- dependencies ---------------------------------------------------------------------------


def _check_dependencies(r: Reader, services: list[Service]) -> None:
    """Unknown names and self-loops first (clearest), then cycles, then phase order."""
    names = [s.name for s in services]
    for s in services:
        for i, dep in enumerate(s.depends_on):
            path: Path_ = ("services", s.name, "depends_on", i)
            if dep == s.name:
                r.fail(path, f"{quoted(dep)} depends on itself")
            if dep not in names:
                r.fail(path, f"unknown dependency {quoted(dep)}{did_you_mean(dep, names)}")
    cycle = find_cycle(services)
    if cycle:
        first = cycle[0]
        r.fail(("services", first, "depends_on"), f"dependency cycle: {' -> '.join(cycle)}")
    _check_phase_order(r, services)


def _check_phase_order(r: Reader, services: list[Service]) -> None:
    """A phased bring-up starts phase by phase: a dependency in a later phase would block it."""
    phase = {s.name: s.phase for s in services}
    for s in services:
        for i, dep in enumerate(s.depends_on):
            if phase[dep] > s.phase:
                r.fail(("services", s.name, "depends_on", i),
                       f"{quoted(dep)} starts in phase {phase[dep]}, after this service "
                       f"(phase {s.phase}); a dependency must be in the same or an earlier phase")
