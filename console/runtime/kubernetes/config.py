"""Which cluster, which namespace, and whether it is production: read before any client.

The kubeconfig is plain YAML, so the context and namespace are resolved here without
importing the kubernetes client (cold start matters): the production guard must be decided
when the console is built, and a missing kubeconfig must become one line for the operator,
not a traceback. The client itself is loaded later, in a thread, by the runtime.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from console.bounded_yaml import load_yaml
from console.model import KubernetesSettings
from console.runtime.base import RuntimeUnavailable

DEFAULT_KUBECONFIG = "~/.kube/config"


class KubeconfigError(RuntimeUnavailable):
    """No usable kubeconfig or context; str() is one line naming the file."""


@dataclass(frozen=True)
class ClusterTarget:
    kubeconfig: str  # what the client loads: one path or a KUBECONFIG-style list
    context: str
    namespace: str
    server: str
    production: bool
    pattern: str


def kubeconfig_paths(given: str | None, env: Mapping[str, str]) -> list[Path]:
    raw = given or env.get("KUBECONFIG") or DEFAULT_KUBECONFIG
    return [Path(p).expanduser() for p in raw.split(os.pathsep) if p]


def resolve_target(
    settings: KubernetesSettings,
    kubeconfig: str | None = None,
    context: str | None = None,
    namespace: str | None = None,
    env: Mapping[str, str] = os.environ,
) -> ClusterTarget:
    """CLI beats the stack file, which beats the kubeconfig's current context."""
    paths = kubeconfig_paths(kubeconfig, env)
    docs = [_load(p) for p in paths if p.exists()]
    shown = os.pathsep.join(str(p) for p in paths)
    if not docs:
        raise KubeconfigError(
            f"kubeconfig {shown}: not found (set KUBECONFIG or pass --kubeconfig)"
        )
    contexts = _merged(docs, "contexts")
    chosen = context or settings.context or next(
        (str(d["current-context"]) for d in docs if d.get("current-context")), ""
    )
    if not chosen:
        raise KubeconfigError(f"kubeconfig {shown}: no current-context (pass --context NAME)")
    if chosen not in contexts:
        known = ", ".join(sorted(contexts)) or "none"
        raise KubeconfigError(f"kubeconfig {shown}: no context {chosen!r} (known: {known})")
    ctx = contexts[chosen]
    cluster = _merged(docs, "clusters").get(str(ctx.get("cluster") or ""), {})
    pattern = settings.production
    return ClusterTarget(
        kubeconfig=os.pathsep.join(str(p) for p in paths if p.exists()),
        context=chosen,
        namespace=namespace or settings.namespace or str(ctx.get("namespace") or "default"),
        server=str(cluster.get("server") or "?"),
        production=is_production(chosen, pattern),
        pattern=pattern,
    )


def is_production(context: str, pattern: str) -> bool:
    """fnmatch, case-insensitive; several patterns may be given, separated by commas."""
    name = context.lower()
    return any(
        fnmatch.fnmatchcase(name, p.strip().lower()) for p in pattern.split(",") if p.strip()
    )


def _load(path: Path) -> dict:
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))  # bounded: aliases, nesting
    except (OSError, UnicodeDecodeError) as exc:
        raise KubeconfigError(f"kubeconfig {path}: cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise KubeconfigError(f"kubeconfig {where}: not valid YAML") from None
    if not isinstance(data, dict):
        raise KubeconfigError(f"kubeconfig {path}: expected a mapping at the top")
    return data


def _merged(docs: list[dict], key: str) -> dict[str, dict]:
    """Named entries across files; the first file to name one wins, as kubectl merges."""
    out: dict[str, dict] = {}
    for doc in docs:
        for entry in doc.get(key) or []:
            if isinstance(entry, dict) and entry.get("name") and entry["name"] not in out:
                inner = entry.get(key.rstrip("s")) or {}
                out[str(entry["name"])] = inner if isinstance(inner, dict) else {}
    return out


@dataclass(frozen=True)
class WriteGuard:
    """The production guard: read-only on a production context unless writes are allowed.

    With writes allowed there, every write asks for the context name typed out; that
    question is the UI's and the CLI's (`confirm_word`), the refusal is enforced here too.
    """

    context: str
    production: bool
    allow_writes: bool
    pattern: str = "*prod*"

    @property
    def read_only(self) -> bool:
        return self.production and not self.allow_writes

    @property
    def confirm_word(self) -> str | None:
        """What the operator must type before a write, or None when y/n is enough."""
        return self.context if self.production and self.allow_writes else None

    def reason(self) -> str:
        return (
            f"context {self.context!r} matches the production pattern {self.pattern!r}: "
            "read-only (pass --allow-writes to change anything)"
        )
