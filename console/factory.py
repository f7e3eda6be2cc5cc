"""The one place that builds the console's context: stack, runtime, journal, monitor.

The CLI and the tests both come through here (and `ui.factory.build_app` for the App on
top), so what the tests exercise is what operators run. Backends are chosen by name and
injected; nothing below this module picks its own.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from console.journal import Journal, default_state_dir
from console.model import Stack
from console.monitor import Monitor, now_utc
from console.runtime.base import Runtime
from console.runtime.capabilities import WriteGuarded
from console.stackfile import StackFileError

if TYPE_CHECKING:
    from console.temporal.types import WorkflowsBackend

RUNTIMES = ("docker", "local", "kubernetes", "none")


class ConfigError(Exception):
    """A bad config file or option; str() is one line naming the file and field."""


@dataclass
class Options:
    """What the CLI parsed (or a test chose)."""

    stack_path: str | None = None
    project: str | None = None
    runtime: str = "docker"
    docker_host: str | None = None
    read_only: bool = False
    theme: str | None = None
    state_dir: str | None = None
    config_path: str | None = None
    kube_context: str | None = None  # kubernetes: --context (default: stack file, kubeconfig)
    namespace: str | None = None  # kubernetes: --namespace
    kubeconfig: str | None = None  # kubernetes: --kubeconfig (default: KUBECONFIG, ~/.kube)
    allow_writes: bool = False  # kubernetes: writes on a production context (typed confirm)
    compose_files: tuple[str, ...] = ()  # --compose (repeatable): the compose project
    env_files: tuple[str, ...] = ()  # --env-file, given to Compose
    profiles: tuple[str, ...] = ()  # --profile, given to Compose


@dataclass
class AppContext:
    """Everything the App and the headless commands need, built once."""

    stack: Stack
    runtime: Runtime | None
    monitor: Monitor
    journal: Journal | None
    read_only: bool = False
    theme: str = "vextrus-dark"
    clock: Callable[[], datetime] = now_utc
    keymap: dict[str, str] = field(default_factory=dict)
    bringup_timeout: float = 120.0  # seconds per service to become healthy (config [bringup])
    compose_path: str | None = None  # the compose file secrets act on (None: the cwd's)
    read_only_reason: str = ""  # why read-only was forced (a production context), or ""
    confirm_word: str | None = None  # typed out before every write (a production context)
    workflows: WorkflowsBackend | None = None  # Temporal ([stack.temporal]); None: no Temporal
    # The fallback poll's period in seconds, and whether its timer runs at all. Without the
    # timer, refreshes come only from runtime events and explicit requests: tests drive them,
    # so on a slow machine the App's own poll cannot race a test's refresh.
    poll_seconds: float = 5.0
    auto_poll: bool = True


def build_runtime(
    kind: str, stack: Stack, docker_host: str | None = None, opts: Options | None = None
) -> Runtime | None:
    """Pick the runtime backend by name. Heavy clients are imported only when chosen."""
    if kind == "kubernetes":
        from console.runtime.kubernetes.runtime import build_kubernetes_runtime

        o = opts or Options()
        return build_kubernetes_runtime(stack.kubernetes, o.kubeconfig, o.kube_context,
                                        o.namespace, o.allow_writes)
    if kind == "docker":
        from console.runtime.docker.runtime import DockerRuntime

        return DockerRuntime(stack.project, base_url=docker_host, compose=stack.compose)
    if kind == "local":
        from console.runtime.local.runtime import LocalRuntime

        return LocalRuntime()
    if kind == "none":
        return None
    raise ConfigError(f"--runtime: unknown runtime {kind!r} (choose from {', '.join(RUNTIMES)})")


def build_workflows(stack: Stack) -> WorkflowsBackend | None:
    """The Temporal backend from `[stack.temporal]`: no I/O and no temporalio import here."""
    if stack.temporal is None:
        return None
    from console.temporal.client import TemporalBackend

    return TemporalBackend.from_settings(stack.temporal)


DEFAULT_COMPOSE = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")


def compose_path(ctx: AppContext) -> Path | None:
    """The compose file this context acts on: the project's, the one given, the one beside
    the stack file, or the working directory's (None: there is none)."""
    if ctx.stack.compose and ctx.stack.compose.files:
        return Path(ctx.stack.compose.files[0])
    if ctx.compose_path:
        return Path(ctx.compose_path)
    beside = Path(ctx.stack.source).parent  # the compose file next to the stack file
    if not ctx.stack.source.startswith("<"):
        found = next((beside / n for n in DEFAULT_COMPOSE if (beside / n).is_file()), None)
        if found is not None:
            return found
    return next((Path(n) for n in DEFAULT_COMPOSE if Path(n).is_file()), None)


def load_config(path: str | None) -> dict:
    """The user's config file (theme, [keys] overrides); missing file means defaults."""
    if path is None:
        from platformdirs import user_config_dir

        candidate = Path(user_config_dir("vextrus-console")) / "config.toml"
    else:
        candidate = Path(path)
    if not candidate.exists():
        if path is not None:
            raise ConfigError(f"{path}: config file not found")
        return {}
    try:
        data = tomllib.loads(candidate.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{candidate}: {exc}") from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise ConfigError(f"{candidate}: arrays or inline tables nested too deeply") from None
    keys = data.get("keys", {})
    if not isinstance(keys, dict) or not all(isinstance(v, str) for v in keys.values()):
        raise ConfigError(f"{candidate}: [keys] must map action names to key strings")
    return data


def build_context(
    opts: Options,
    clock: Callable[[], datetime] = now_utc,
    runtime: Runtime | None = None,
    journal: Journal | None = None,
    workflows: WorkflowsBackend | None = None,
) -> AppContext:
    """Build the context; raises StackFileError or ConfigError with one-line messages."""
    stack = load_model_for(opts)
    if opts.project:
        stack = stack.with_project(opts.project)
    config = load_config(opts.config_path)
    if runtime is None:
        runtime = build_runtime(opts.runtime, stack, opts.docker_host, opts)
    if journal is None:
        state_dir = Path(opts.state_dir) if opts.state_dir else default_state_dir()
        journal = Journal(state_dir / "journal.sqlite3", stack=stack.name)
    monitor = Monitor(stack, runtime, journal, clock=clock)
    theme = opts.theme or config.get("theme") or "vextrus-dark"
    guard = runtime.guard if isinstance(runtime, WriteGuarded) else None
    forced = bool(guard is not None and guard.read_only)
    return AppContext(
        stack=stack,
        runtime=runtime,
        monitor=monitor,
        journal=journal,
        read_only=opts.read_only or forced,
        read_only_reason=guard.reason() if forced and guard is not None else "",
        confirm_word=guard.confirm_word if guard is not None else None,
        theme=str(theme),
        clock=clock,
        keymap=dict(config.get("keys", {})),
        bringup_timeout=_bringup_timeout(config, candidate_name(opts.config_path)),
        workflows=workflows if workflows is not None else build_workflows(stack),
    )


def load_model_for(opts: Options) -> Stack:
    """The stack file, the compose project, or both (`console.project`); bad option pairs
    are ConfigError."""
    from console.compose import ComposeError
    from console.project import ModelOptions, UsageError, load_model

    model = ModelOptions(opts.stack_path, opts.compose_files, opts.env_files, opts.profiles,
                         opts.project)
    try:
        return load_model(model)
    except (UsageError, ComposeError) as exc:
        raise ConfigError(str(exc)) from None


def candidate_name(path: str | None) -> str:
    return path or "config.toml"


def _bringup_timeout(config: dict, where: str) -> float:
    """`[bringup] timeout = SECONDS` in the config file; must be a positive number."""
    section = config.get("bringup", {})
    value = section.get("timeout", 120.0) if isinstance(section, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{where}: [bringup] timeout must be a positive number of seconds")
    return float(value)


__all__ = [
    "AppContext",
    "ConfigError",
    "Options",
    "StackFileError",
    "build_context",
    "build_runtime",
    "build_workflows",
]
