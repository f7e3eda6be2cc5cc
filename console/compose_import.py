"""A compose project as the console's model, and `import-compose` (the same, as a stack file).

The project is read by Compose itself (`console.compose`: `docker compose config --format
json`), so interpolation, `.env`, profiles, `extends` and `include` are Compose's; this
module turns Compose's resolved model into a `Stack`. Compose already knows the services,
their `depends_on`, healthchecks, published ports and environment; the console keeps what
it needs and drops the rest:

- environment: variable NAMES only. Compose files often hold literal passwords; a stack
  file never does (the secrets action finds them by name).
- depends_on: every edge keeps its Compose condition (`service_started` is the default),
  `required` and `restart`; a service another waits on with `service_completed_successfully`
  is a one-shot job (exiting 0 is its success).
- healthchecks: Docker runs them and its health status is the verdict; the console never
  re-runs them (some have side effects). A `wget`/`curl` of one plain-http URL on a port the
  host can reach (published, or host networking) also becomes a host `http` check, which
  tells "down" from "unreachable from the host"; one whose flags change the request
  (headers, auth, method, body) is left to Docker. No healthcheck at all: running is ready,
  as Compose's `service_started` has it.
- ports: the published host ports only; a container-only port is not the host's.
- tiers and phases are inferred from the dependency graph (phase = topological layer) and
  should be reviewed; the generated file says so.

The output is validated by `parse_stack` before it is returned, so it always loads.
"""

from __future__ import annotations

import difflib
import json
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import yaml

from console.bounded_yaml import load_yaml
from console.compose import (
    ENV_OVERRIDE,
    ComposeBinary,
    ComposeError,
    config_json,
    resolve_source,
)
from console.model import (
    CONDITIONS,
    ComposeSource,
    Dependency,
    HealthCheck,
    RuntimeNames,
    Service,
    Stack,
    find_cycle,
    topological_layers,
)
from console.stackfile import (
    ENV_NAME_RE,
    SERVICE_NAME_RE,
    StackFileError,
    dump_stack,
    parse_stack,
    read_text,
)

INFRA_IMAGES = (
    "postgres", "redis", "kafka", "zookeeper", "elasticsearch", "minio", "rabbitmq", "temporal",
)
HTTP_CLIENTS = ("wget", "curl")
MAX_INCLUDE_DEPTH = 5  # `include` chains followed by the pre-check
MAX_RANGE = 1000  # a port range longer than this is a typo, not a service

_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(us|ms|s|m|h)")
_DEFAULT_VAR_RE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}")
_SHELL_META = re.compile(r"[|&;<>`]|\$\(")
_ANY_ADDRESS = ("0.0.0.0", "::")  # noqa: S104 - published on all: loopback reaches it
# curl/wget flags that change the request itself: such a healthcheck is left to Docker.
_REQUEST_FLAGS = (
    "-H", "--header", "-u", "--user", "-X", "--request", "-d", "--data", "-F", "--form",
    "-b", "--cookie", "-e", "--referer", "-A", "--user-agent", "--oauth2-bearer", "-E",
    "--cert", "--post-data", "--post-file", "--method", "--body-data", "--body-file",
    "--http-user", "--http-password", "--password", "--load-cookies", "--unix-socket",
)
_EXIT_TAIL = re.compile(r"\s*\|\|\s*(exit(\s+\d+)?|false)\s*$")


def import_compose(path: str | Path) -> str:
    """Read a compose file through Compose and return stack-file TOML for it (validated)."""
    source = str(path)
    stack = load_compose_stack(ComposeSource(files=(source,)))
    header = (
        f"Stack file imported from {source} by vextrus-console import-compose.\n"
        "Tiers and phases are inferred from the dependency graph: review them.\n"
        "Environment lists variable names only; values stay in the compose file."
    )
    text = dump_stack(stack, header)
    parse_stack(text, source)  # the promise: whatever we write, we can load
    return text


def load_compose_stack(source: ComposeSource, binary: ComposeBinary | None = None) -> Stack:
    """The model of a compose project, as Compose resolves it; refusals are one line.

    A file Compose refuses (bad YAML, a missing env file, an unset required variable, an
    unknown dependency) raises StackFileError naming the first file and Compose's reason.
    A missing compose binary raises ComposeError.
    """
    resolved = resolve_source(source)
    label = resolved.files[0] if resolved.files else "compose"
    for path in resolved.files:
        _precheck(Path(path))  # bounded first: Compose would expand an alias bomb
    try:
        data = config_json(resolved, binary)
    except ComposeError as exc:
        if "not found: no docker compose plugin" in str(exc) or ENV_OVERRIDE in str(exc):
            raise
        raise StackFileError(label, str(exc).removeprefix(f"{label}: ")) from None
    stack = stack_from_compose(data, label)
    return replace(stack, compose=resolved)


def _precheck(path: Path, depth: int = 0) -> None:
    """Read the file (and the files it `include`s) with the bounded loader first.

    Compose has no limits of its own: an alias bomb costs it minutes and gigabytes. The
    bounded loader refuses one in milliseconds, and a syntax error gets its right line
    (Compose's YAML line numbers can be off).
    """
    if not path.exists():
        raise StackFileError(str(path), "compose file not found")
    data = _load_yaml(read_text(path, str(path)), str(path))
    if depth >= MAX_INCLUDE_DEPTH or not isinstance(data, dict):
        return
    for entry in data.get("include") or []:
        paths = entry.get("path") if isinstance(entry, dict) else entry
        for item in paths if isinstance(paths, list) else [paths]:
            if isinstance(item, str) and "$" not in item:
                included = path.parent / item
                if included.is_file():
                    _precheck(included, depth + 1)


def stack_from_compose(data: Any, source: str) -> Stack:
    """Build a Stack from parsed compose data; `source` names the file in errors."""
    if not isinstance(data, dict):
        raise StackFileError(source, f"not a compose file: expected a mapping at the top "
                             f"level, got {_yaml_type(data)}")
    raw_services = data.get("services")
    if not isinstance(raw_services, dict) or not raw_services:
        raise StackFileError(source, "not a compose file: no `services:` mapping")
    names = _service_names(raw_services, source)
    drafts = [_draft(source, names, key, raw) for key, raw in raw_services.items()]
    drafts = _mark_jobs(drafts)
    _reject_cycles(drafts, source)
    services = sorted(_place(drafts), key=lambda s: s.phase)  # Compose sorts by name
    project = _project_name(data, source)
    tiers = tuple(t for t in ("infrastructure", "core") if any(s.tier == t for s in services))
    phases = {i: f"layer {i}" for i in sorted({s.phase for s in services})}
    return Stack(name=project, services=tuple(services), project=project, tiers=tiers,
                 phases=phases, temporal=None, source=source)


# --- reading ----------------------------------------------------------------------------


class _ComposeLoader(yaml.SafeLoader):
    """SafeLoader that reads numbers as Compose (YAML 1.2) does.

    PyYAML follows YAML 1.1, where an unquoted `- 22:22` is the base-60 integer 1342;
    Compose reads it as the port mapping "22:22". Only the int/float resolvers differ.
    """


_INT, _FLOAT = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_ComposeLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_ComposeLoader.add_implicit_resolver(
    _INT, re.compile(r"^[-+]?(?:0|[1-9][0-9_]*|0x[0-9a-fA-F_]+|0o?[0-7_]+)$"), list("-+0123456789")
)
_ComposeLoader.add_implicit_resolver(
    _FLOAT,
    re.compile(r"^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)"
               r"|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."),
)


def _load_yaml(text: str, source: str) -> Any:
    """Parse like Compose; a syntax error becomes one line that keeps the line number."""
    try:
        return load_yaml(text, _ComposeLoader)  # bounded: aliases and nesting capped
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and context_mark is not None:
            hint = "; check the indentation" if "block" in context else ""
            problem += f" ({context} from line {context_mark.line + 1}{hint})"
        raise StackFileError(source, f"invalid YAML: {problem}", line) from None


def _yaml_type(value: Any) -> str:
    if value is None:
        return "an empty document"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def _project_name(data: Mapping[str, Any], source: str) -> str:
    """Compose's own rule: top-level `name:`, else the file's directory name, normalised."""
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        name = Path(source).resolve().parent.name
    project = re.sub(r"[^a-z0-9_-]+", "", name.lower()).lstrip("_-")
    return project or "stack"


def _service_names(raw_services: Mapping[str, Any], source: str) -> dict[str, str]:
    """Compose name -> stack name (lowercase, '-' for '_' and '.'); collisions are errors."""
    names: dict[str, str] = {}
    for key in raw_services:
        name = re.sub(r"[_.]+", "-", str(key).lower()).strip("-")
        if not SERVICE_NAME_RE.match(name):
            raise StackFileError(source, f"service {_q(str(key))}: not usable as a stack "
                                 "service name (letters, digits, '-', '_', '.'; at most 63)")
        if name in names.values():
            raise StackFileError(source, f"services {_q(_first_with(names, name))} and "
                                 f"{_q(str(key))} both become {_q(name)}")
        names[str(key)] = name
    return names


def _first_with(names: Mapping[str, str], value: str) -> str:
    return next(k for k, v in names.items() if v == value)


# --- one service --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Draft:
    """A service before its phase and tier are known (they need the whole graph)."""

    name: str
    image: str
    service: Service


def _draft(source: str, names: Mapping[str, str], key: str, raw: Any) -> _Draft:
    where = f"service {_q(key)}"
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise StackFileError(source, f"{where}: expected a mapping, got {_yaml_type(raw)}")
    image = raw.get("image") if isinstance(raw.get("image"), str) else ""
    edges = _depends_on(source, where, names, raw.get("depends_on") or [])
    ports = _ports(source, where, raw.get("ports") or [])
    host_net = raw.get("network_mode") == "host"
    checks = tuple(c for c in (_on_host(c, raw, host_net)
                               for c in _checks(source, where, raw.get("healthcheck")))
                   if c is not None)
    if host_net:  # no `ports:` with host networking: the healthcheck names the port
        ports += tuple(c.port for c in checks if c.port and c.port not in ports)
    docker_healthcheck = _has_healthcheck(raw.get("healthcheck"))
    service = Service(
        name=names[key],
        ports=ports,
        checks=checks,
        depends_on=tuple(e.name for e in edges),
        edges=edges,
        runtime=RuntimeNames(compose=key),
        description=f"image {image}" if image else "built from source",
        environment=_environment(source, where, raw.get("environment") or []),
        ready_when_running=not docker_healthcheck,
        docker_healthcheck=docker_healthcheck,
    )
    return _Draft(names[key], str(image), service)


def _depends_on(
    source: str, where: str, names: Mapping[str, str], raw: Any
) -> tuple[Dependency, ...]:
    """Both forms: a list of names (`service_started`), or name -> {condition, required,
    restart}, as Compose writes it."""
    if isinstance(raw, list):
        specs: dict[str, Any] = {str(d): None for d in raw}
    elif isinstance(raw, dict):
        specs = {str(k): v for k, v in raw.items()}
    else:
        raise StackFileError(source, f"{where}: depends_on: expected a list or a mapping")
    out: dict[str, Dependency] = {}
    for dep, spec in specs.items():
        if dep not in names and isinstance(spec, dict) and spec.get("required") is False:
            continue  # e.g. a service of a profile not enabled: Compose does without it
        if dep not in names:
            hint = _did_you_mean(dep, names)
            raise StackFileError(source, f"{where}: depends_on: unknown service {_q(dep)}{hint}")
        edge = _edge(source, f"{where}: depends_on.{dep}", names[dep], spec)
        out.setdefault(edge.name, edge)
    return tuple(out.values())


def _edge(source: str, where: str, name: str, spec: Any) -> Dependency:
    """One edge; a misspelt condition is the user's typo, said as such."""
    spec = {} if spec is None else spec
    if not isinstance(spec, dict):
        spec = {"condition": spec}
    condition = spec.get("condition", "service_started")
    if condition not in CONDITIONS:
        raise StackFileError(source, f"{where}: condition {_q(str(condition))} is not one of "
                             f"{', '.join(CONDITIONS)}")
    return Dependency(name, condition, bool(spec.get("required", True)),
                      bool(spec.get("restart", False)))


def _mark_jobs(drafts: list[_Draft]) -> list[_Draft]:
    """A service some other waits on with `service_completed_successfully` is a job."""
    jobs = {e.name for d in drafts for e in d.service.edges
            if e.condition == "service_completed_successfully"}
    return [replace(d, service=replace(d.service, oneshot=True)) if d.name in jobs else d
            for d in drafts]


def _did_you_mean(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {_q(close[0])}?)" if close else ""


def _q(text: str) -> str:
    """Quote like the stack-file loader does, so both read the same."""
    return json.dumps(text, ensure_ascii=False)


def _environment(source: str, where: str, raw: Any) -> tuple[str, ...]:
    """Names only, from `- NAME=value` / `- NAME` lists or `NAME: value` mappings."""
    if isinstance(raw, dict):
        keys = [str(k) for k in raw]
    elif isinstance(raw, list):
        keys = [str(item).split("=", 1)[0] for item in raw]
    else:
        raise StackFileError(source, f"{where}: environment: expected a list or a mapping")
    out: list[str] = []
    for key in keys:
        key = key.strip()
        if not ENV_NAME_RE.match(key):
            raise StackFileError(source, f"{where}: environment: {_q(key)} is not a variable name")
        if key not in out:
            out.append(key)
    return tuple(out)


# --- ports ----------------------------------------------------------------------------------


def _ports(source: str, where: str, raw: Any) -> tuple[int, ...]:
    """Host ports of short ("8080:80", "127.0.0.1:8080:80", "9000", ranges) and long syntax."""
    if not isinstance(raw, list):
        raise StackFileError(source, f"{where}: ports: expected a list")
    out: list[int] = []
    for item in raw:
        try:
            ports = _long_port(item) if isinstance(item, dict) else _short_port(str(item))
        except ValueError as exc:
            raise StackFileError(source, f"{where}: ports: {_q(str(item))}: {exc}") from None
        out.extend(p for p in ports if p not in out)
    return tuple(out)


def _short_port(spec: str) -> list[int]:
    """`[IP:][HOST:]CONTAINER[/PROTO]`; no HOST part means Compose picks a random host port,
    so the container port is recorded (the best guess an operator would make too)."""
    spec = _DEFAULT_VAR_RE.sub(r"\1", spec.strip()).split("/", 1)[0]
    if spec.startswith("["):  # [::1]:8080:80
        spec = spec.split("]", 1)[1].lstrip(":")
    parts = spec.split(":")
    if len(parts) > 3:
        raise ValueError("expected [IP:][HOST_PORT:]CONTAINER_PORT")
    container = parts[-1]
    host = parts[-2] if len(parts) >= 2 else ""
    if host and not re.fullmatch(r"[\d-]+", host):
        host = ""  # an unresolved ${VAR}: fall back to the container port
    return _port_range(host or container)


def _long_port(spec: Mapping[str, Any]) -> list[int]:
    """`{target: 80, published: 8080}` (Compose's own form); `published` may be a range.

    Without `published` the port is the container's only (or Compose picks a random host
    port at creation): nothing on the host to record.
    """
    if "target" not in spec:
        raise ValueError("long syntax needs `target`")
    published = spec.get("published")
    if published in (None, ""):
        return []
    return _port_range(_DEFAULT_VAR_RE.sub(r"\1", str(published)))


def _port_range(text: str) -> list[int]:
    low_text, _, high_text = text.partition("-")
    try:
        low = int(low_text)
        high = int(high_text) if high_text else low
    except ValueError:
        raise ValueError(f"{_q(text)} is not a port number") from None
    if not 1 <= low <= high <= 65535:
        raise ValueError(f"{text} is outside 1-65535")
    if high - low >= MAX_RANGE:
        raise ValueError(f"range {text} is longer than {MAX_RANGE} ports")
    return list(range(low, high + 1))


# --- healthchecks ---------------------------------------------------------------------------


def _has_healthcheck(raw: Any) -> bool:
    """Docker runs a healthcheck for this service (declared, not disabled, not NONE)."""
    if not isinstance(raw, dict) or raw.get("disable") is True or "test" not in raw:
        return False
    test = raw["test"]
    return not (isinstance(test, list) and test and str(test[0]) == "NONE")


def _on_host(check: HealthCheck, raw: Mapping[str, Any], host_net: bool) -> HealthCheck | None:
    """The healthcheck's URL as a host probe, where the host can reach that port at all.

    Host networking: the same port on the host. Otherwise the port published for the URL's
    container port; a container-only port stays Docker's to check (inside, by its own
    healthcheck), so no host probe is made for it.
    """
    if check.kind != "http" or check.port is None:
        return check
    if host_net:
        return replace(check, where="host")
    for spec in raw.get("ports") or []:
        if isinstance(spec, dict) and str(spec.get("target")) == str(check.port):
            published = str(spec.get("published") or "")
            if published.isdigit():
                ip = str(spec.get("host_ip") or "")
                host = ip if ip and ip not in _ANY_ADDRESS else "127.0.0.1"
                return replace(check, where="host", host=host, port=int(published))
    return None


def _checks(source: str, where: str, raw: Any) -> tuple[HealthCheck, ...]:
    """A compose healthcheck as an http check when it is one plain GET of one URL.

    Anything else (CMD-SHELL scripts, other clients) is Docker's to run: no check.
    """
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise StackFileError(source, f"{where}: healthcheck: expected a mapping")
    if raw.get("disable") is True or "test" not in raw:
        return ()
    try:
        timeout = _duration(raw.get("timeout"))
        test = _test_command(raw["test"])
    except ValueError as exc:
        raise StackFileError(source, f"{where}: healthcheck: {exc}") from None
    if test is None:
        return ()
    command, shell = test
    check = _http_check(command, shell, timeout)
    return (check,) if check is not None else ()


def _test_command(test: Any) -> tuple[tuple[str, ...], bool] | None:
    """`test` as (command, is_shell); None for ["NONE"].

    Forms: ["CMD", argv...], ["CMD-SHELL", "text"], and a plain string (= CMD-SHELL).
    A shell command is kept as one string: it is run by `sh -c`, exactly as Docker does.
    """
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    if not isinstance(test, list) or not test:
        raise ValueError("test: expected a string or a list")
    head, rest = str(test[0]), tuple(str(x) for x in test[1:])
    if head == "NONE":
        return None
    if head not in ("CMD", "CMD-SHELL"):
        raise ValueError(f"test: must start with CMD, CMD-SHELL or NONE, not {_q(head)}")
    if not "".join(rest).strip():
        raise ValueError(f"test: {head} needs a command")
    return (rest, False) if head == "CMD" else ((" ".join(rest),), True)


def _http_check(command: tuple[str, ...], shell: bool, timeout: float) -> HealthCheck | None:
    """One wget/curl of one plain-http URL -> an inside http check; anything else -> None.

    A pipeline or a second command means more than "is this URL up", so it stays exec.
    """
    argv = list(command)
    if shell:
        stripped = _EXIT_TAIL.sub("", command[0])
        if _SHELL_META.search(stripped):
            return None
        try:
            argv = shlex.split(stripped)
        except ValueError:
            return None
    if not argv or PurePosixPath(argv[0]).name not in HTTP_CLIENTS:
        return None
    if any(_changes_request(a) for a in argv[1:]):
        return None  # headers, auth, a method or a body: not the GET a probe sends
    urls = [a for a in argv[1:] if re.match(r"(?i)[a-z][a-z0-9+.-]*://", a)]
    if len(urls) != 1:
        return None
    try:
        parts = urlsplit(urls[0])
        port = parts.port or 80
    except ValueError:
        return None  # e.g. an uninterpolated ${PORT}
    if parts.scheme != "http" or not parts.hostname:
        return None  # https cannot be expressed as an http check
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return HealthCheck(kind="http", port=port, host=parts.hostname, path=path,
                       where="inside", timeout=timeout)


def _changes_request(arg: str) -> bool:
    flag = arg.split("=", 1)[0]
    if flag in _REQUEST_FLAGS or flag.startswith("--data"):
        return True
    # curl's bundled short flags (`-sfH`, `-XPOST`): any request-changing letter counts
    if re.fullmatch(r"-[A-Za-z]+", flag) and len(flag) > 2:
        return any(f"-{letter}" in _REQUEST_FLAGS for letter in flag[1:])
    return False


def _duration(raw: Any) -> float:
    """Compose durations ("10s", "1m30s", "500ms") in seconds; absent -> the check default."""
    if raw is None:
        return HealthCheck(kind="tcp").timeout
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        seconds = float(raw)
    else:
        text = str(raw).strip()
        found = _DURATION_RE.findall(text)
        if not found or "".join(n + u for n, u in found) != text:
            raise ValueError(f"timeout {_q(text)} is not a duration like 10s or 1m30s")
        scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
        seconds = sum(float(n) * scale[u] for n, u in found)
    if seconds <= 0:
        raise ValueError("timeout must be > 0")
    return seconds


# --- the graph ------------------------------------------------------------------------------


def _reject_cycles(drafts: list[_Draft], source: str) -> None:
    cycle = find_cycle(d.service for d in drafts)
    if cycle:
        raise StackFileError(source, f"depends_on: dependency cycle: {' -> '.join(cycle)}")


def _place(drafts: list[_Draft]) -> list[Service]:
    """Phase = dependency layer; tier = infrastructure for infra images whose deps are too.

    (Kafka depends on ZooKeeper and Temporal on PostgreSQL, and they are still
    infrastructure, so "no dependencies" alone would be too strict.)
    """
    layers = topological_layers(d.service for d in drafts)
    phase = {name: i for i, layer in enumerate(layers) for name in layer}
    tier: dict[str, str] = {}
    for layer in layers:
        for name in layer:
            draft = next(d for d in drafts if d.name == name)
            infra = _looks_like_infra(draft.image) and all(
                tier[dep] == "infrastructure" for dep in draft.service.depends_on
            )
            tier[name] = "infrastructure" if infra else "core"
    return [replace(d.service, tier=tier[d.name], phase=phase[d.name]) for d in drafts]


def _looks_like_infra(image: str) -> bool:
    """`confluentinc/cp-kafka:7.5.3`, `bitnami/postgresql`, `temporalio/auto-setup`, ..."""
    repository = image.lower().rsplit("@", 1)[0]
    if ":" in repository.rsplit("/", 1)[-1]:
        repository = repository.rsplit(":", 1)[0]
    return any(word in repository for word in INFRA_IMAGES)


