"""`secrets generate`: write `.env.production` with every secret the stack needs.

Seed 002's list (POSTGRES_PASSWORD, DATABASE_PASSWORD = POSTGRES_PASSWORD, REDIS_PASSWORD,
a 256-bit JWT_SECRET, MINIO_ROOT_PASSWORD, GRAFANA_ADMIN_PASSWORD, RABBITMQ_DEFAULT_PASS),
plus the variables `secrets apply` will make the compose file reference, plus secret
variables the compose file already references. Values come from Python's `secrets`.

Running it again keeps every value (a generator that changed passwords on each run would
lock the services out of their own database); `--rotate NAME` replaces one on purpose,
and says what else has to happen: PostgreSQL, RabbitMQ and Grafana read their password
variable only when their data volume is first created, so a running server keeps the old
password until it is changed inside (ALTER ROLE ...).

The file is written atomically with mode 0600; the previous one is kept as `.bak`, 0600
too. Values are never part of progress events: the CLI prints them only for `--reveal`.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import string
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import yaml

from actions.base import CancelToken, Progress, Step
from actions.secrets.policy import (
    KEY_BYTES,
    POSTGRES_PAIR,
    SEED_GROUPS,
    SEED_SECRETS,
    SecretsError,
    is_identifier_name,
    is_known_default,
    is_secret_name,
    mask_value,
)
from actions.secrets.scan import (
    WEAK_LENGTH,
    Assignment,
    ComposeScan,
    EnvEntry,
    assign_variables,
    load_compose,
    parse_env,
    read_text_file,
)
from console.bounded_yaml import load_yaml
from console.fileio import write_text_atomic

ENV_MODE = 0o600
PASSWORD_LENGTH = 32  # letters and digits: ~190 bits, safe in URLs, shells and YAML
_ALPHABET = string.ascii_letters + string.digits
_SAFE_VALUE_RE = re.compile(r"[A-Za-z0-9_\-.,:/+=@%]*")
# Names that are usually issued by someone else (API keys, access key ids): a fresh random
# value would break the integration, so the compose file's current value is carried over.
_ISSUED_RE = re.compile(r"(?:key|token)$", re.IGNORECASE)

Status = Literal["kept", "generated", "rotated", "adopted", "copied", "missing"]


@dataclass(frozen=True)
class SecretValue:
    """One variable of the file and what this run does to it."""

    name: str
    value: str = field(repr=False)
    status: Status
    note: str = ""

    def describe(self) -> str:
        shown = mask_value(self.value) if self.value else "empty"
        return f"{self.status} [{shown}]" + (f": {self.note}" if self.note else "")


@dataclass
class EnvPlan:
    """The file `generate` would write, and why."""

    path: Path
    entries: list[SecretValue]
    warnings: list[str]
    old_text: str | None = field(repr=False)
    new_text: str = field(repr=False)

    @property
    def changed(self) -> bool:
        return self.old_text != self.new_text

    def values(self) -> dict[str, str]:
        return {e.name: e.value for e in self.entries}


@dataclass(frozen=True)
class InUse:
    """A value the running stack uses now, and where it was found."""

    value: str = field(repr=False)
    source: str = ""


# --- values ----------------------------------------------------------------------------


def new_password(length: int = PASSWORD_LENGTH) -> str:
    """Letters and digits only: no quoting trouble in .env, URLs, YAML or a shell."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_key(nbytes: int = 32) -> str:
    """`nbytes` random bytes as base64url (a JWT_SECRET of 32 bytes is 256 bits).

    Never starts with `-`, so it cannot be mistaken for an option when passed as an
    argument (`redis-server --requirepass VALUE`).
    """
    while True:
        value = secrets.token_urlsafe(nbytes)
        if not value.startswith("-"):
            return value


def fresh_value(name: str) -> str:
    if name in KEY_BYTES:
        return new_key(KEY_BYTES[name])
    if re.search(r"(?:secret|key|token)$", name, re.IGNORECASE):
        return new_key(32)
    return new_password()


def format_env_value(value: str) -> str:
    """Quote only when needed; single quotes keep `$` and `#` literal for compose."""
    if _SAFE_VALUE_RE.fullmatch(value):
        return value
    if "'" not in value and "\n" not in value:
        return f"'{value}'"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


# --- planning -----------------------------------------------------------------------------


def plan_env(
    env_path: Path,
    old_text: str | None,
    compose: ComposeScan | None,
    rotate: Iterable[str] = (),
    adopt: bool = False,
    now: datetime | None = None,
    dot_env: dict[str, str] | None = None,
) -> EnvPlan:
    """Decide every value, without writing anything (plan() and dry runs use this).

    `dot_env` is the compose project's `.env`, which docker compose reads by default: its
    values are in use, so replacing one deserves the same warnings as a compose literal.
    """
    existing = {e.key: e for e in parse_env(old_text or "")}
    assignments = {a.variable: a for a in assign_variables(compose.findings)} if compose else {}
    in_use = _in_use(assignments, dot_env or {})
    needed = _needed(assignments, compose)
    rotate = set(rotate)
    _check_rotate(rotate, needed, existing)
    entries = {name: _decide(name, existing, in_use, rotate, adopt) for name in needed}
    for name in sorted(rotate - set(needed)):
        entries[name] = SecretValue(name, fresh_value(name), "rotated")
    warnings = _pair_postgres(entries, existing, rotate)
    warnings += _change_warnings(entries, existing, in_use, compose)
    warnings += _weak_warnings(entries)
    text = _render(env_path, old_text, entries, existing, compose, now or datetime.now(UTC))
    ordered = [entries[n] for n in [*needed, *sorted(rotate - set(needed))]]
    return EnvPlan(env_path, ordered, warnings, old_text, text)


def _needed(assignments: dict[str, Assignment], compose: ComposeScan | None) -> list[str]:
    """Seed list, then what `apply` will reference, then what compose references already."""
    referenced = sorted(n for n in (compose.references if compose else ()) if is_secret_name(n))
    return list(dict.fromkeys([*SEED_SECRETS, *assignments, *referenced]))


def _check_rotate(rotate: set[str], needed: Sequence[str], existing: dict[str, EnvEntry]) -> None:
    unknown = sorted(rotate - set(needed) - set(existing))
    if unknown:
        raise SecretsError(f"--rotate {unknown[0]}: not a secret of this stack (known: "
                           f"{', '.join(dict.fromkeys([*needed, *existing]))})")


def _in_use(assignments: dict[str, Assignment], dot_env: dict[str, str]) -> dict[str, InUse]:
    """The values the stack runs with today: compose literals, else the project's `.env`."""
    found = {n: InUse(v, ".env") for n, v in dot_env.items() if v}
    found.update({n: InUse(_unescape_compose(a.value), "the compose file")
                  for n, a in assignments.items()})
    return found


def _decide(
    name: str,
    existing: dict[str, EnvEntry],
    in_use: dict[str, InUse],
    rotate: set[str],
    adopt: bool,
) -> SecretValue:
    """Keep what exists; otherwise generate, or carry the value in use over."""
    if name in rotate:
        return SecretValue(name, fresh_value(name), "rotated")
    if name in existing:
        return SecretValue(name, existing[name].value, "kept")
    current = in_use.get(name)
    if current is not None and adopt:
        return SecretValue(name, current.value, "adopted", f"the value in {current.source}")
    issued = name not in SEED_SECRETS and bool(_ISSUED_RE.search(name))
    if current is not None and issued:
        return SecretValue(name, current.value, "adopted", f"kept the value in {current.source} "
                           f"(likely issued elsewhere); replace it with --rotate {name}")
    if issued:
        return SecretValue(name, "", "missing", "referenced by the compose file: fill it in")
    return SecretValue(name, fresh_value(name), "generated")


def _unescape_compose(value: str) -> str:
    """`$$` in a compose file is one literal `$`."""
    return value.replace("$$", "$")


def _pair_postgres(
    entries: dict[str, SecretValue], existing: dict[str, EnvEntry], rotate: set[str]
) -> list[str]:
    """Seed 002: DATABASE_PASSWORD is the same as POSTGRES_PASSWORD, always."""
    main, alias = POSTGRES_PAIR
    if main not in entries or alias not in entries:
        return []
    if main in rotate or alias in rotate:
        value = entries[main].value if main in rotate else entries[alias].value
        for name in POSTGRES_PAIR:
            entries[name] = SecretValue(name, value, "rotated")
        return []
    if main in existing and alias in existing:
        if entries[main].value != entries[alias].value:
            return [f"{alias} differs from {main}; the services log in with {alias} to the "
                    f"server set up with {main}: `--rotate {main}` sets both to one new value"]
        return []
    source, target = (alias, main) if alias in existing else (main, alias)
    entries[target] = SecretValue(target, entries[source].value, "copied", f"same as {source}")
    return []


# Servers that read their password variable only when their data volume is first created.
_FIRST_START_ONLY = {
    "POSTGRES_PASSWORD": "postgres", "DATABASE_PASSWORD": "postgres",
    "RABBITMQ_DEFAULT_PASS": "rabbitmq", "GRAFANA_ADMIN_PASSWORD": "grafana",
}
_ROTATION_NOTES = {
    "JWT_SECRET": "JWT_SECRET changed: tokens signed with the old secret stop validating, "
                  "so every user has to sign in again after the services restart",
    "REDIS_PASSWORD": "REDIS_PASSWORD changed: restart redis and every service that uses it "
                      "together",
    "MINIO_ROOT_PASSWORD": "MINIO_ROOT_PASSWORD changed: restart minio and its clients "
                           "together",
}


def _change_warnings(
    entries: dict[str, SecretValue],
    existing: dict[str, EnvEntry],
    in_use: dict[str, InUse],
    compose: ComposeScan | None,
) -> list[str]:
    """Say what else must happen when a value in use changes (never the value itself)."""
    warnings: list[str] = []
    servers_done: set[str] = set()
    for name, entry in entries.items():
        before = existing[name].value if name in existing else (
            in_use[name].value if name in in_use else None)
        if before is None or before == entry.value or entry.status in ("kept", "missing"):
            continue
        server = _FIRST_START_ONLY.get(name)
        if server and server not in servers_done:
            servers_done.add(server)
            warnings.append(_first_start_warning(server, name, compose))
        elif name in _ROTATION_NOTES:
            warnings.append(_ROTATION_NOTES[name])
    return warnings


def _first_start_warning(server: str, name: str, compose: ComposeScan | None) -> str:
    if server == "postgres":
        user = _compose_env(compose, "POSTGRES_USER") or "postgres"
        return (f"{name} changed: a running database keeps its old password and would no "
                f"longer accept the new one (POSTGRES_PASSWORD only applies when the data "
                f"volume is first created). Before restarting the services, set it inside: "
                f"`docker compose exec postgres psql -U {user}` then `\\password {user}` "
                f"(or ALTER ROLE {user} WITH PASSWORD '<new value>'; see it with --reveal), "
                f"then restart the services that connect to it")
    if server == "rabbitmq":
        user = _compose_env(compose, "RABBITMQ_DEFAULT_USER") or "guest"
        return (f"{name} changed: a running RabbitMQ keeps its old password (it is read only "
                f"when the data volume is first created). Before restarting the services, "
                f"run `docker compose exec rabbitmq rabbitmqctl change_password {user} "
                f"<new value>`")
    return (f"{name} changed: Grafana applies it only to a new database. Before restarting, "
            f"run `docker compose exec grafana grafana cli admin reset-admin-password "
            f"<new value>`")


def _compose_env(compose: ComposeScan | None, name: str) -> str | None:
    """A non-secret setting (a user name) from any service's environment, for advice."""
    if compose is None:
        return None
    try:
        data = load_yaml(compose.text)
    except yaml.YAMLError:
        return None
    services = data.get("services") if isinstance(data, dict) else None
    for service in (services or {}).values():
        env = service.get("environment") if isinstance(service, dict) else None
        if isinstance(env, list):
            env = dict(str(i).partition("=")[::2] for i in env)
        if isinstance(env, dict) and isinstance(env.get(name), str | int):
            return str(env[name])
    return None


def _weak_warnings(entries: dict[str, SecretValue]) -> list[str]:
    out = []
    for e in entries.values():
        short = len(e.value) < WEAK_LENGTH and not is_identifier_name(e.name)
        if e.status in ("kept", "adopted") and e.value and (is_known_default(e.value) or short):
            why = "a known default" if is_known_default(e.value) else f"{len(e.value)} characters"
            out.append(f"{e.name} is weak ({why}): replace it with --rotate {e.name}")
    for e in entries.values():
        if e.status == "missing":
            out.append(f"{e.name} has no value: the compose file references it; fill it in")
    return out


# --- rendering ----------------------------------------------------------------------------


def _render(
    path: Path,
    old_text: str | None,
    entries: dict[str, SecretValue],
    existing: dict[str, EnvEntry],
    compose: ComposeScan | None,
    now: datetime,
) -> str:
    if old_text is None:
        return _fresh_file(path, entries, compose, now)
    return _updated_file(old_text, entries, existing, now)


def _line(entry: SecretValue, export: bool = False) -> str:
    return f"{'export ' if export else ''}{entry.name}={format_env_value(entry.value)}"


def _fresh_file(
    path: Path, entries: dict[str, SecretValue], compose: ComposeScan | None, now: datetime
) -> str:
    """Seed 002's layout: Database, Redis, JWT, Services, then the compose file's own."""
    lines = [
        f"# {path.name}: generated by `vextrus-console secrets generate` on "
        f"{now:%Y-%m-%d %H:%M} UTC.",
        "# Secrets of the Vextrus stack. Mode 0600; never commit this file.",
        f"# Use it with: docker compose --env-file {path.name} up -d",
    ]
    for title, names in SEED_GROUPS:
        lines += ["", f"# {title}", *(_line(entries[n]) for n in names if n in entries)]
    rest = [e for n, e in entries.items() if n not in SEED_SECRETS]
    if rest:
        origin = Path(compose.path).name if compose else "the compose file"
        lines += ["", f"# From {origin}"]
        for e in rest:
            lines += [f"# {e.note}"] if e.status == "missing" else []
            lines.append(_line(e))
    return "\n".join(lines) + "\n"


def _updated_file(
    old_text: str, entries: dict[str, SecretValue], existing: dict[str, EnvEntry], now: datetime
) -> str:
    """Keep the operator's file as it is: rotated lines change in place, new ones go last."""
    lines = old_text.splitlines()
    for e in entries.values():
        if e.status in ("rotated", "copied") and e.name in existing:
            for entry in parse_env(old_text):
                if entry.key == e.name:
                    lines[entry.line - 1] = _line(e, entry.export)
    added = [e for e in entries.values() if e.name not in existing]
    if added:
        lines += ["", f"# Added by `vextrus-console secrets generate` on {now:%Y-%m-%d %H:%M} UTC"]
        for e in added:
            lines += [f"# {e.note}"] if e.status == "missing" else []
            lines.append(_line(e))
    return "\n".join(lines) + "\n"


# --- the action ---------------------------------------------------------------------------


class SecretsGenerate:
    """Writes the env file (mode 0600, backup kept); values stay out of every event."""

    name = "secrets-generate"
    writes = True

    def __init__(
        self,
        env_path: Path,
        compose_path: Path | None = None,
        rotate: Iterable[str] = (),
        adopt: bool = False,
    ) -> None:
        self.env_path = Path(env_path)
        self.compose_path = compose_path
        self.rotate = tuple(dict.fromkeys(rotate))
        self.adopt = adopt
        self.target = str(self.env_path)
        self._plan: EnvPlan | None = None

    def prepare(self) -> EnvPlan:
        """Read the inputs and decide the values once: plan() and run() share them."""
        if self._plan is None:
            if self.env_path.is_symlink():
                raise SecretsError(f"{self.env_path}: refusing to write through a symbolic link")
            old = read_text_file(self.env_path) if self.env_path.exists() else None
            compose = load_compose(self.compose_path) if self.compose_path else None
            self._plan = plan_env(self.env_path, old, compose, self.rotate, self.adopt,
                                  dot_env=self._dot_env())
        return self._plan

    def _dot_env(self) -> dict[str, str]:
        """The `.env` docker compose reads by default, next to the compose file."""
        base = self.compose_path.parent if self.compose_path else self.env_path.parent
        path = base / ".env"
        if not path.is_file() or path.resolve() == self.env_path.resolve():
            return {}
        return {e.key: e.value for e in parse_env(read_text_file(path))}

    def plan(self) -> list[Step]:
        p = self.prepare()
        steps = [Step(e.name, f"{e.name}: {e.describe()}", str(self.env_path))
                 for e in p.entries]
        if p.changed:
            backup = " (previous file kept as .bak, 0600)" if p.old_text is not None else ""
            steps.append(Step("write", f"write {self.env_path} atomically, mode 0600{backup}",
                              str(self.env_path)))
        return steps

    async def run(self, cancel: CancelToken) -> AsyncIterator[Progress]:
        p = self.prepare()
        for e in p.entries:
            yield Progress("ok" if e.status != "missing" else "failed", e.name, e.describe())
        for warning in p.warnings:
            yield Progress("info", "warning", warning, data={"warning": True})
        cancel.check()
        if not p.changed:
            yield Progress("skipped", str(self.env_path), "up to date: nothing to write")
        else:
            backup = await asyncio.to_thread(self._write, p)
            note = f"; previous file kept as {backup}" if backup else ""
            yield Progress("ok", str(self.env_path), f"written, mode 0600{note}")
        yield Progress("done", "", f"{len(p.entries)} secret(s) in {self.env_path}; values "
                       "not shown")

    def _write(self, p: EnvPlan) -> Path | None:
        """Refuse if the file changed since it was read (another run, an editor)."""
        current = read_text_file(self.env_path) if self.env_path.exists() else None
        if current != p.old_text:
            raise SecretsError(f"{self.env_path}: changed on disk while planning; run again")
        return write_text_atomic(self.env_path, p.new_text, mode=ENV_MODE, backup=True,
                                 backup_mode=ENV_MODE)
