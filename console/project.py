"""What the console runs on: a stack file, a compose project, or a stack file over one.

- `--stack FILE`: the stack file. With `[stack.compose]` it names compose files, and Compose's
  model is the base; the stack file adds only what Compose lacks (tiers, phases, extra
  checks, Kubernetes and local names, a description).
- `--compose FILE` (repeatable, with `--env-file` and `--profile`): the compose project.
- Neither, and a compose file in the working directory (compose.yaml, compose.yml,
  docker-compose.yml, docker-compose.yaml, the names `docker compose` looks for): that.
- Otherwise the bundled Vextrus inventory (the demo's default).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from console.compose import find_compose_file
from console.compose_import import load_compose_stack
from console.model import ComposeSource, Service, Stack, find_cycle
from console.stackfile import StackFileError, load_stack, read_text

# Keys of a stack-file service that add to Compose's (anything else is Compose's to say).
OVERLAY_KEYS = ("tier", "phase", "checks", "runtime", "description")


@dataclass(frozen=True)
class ModelOptions:
    stack_path: str | None = None
    compose_files: tuple[str, ...] = ()
    env_files: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    project: str | None = None


class UsageError(Exception):
    """Options that do not fit together; one line."""


def load_model(opts: ModelOptions, cwd: Path | None = None) -> Stack:
    """The stack the console works on, chosen as the module docstring says."""
    if opts.stack_path is not None:
        stack = load_stack(opts.stack_path)
        if stack.compose is None and not opts.compose_files:
            _no_compose_options(opts)
            return stack
        base = stack.compose or ComposeSource(files=())
        source = _with_options(base, opts)
        return overlay(load_compose_stack(source), stack, opts.stack_path)
    files = opts.compose_files
    if not files:
        found = find_compose_file(cwd)
        if found is None:
            _no_compose_options(opts)
            return load_stack(None)
        files = (str(found),)
    source = _with_options(ComposeSource(files=files), opts)
    return load_compose_stack(source)


def _with_options(base: ComposeSource, opts: ModelOptions) -> ComposeSource:
    return ComposeSource(
        files=opts.compose_files or base.files,
        env_files=opts.env_files or base.env_files,
        profiles=opts.profiles or base.profiles,
        project_dir=base.project_dir,
        project=opts.project or base.project,
    )


def _no_compose_options(opts: ModelOptions) -> None:
    if opts.env_files or opts.profiles:
        option = "--env-file" if opts.env_files else "--profile"
        raise UsageError(f"{option} needs a compose project (--compose FILE, a compose file "
                         "in the working directory, or [stack.compose] in the stack file)")


# --- a stack file over Compose's model ------------------------------------------------------


def overlay(base: Stack, extra: Stack, stack_path: str) -> Stack:
    """Compose's services with the stack file's additions; unknown names are errors."""
    declared = _declared_keys(stack_path)
    by_compose = {s.compose_name: s.name for s in base.services}
    merged = {s.name: s for s in base.services}
    for add in extra.services:
        name = add.name if add.name in merged else by_compose.get(add.runtime.compose or "")
        if name is None:
            raise StackFileError(stack_path, f"service \"{add.name}\": not a service of the "
                                 f"compose project (Compose lists: {', '.join(merged)})")
        keys = declared.get(add.name, {})
        forbidden = sorted(set(keys) - set(OVERLAY_KEYS))
        if forbidden:
            raise StackFileError(stack_path, f"service \"{add.name}\": {forbidden[0]} comes "
                                 "from the compose file; a stack file over Compose adds only "
                                 + ", ".join(OVERLAY_KEYS))
        merged[name] = _merge(merged[name], add, keys)
    services = tuple(merged.values())
    _check_phases(services, stack_path)
    return Stack(
        name=extra.name, services=services, project=base.project,
        tiers=extra.tiers or base.tiers, phases=extra.phases or base.phases,
        temporal=extra.temporal, source=stack_path, kubernetes=extra.kubernetes,
        compose=base.compose,
    )


def _merge(service: Service, add: Service, keys: Mapping[str, Any]) -> Service:
    runtime = replace(service.runtime, k8s=add.runtime.k8s or service.runtime.k8s,
                      local=add.runtime.local or service.runtime.local)
    return replace(
        service,
        tier=add.tier if "tier" in keys else service.tier,
        phase=add.phase if "phase" in keys else service.phase,
        checks=service.checks + add.checks,
        runtime=runtime,
        description=add.description or service.description,
        ready_when_running=service.ready_when_running and not add.checks,
    )


def _declared_keys(stack_path: str) -> dict[str, dict[str, Any]]:
    """Which keys each `[services.X]` table really sets (defaults must not override)."""
    data = tomllib.loads(read_text(stack_path, stack_path))
    services = data.get("services", {})
    return {k: v for k, v in services.items() if isinstance(v, dict)}


def _check_phases(services: Sequence[Service], source: str) -> None:
    phase = {s.name: s.phase for s in services}
    for s in services:
        for dep in s.depends_on:
            if dep in phase and phase[dep] > s.phase:
                raise StackFileError(source, f"service \"{s.name}\": phase {s.phase} is before "
                                     f"its dependency \"{dep}\" (phase {phase[dep]})")
    cycle = find_cycle(services)
    if cycle:
        raise StackFileError(source, f"dependency cycle: {' -> '.join(cycle)}")
