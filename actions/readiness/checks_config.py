"""Checklist items read from configuration: Traefik's TLS and rate limits, secrets at rest.

Traefik is configured through its command line and the routers' Docker labels in the
compose file, so HTTPS and rate limiting are judged there (what the proxy will do), not by
probing one URL. Secrets: the scanner over the compose file, and the env file that holds
the real values must be mode 0600 and ignored by git.
"""

from __future__ import annotations

import re
import stat
import subprocess
from pathlib import Path
from typing import Any

from actions.readiness.inputs import Inputs
from actions.readiness.model import ITEM_BY_ID, Mark, Verdict
from console.bounded_yaml import load_yaml

_ROUTER_RE = re.compile(r"^traefik\.http\.routers\.([^.]+)\.(.+)$")
_RATELIMIT_RE = re.compile(r"^traefik\.http\.middlewares\.([^.]+)\.ratelimit\.")
_REDIRECT_RE = re.compile(r"^--entrypoints\.[^.]+\.http\.redirections\.entrypoint\.to=")
_EP_MIDDLEWARES_RE = re.compile(r"^--entrypoints\.[^.]+\.http\.middlewares=(.+)$")
ENV_FILES = (".env.production", ".env")


def _labels(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("labels") or {}
    if isinstance(raw, list):
        return dict(str(x).split("=", 1) for x in raw if "=" in str(x))
    return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


def _command(service: dict[str, Any]) -> list[str]:
    raw = service.get("command") or []
    return [str(x) for x in raw] if isinstance(raw, list) else str(raw).split()


class ProxyConfig:
    """Traefik's routers (from labels) and its entry points (from its command)."""

    def __init__(self, compose: dict[str, Any]) -> None:
        services = compose.get("services") or {}
        self.routers: dict[str, dict[str, str]] = {}
        self.ratelimits: set[str] = set()
        self.command: list[str] = []
        for name, body in services.items():
            if not isinstance(body, dict):
                continue
            if "traefik" in str(body.get("image", "")) or name == "traefik":
                self.command += _command(body)
            for key, value in _labels(body).items():
                if m := _ROUTER_RE.match(key):
                    self.routers.setdefault(m.group(1), {})[m.group(2)] = value
                if m := _RATELIMIT_RE.match(key):
                    self.ratelimits.add(m.group(1))

    @property
    def redirects_to_tls(self) -> bool:
        return any(_REDIRECT_RE.match(arg) for arg in self.command)

    def entrypoint_middlewares(self) -> set[str]:
        found: set[str] = set()
        for arg in self.command:
            if m := _EP_MIDDLEWARES_RE.match(arg):
                found |= {x.split("@")[0] for x in m.group(1).split(",")}
        return found


def _proxy(inp: Inputs) -> tuple[ProxyConfig | None, str]:
    path = inp.compose_path
    if path is None or not path.is_file():
        return None, "no compose file to read the proxy's configuration from"
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except Exception as exc:  # unreadable or refused YAML: say why, judge nothing
        return None, f"{path}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
    return (ProxyConfig(data) if isinstance(data, dict) else None), str(path)


def https(inp: Inputs) -> Verdict:
    item = ITEM_BY_ID["https"]
    proxy, source = _proxy(inp)
    if proxy is None:
        return inp.verdict(item, Mark.UNKNOWN, source)
    asked = f"{source}: Traefik routers and entry points"
    if not proxy.routers:
        return inp.verdict(item, Mark.UNKNOWN, "no Traefik routers in the compose file", asked)
    if proxy.redirects_to_tls:
        return inp.verdict(item, Mark.PASS, "every entry point redirects to TLS", asked)
    plain = [r for r, keys in proxy.routers.items()
             if keys.get("tls", "").lower() != "true" and "tls.certresolver" not in keys]
    if plain:
        return inp.verdict(item, Mark.FAIL, "routers without TLS: " + ", ".join(plain[:6]), asked)
    return inp.verdict(item, Mark.PASS, f"{len(proxy.routers)} routers on TLS", asked)


def rate_limiting(inp: Inputs) -> Verdict:
    item = ITEM_BY_ID["rate-limiting"]
    proxy, source = _proxy(inp)
    if proxy is None:
        return inp.verdict(item, Mark.UNKNOWN, source)
    asked = f"{source}: Traefik middlewares"
    if not proxy.routers:
        return inp.verdict(item, Mark.UNKNOWN, "no Traefik routers in the compose file", asked)
    if not proxy.ratelimits:
        return inp.verdict(item, Mark.FAIL, "no ratelimit middleware defined", asked)
    if proxy.entrypoint_middlewares() & proxy.ratelimits:
        return inp.verdict(item, Mark.PASS, "rate limit on every entry point", asked)
    bare = [r for r, keys in proxy.routers.items()
            if not {m.split("@")[0] for m in keys.get("middlewares", "").split(",")}
            & proxy.ratelimits]
    if bare:
        return inp.verdict(item, Mark.FAIL, "routers without a rate limit: "
                           + ", ".join(bare[:6]), asked)
    return inp.verdict(item, Mark.PASS, f"{len(proxy.routers)} routers rate-limited", asked)


def no_hardcoded_secrets(inp: Inputs) -> Verdict:
    from actions.secrets.scan import scan_compose_text

    item = ITEM_BY_ID["no-hardcoded-secrets"]
    path = inp.compose_path
    if path is None or not path.is_file():
        return inp.verdict(item, Mark.UNKNOWN, "no compose file to scan")
    asked = f"secrets scan {path}"
    try:
        scan = scan_compose_text(path.read_text(encoding="utf-8"), str(path))
    except Exception as exc:  # a file the scanner refuses: unknown, with its one line
        return inp.verdict(item, Mark.UNKNOWN, str(exc).splitlines()[0], asked)
    if scan.findings:
        where = ", ".join(f.location() for f in scan.findings[:4])
        return inp.verdict(item, Mark.FAIL, f"{len(scan.findings)} hardcoded: {where}", asked,
                           "secrets generate, then secrets apply (S)")
    return inp.verdict(item, Mark.PASS, "no hardcoded secret in the compose file", asked)


def _git_ignored(path: Path) -> bool | None:
    """True/False from `git check-ignore`; None outside a git work tree."""
    try:
        done = subprocess.run(["git", "-C", str(path.parent), "check-ignore", "-q", path.name],
                              capture_output=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return {0: True, 1: False}.get(done.returncode)


def secrets_stored(inp: Inputs) -> Verdict:
    item = ITEM_BY_ID["secrets-stored"]
    base = inp.compose_path.parent if inp.compose_path else None
    if base is None:
        return inp.verdict(item, Mark.UNKNOWN, "no compose file: cannot find its env file")
    env = next((base / n for n in ENV_FILES if (base / n).is_file()), None)
    if env is None:
        return inp.verdict(item, Mark.FAIL, f"no {' or '.join(ENV_FILES)} next to the compose file",
                           str(base), "secrets generate (S)")
    mode = stat.S_IMODE(env.stat().st_mode)
    problems = [f"mode {mode:o} (want 600)"] if mode & 0o077 else []
    ignored = _git_ignored(env)
    if ignored is False:
        problems.append("not ignored by git")
    asked = f"{env}: mode and git check-ignore"
    if problems:
        return inp.verdict(item, Mark.FAIL, f"{env.name}: " + ", ".join(problems), asked,
                           "secrets generate (writes 0600)")
    where = "git-ignored" if ignored else "outside git"
    return inp.verdict(item, Mark.PASS, f"{env.name}: mode 600, {where}", asked)
