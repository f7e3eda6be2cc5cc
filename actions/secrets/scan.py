"""`secrets scan`: find hardcoded secrets in compose files, `.env` files and the stack file.

The Vextrus seeds ship passwords in plain sight (`vextrus_dev_2024`, `minio123`,
`vextrus_grafana_2024`) and seed 002 asks for every one of them to become `${VARIABLE}`.
Before anything is rewritten the operator needs the list: where (file:line), under which
key, why it counts, and a masked form of the value that is enough to recognise it in a
review but never the value itself.

What counts, in compose files and the stack file:
- a literal value under a secret-looking name (`*_PASSWORD`, `*_SECRET`, `*_TOKEN`, `*_KEY`,
  ...), in environment mappings and `KEY=value` lists alike;
- a password inside a URL (`postgres://user:pass@host`), in any value;
- an argument after a secret option in `command:`, `entrypoint:` and healthcheck tests
  (`--requirepass x`, `redis-cli -a x`, `curl -u user:x`), and `KEY=value` inside shell
  strings;
- a hardcoded fallback in a reference (`${POSTGRES_PASSWORD:-postgres}`);
- a Vextrus or tutorial default password anywhere, a high-entropy token anywhere, and any
  other place that repeats a secret found above (those last three are for review: `apply`
  does not rewrite them, because the key does not say what they are).

`.env` files are where secrets belong, so there only weak values, known defaults and a file
mode readable by others are findings.

Findings carry enough position data (`Edit`) for `apply` to replace exactly the secret and
nothing else. Their `value` never appears in `repr()`, `describe()` or `to_dict()`.
"""

from __future__ import annotations

import asyncio
import os
import re
import stat
import tomllib
from bisect import bisect_right
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from actions.base import CancelToken, Progress, Step
from actions.secrets.policy import (
    DISTINCTIVE_DEFAULTS,
    KNOWN_DEFAULTS,
    SCHEME_VARIABLES,
    SecretsError,
    canonical_name,
    is_identifier_name,
    is_known_default,
    is_secret_flag,
    is_secret_name,
    looks_random,
    mask_value,
    seed_rank,
    service_prefixed,
)
from console.bounded_yaml import compose_yaml, yaml_error_line
from console.stackfile import toml_nesting_line

FileKind = Literal["compose", "env", "toml"]
# Kinds `apply` may rewrite: the key, option or URL says the value is a secret.
REWRITABLE_KINDS = frozenset({"literal", "default", "url", "flag", "inline", "fallback"})
COMPOSE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
ARGV_KEYS = frozenset({"command", "entrypoint", "test"})
WEAK_LENGTH = 12  # below this a password in a .env file is reported as weak
REUSE_MIN_LENGTH = 8  # shorter values repeat by accident (user names, host names)

# Each pattern below costs at most a bounded look-ahead per starting point, so a scalar of
# any size is scanned in linear time (a 20 KB word followed by a URL took 22 s before).
_URL_RE = re.compile(
    r"(?<![A-Za-z0-9+.\-])(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://"
    r"(?P<user>[^:/@\s'\"]*):(?P<val>[^@/\s'\"]+)@")
_VALUE = r"(?P<val>\"[^\"\n]*\"|'[^'\n]*'|[^\s;&|'\"]+)"
_INLINE_RE = re.compile(r"(?<![\w$.\-])(?P<key>[A-Za-z_][A-Za-z0-9_]*)=" + _VALUE)
_FLAG_RE = re.compile(r"(?<![\w\-])(?P<flag>--?[A-Za-z][\w\-]*)(?:=|[ \t]+)" + _VALUE)
_REDIS_CLI_RE = re.compile(r"\bredis-cli\b[^|;&\n]{0,200}?[ \t]-a[ \t]+(?P<val>[^\s;&|'\"]+)")
_CURL_USER_RE = re.compile(
    r"\bcurl\b[^|;&\n]{0,200}?[ \t](?:-u|--user)[ \t=]+(?P<user>[^\s:;&|'\"]+):"
    r"(?P<val>[^\s;&|'\"]+)")
_FALLBACK_RE = re.compile(
    r"\$\{(?P<var>[A-Za-z_][A-Za-z0-9_]*):?-(?P<val>(?:[^}\n$]|\$\$){0,512})\}")
_DEFAULT_RE = re.compile(
    r"(?<![A-Za-z0-9_])(?:" + "|".join(sorted(map(re.escape, DISTINCTIVE_DEFAULTS))) +
    r")(?![A-Za-z0-9_])", re.IGNORECASE)
# A slash may be inside a base64 token but does not start one (`https://`, `/data`).
_TOKEN_RE = re.compile(r"(?<![A-Za-z0-9+=_\-])[A-Za-z0-9+=_\-][A-Za-z0-9+/=_\-]{19,}")
_DIGEST_RE = re.compile(r"(?:sha256|sha512|sha1|md5)[:=@]$", re.IGNORECASE)
# `${NAME}` and `$NAME` (compose interpolates them) and `$$NAME` (compose passes `$NAME` on
# to the container, whose shell expands it). `pa$$word` is a literal `pa$word`.
_REFERENCE_RE = re.compile(r"\$\$\{?[A-Z_][A-Z0-9_]*(?![a-z])|(?<!\$)\$(?:\{[A-Za-z_]|[A-Za-z_])")
_REFERENCED_NAME_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)|\$([A-Za-z_][A-Za-z0-9_]*)")
_PATH_RE = re.compile(r"^(?:/|\./|\.\./|~/)|\.(?:pem|key|crt|cert|p12|pfx|jks|json)$")


# --- findings ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Edit:
    """Where a secret sits in the compose text, so `apply` replaces exactly it.

    `node_start` identifies the scalar (YAML's mark, which includes an `&anchor` or
    `!tag` in front of it); `raw_start:raw_end` is its text (quotes included), `start:end`
    the part of its value to replace. `editable` is False when the raw text is not the
    value verbatim (escapes, folded lines, block scalars): replacing inside it could change
    more than the secret, so such places are left for the operator.
    """

    node_start: int
    raw_start: int
    raw_end: int
    style: str  # "" plain, "'" or '"'
    flow: bool
    node_value: str
    start: int
    end: int
    editable: bool


@dataclass(frozen=True)
class Finding:
    """One hardcoded secret. `value` is the secret itself: kept for generate/apply only."""

    path: str
    line: int
    key: str
    reason: str
    kind: str
    masked: str
    service: str = ""
    value: str = field(default="", repr=False)
    candidates: tuple[str, ...] = ()
    fixed: bool = False  # the variable name is the file's own (${VAR:-fallback})
    edit: Edit | None = field(default=None, repr=False)

    @property
    def rewritable(self) -> bool:
        """`apply` replaces it with a `${VAR}` reference."""
        return self.kind in REWRITABLE_KINDS and self.edit is not None and self.edit.editable

    def location(self) -> str:
        return f"{self.path}:{self.line}"

    def describe(self) -> str:
        """One line for the operator; masked, so it is safe in logs and tickets."""
        where = f" (service {self.service})" if self.service else ""
        return f"{self.key}{where}: {self.reason} [{self.masked}]"

    def to_dict(self) -> dict[str, object]:
        """Stable JSON for scripts, without the value."""
        return {
            "file": self.path, "line": self.line, "key": self.key, "service": self.service,
            "kind": self.kind, "reason": self.reason, "masked": self.masked,
            "rewritable": self.rewritable,
        }


@dataclass(frozen=True)
class _Hit:
    """A secret found inside one string: `start:end` is replaced, `vstart:vend` is the value."""

    start: int
    end: int
    vstart: int
    vend: int
    kind: str
    reason: str
    key: str
    candidates: tuple[str, ...] = ()
    fixed: bool = False

    def shifted(self, by: int) -> _Hit:
        return replace(self, start=self.start + by, end=self.end + by,
                       vstart=self.vstart + by, vend=self.vend + by)


@dataclass
class ComposeScan:
    """What `generate` and `apply` need from a compose file."""

    path: str
    text: str
    findings: list[Finding]
    references: set[str]  # every ${NAME} the file already uses
    root: Node | None = field(default=None, repr=False)  # the parsed tree, for apply's check


# --- detection inside one string ---------------------------------------------------------


def has_reference(value: str) -> bool:
    """True when the value refers to a variable instead of spelling a secret out."""
    return bool(_REFERENCE_RE.search(value))


def _is_literal_secret(value: str) -> bool:
    """A value that is a secret in itself: not empty, not a reference, not a file path,
    not a yes/no switch (`MYSQL_RANDOM_ROOT_PASSWORD: "yes"` asks for a random one)."""
    stripped = value.strip()
    return (bool(stripped) and stripped.lower() not in _SWITCH_WORDS
            and not has_reference(stripped) and not _PATH_RE.search(stripped))


_SWITCH_WORDS = frozenset({"yes", "no", "true", "false", "on", "off", "y", "n"})


def _candidates(*names: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n for n in names if n))


def _key_candidates(key: str, service: str) -> tuple[str, ...]:
    name = canonical_name(key)
    return _candidates(name, service_prefixed(service, name) if service else "")


def value_hits(value: str, key: str, service: str) -> list[_Hit]:
    """Hits for a whole value stored under a secret name (`POSTGRES_PASSWORD: x`)."""
    if has_reference(value):
        return _fallback_hits(value, key)
    if not _is_literal_secret(value):
        return []
    lead = len(value) - len(value.lstrip())
    end = len(value.rstrip())
    default = is_known_default(value)
    kind, reason = ("default", "hardcoded secret, known default") if default else (
        "literal", "hardcoded secret")
    return [_Hit(lead, end, lead, end, kind, reason, key, _key_candidates(key, service))]


def text_hits(text: str, key: str, service: str) -> list[_Hit]:
    """Hits in free text: URLs, `K=v`, secret options, fallbacks, defaults, random tokens.

    Earlier detectors win where hits overlap: a URL password is reported as one, not also
    as a high-entropy token.
    """
    if len(text) < 3:
        return []
    hits: list[_Hit] = []
    _add_disjoint(hits, _fallback_hits(text, key))
    for detector in (_url_hits, _inline_hits, _tool_hits, _flag_hits):
        _add_disjoint(hits, detector(text, key, service))
    _add_disjoint(hits, _default_hits(text, key))
    _add_disjoint(hits, _entropy_hits(text, key))
    return sorted(hits, key=lambda h: h.start)


def _add_disjoint(hits: list[_Hit], new: Iterable[_Hit]) -> None:
    for hit in new:
        if all(hit.end <= h.start or hit.start >= h.end for h in hits):
            hits.append(hit)


def _fallback_hits(text: str, key: str) -> list[_Hit]:
    """`${POSTGRES_PASSWORD:-postgres}`: the fallback is a hardcoded secret."""
    out: list[_Hit] = []
    if "${" not in text:
        return out
    for m in _FALLBACK_RE.finditer(text):
        var, val = m["var"], m["val"]
        if (is_secret_name(var) or is_secret_name(key)) and _is_literal_secret(val):
            out.append(_Hit(m.start(), m.end(), m.start("val"), m.end("val"), "fallback",
                            f"hardcoded fallback in ${{{var}:-…}}", key, (var,), fixed=True))
    return out


def _url_hits(text: str, key: str, service: str) -> list[_Hit]:
    out: list[_Hit] = []
    if "://" not in text:  # the regex alone would try every word as a scheme
        return out
    for m in _URL_RE.finditer(text):
        if has_reference(m["val"]):
            continue
        scheme = m["scheme"].lower()
        reason = "password in a URL" + (", known default" if is_known_default(m["val"]) else "")
        names = _candidates(SCHEME_VARIABLES.get(scheme, ""), f"{canonical_name(key)}_PASSWORD",
                            service_prefixed(service, f"{canonical_name(key)}_PASSWORD"))
        out.append(_Hit(*m.span("val"), *m.span("val"), "url", reason, key, names))
    return out


def _inline_hits(text: str, key: str, service: str) -> list[_Hit]:
    """`PGPASSWORD=x pg_isready` inside a command or healthcheck string."""
    out: list[_Hit] = []
    if "=" not in text:
        return out
    for m in _INLINE_RE.finditer(text):
        start, end = _unquoted_span(m)
        val = text[start:end]
        if is_secret_name(m["key"]) and _is_literal_secret(val):
            out.append(_Hit(start, end, start, end, "inline",
                            f"hardcoded {m['key']}=… in a command", m["key"],
                            _key_candidates(m["key"], service)))
    return out


def _tool_hits(text: str, key: str, service: str) -> list[_Hit]:
    """Options whose names do not say `password`: `redis-cli -a x`, `curl -u user:x`."""
    out: list[_Hit] = []
    if "redis-cli" not in text and "curl" not in text:
        return out
    for m in _REDIS_CLI_RE.finditer(text):
        if _is_literal_secret(m["val"]):
            out.append(_Hit(*m.span("val"), *m.span("val"), "flag",
                            "hardcoded secret after redis-cli -a", key,
                            _candidates("REDIS_PASSWORD")))
    for m in _CURL_USER_RE.finditer(text):
        if _is_literal_secret(m["val"]):
            user = canonical_name(m["user"])
            out.append(_Hit(*m.span("val"), *m.span("val"), "flag",
                            "hardcoded password after curl -u", key,
                            _candidates(f"{user}_PASSWORD",
                                        service_prefixed(service, f"{user}_PASSWORD"))))
    return out


def _flag_hits(text: str, key: str, service: str) -> list[_Hit]:
    """`--requirepass x`, `--password=x`, `--api-key x` in a command string."""
    out: list[_Hit] = []
    if "-" not in text:
        return out
    for m in _FLAG_RE.finditer(text):
        start, end = _unquoted_span(m)
        val = text[start:end]
        if is_secret_flag(m["flag"]) and not val.startswith("-") and _is_literal_secret(val):
            out.append(_Hit(start, end, start, end, "flag",
                            f"hardcoded secret after {m['flag']}", key,
                            _flag_candidates(m["flag"], service, text)))
    return out


def _flag_candidates(flag: str, service: str, context: str) -> tuple[str, ...]:
    """`--requirepass` is Redis's password; other options are named after themselves."""
    bare = flag.lstrip("-").lower()
    if bare in ("requirepass", "masterauth") or (bare == "a" and "redis" in context):
        return _candidates("REDIS_PASSWORD")
    name = canonical_name(bare)
    return _candidates(service_prefixed(service, name) if service else name, name)


def _unquoted_span(m: re.Match[str]) -> tuple[int, int]:
    start, end = m.span("val")
    if m["val"][:1] in "\"'" and len(m["val"]) >= 2:
        return start + 1, end - 1
    return start, end


def _default_hits(text: str, key: str) -> list[_Hit]:
    return [_Hit(m.start(), m.end(), m.start(), m.end(), "suspect",
                 "known default password in a value (review: the key does not say secret)",
                 key) for m in _DEFAULT_RE.finditer(text)]


def _entropy_hits(text: str, key: str) -> list[_Hit]:
    out = []
    for m in _TOKEN_RE.finditer(text):
        if _DIGEST_RE.search(text[max(0, m.start() - 8):m.start()]):
            continue  # content digests (image@sha256:...) are public
        if looks_random(m.group(0)):
            out.append(_Hit(m.start(), m.end(), m.start(), m.end(), "entropy",
                            "high-entropy literal (looks like a generated key; review)", key))
    return out


# --- compose files -------------------------------------------------------------------------


def scan_compose_text(text: str, source: str) -> ComposeScan:
    """Parse and scan one compose file; raises SecretsError naming the file."""
    root = _compose_root(text, source)
    scanner = _ComposeScanner(text, source)
    scanner.node(root, (), "", False)
    scanner.reuse_pass()
    findings = sorted(scanner.findings, key=lambda f: (f.line, f.edit.start if f.edit else 0))
    return ComposeScan(source, text, findings, scanner.references, root)


def _compose_root(text: str, source: str) -> MappingNode:
    try:
        root = compose_yaml(text)
    except yaml.YAMLError as exc:
        raise SecretsError(yaml_error_line(exc, source)) from None
    if not isinstance(root, MappingNode):
        raise SecretsError(f"{source}: not a compose file: expected a mapping at the top level")
    if not any(isinstance(k, ScalarNode) and k.value == "services" for k, _ in root.value):
        raise SecretsError(f"{source}: not a compose file: no `services:` mapping")
    return root


class _ComposeScanner:
    """Walks the YAML node tree (which keeps source positions) and records findings."""

    def __init__(self, text: str, source: str) -> None:
        self.text, self.source = text, source
        self.findings: list[Finding] = []
        self.references: set[str] = set()
        self._scalars: list[tuple[ScalarNode, str, bool, str]] = []
        self._covered: dict[int, list[tuple[int, int]]] = {}
        self._seen: set[int] = set()
        self.line_starts = line_starts(text)

    def node(self, node: Node, path: tuple[str, ...], service: str, flow: bool) -> None:
        """Visit a node once (an anchor used by several services is reported where it is)."""
        if id(node) in self._seen:
            return
        self._seen.add(id(node))
        if isinstance(node, MappingNode):
            self._mapping(node, path, service)
        elif isinstance(node, SequenceNode):
            self._sequence(node, path, service)
        elif isinstance(node, ScalarNode):
            key = path[-1] if path else ""
            self._record(node, service, flow, text_hits(str(node.value), key, service), key)

    def _mapping(self, node: MappingNode, path: tuple[str, ...], service: str) -> None:
        for key_node, value in node.value:
            key = str(key_node.value) if isinstance(key_node, ScalarNode) else ""
            svc = key if path == ("services",) else service
            if isinstance(value, ScalarNode):
                if id(value) not in self._seen and key != "image":
                    self._seen.add(id(value))
                    self._record(value, svc, bool(node.flow_style),
                                 self._pair_hits(key, str(value.value), svc, value), key)
            else:
                self.node(value, (*path, key), svc, False)

    def _pair_hits(self, key: str, value: str, service: str, node: ScalarNode) -> list[_Hit]:
        if is_secret_name(key):
            return [] if _scalar_unset(node) else value_hits(value, key, service)
        return text_hits(value, key, service)

    def _sequence(self, node: SequenceNode, path: tuple[str, ...], service: str) -> None:
        last = path[-1] if path else ""
        items = list(node.value)
        flow = bool(node.flow_style)
        for i, item in enumerate(items):
            if not isinstance(item, ScalarNode) or id(item) in self._seen:
                self.node(item, (*path, str(i)), service, flow)
                continue
            self._seen.add(id(item))
            value = str(item.value)
            if last == "environment":
                hits = _env_item_hits(value, service)
            elif last in ARGV_KEYS:
                hits = _argv_hits(items, i, last, service)
            else:
                hits = text_hits(value, last, service)
            self._record(item, service, flow, hits, last)

    def _record(self, node: ScalarNode, service: str, flow: bool, hits: list[_Hit],
                key: str) -> None:
        value = str(node.value)
        if "$" in value:
            for name in _REFERENCED_NAME_RE.findall(value.replace("$$", "")):
                self.references.add(name[0] or name[1])
        self._scalars.append((node, service, flow, key))
        for hit in hits:
            self._add(node, service, flow, hit)

    def _add(self, node: ScalarNode, service: str, flow: bool, hit: _Hit) -> None:
        edit = _edit_for(self.text, node, flow, hit)
        secret = str(node.value)[hit.vstart:hit.vend]
        self._covered.setdefault(id(node), []).append((hit.start, hit.end))
        self.findings.append(Finding(
            path=self.source, line=self._line_of(node, edit, hit), key=hit.key,
            reason=hit.reason, kind=hit.kind, masked=mask_value(secret), service=service,
            value=secret, candidates=hit.candidates, fixed=hit.fixed, edit=edit))

    def _line_of(self, node: ScalarNode, edit: Edit, hit: _Hit) -> int:
        """The line of the secret itself (a long command may span lines)."""
        if not edit.editable:
            return int(node.start_mark.line) + 1
        offset = edit.raw_start + (1 if edit.style else 0) + hit.vstart
        return bisect_right(self.line_starts, offset)

    def reuse_pass(self) -> None:
        """Report every other value that repeats a secret: a healthcheck with the Redis
        password, a connection string in an unusual key. For review, not rewritten.

        One pass over the scalars with a dictionary of the secrets, so the cost grows with
        the file, not with files times secrets. A repeat counts only as a whole token in a
        value position (`- KEY=secret`, `--opt secret`, a whole value): never inside a
        name, a host or a path (`temporal-network`, `temporal:7233`, `/etc/temporal/`),
        nor under keys that hold names (`container_name`, `depends_on`, `*_USER`, `*_DB`).
        """
        secrets_found: dict[str, Finding] = {}
        for f in sorted(self.findings, key=lambda f: f.line):  # a repeat names the first
            if f.kind in REWRITABLE_KINDS and len(f.value) >= REUSE_MIN_LENGTH \
                    and f.value.lower() not in KNOWN_DEFAULTS - DISTINCTIVE_DEFAULTS:
                secrets_found.setdefault(f.value, f)
        if not secrets_found:
            return
        for node, service, flow, key in self._scalars:
            if is_name_key(key):
                continue
            for start, end in _value_tokens(str(node.value), environment=key == "environment"):
                origin = secrets_found.get(str(node.value)[start:end])
                if origin is None or self._is_covered(node, start, end):
                    continue
                self._add(node, service, flow, _Hit(
                    start, end, start, end, "reuse",
                    f"repeats the secret of {origin.key} at line {origin.line} (review)",
                    origin.key))

    def _is_covered(self, node: ScalarNode, start: int, end: int) -> bool:
        return any(start < e and end > s for s, e in self._covered.get(id(node), []))


# Words separated by blanks, quotes and shell punctuation: the tokens a value is made of.
_WORD_RE = re.compile(r"[^\s'\"`,;&|()<>]+")
# Options whose argument is a name (a user, a host, a database), not a secret.
_NAME_FLAGS = frozenset({"-u", "-U", "--user", "--username", "-h", "--host", "-d", "--dbname",
                         "--database", "--name", "-n", "--hostname"})


def _value_tokens(text: str, environment: bool = False) -> Iterator[tuple[int, int]]:
    """Spans of the whole tokens in value positions of `text`.

    A word is a value unless a name option precedes it (`-U temporal`); in `NAME=value`
    and `-option=value` the value counts unless the name holds names (`MYSQL_USER=nextcloud`,
    `-Dspring.datasource.username=temporal`). A whole list item
    of `environment:` is always `NAME=value`.
    """
    previous = ""
    for m in _WORD_RE.finditer(text):
        word, start = m.group(), m.start()
        name, sep, _ = word.partition("=")
        if sep and name and not name.startswith("-") and (
                environment or _ENV_NAME_RE.match(name)):
            if not is_name_key(name):
                yield start + len(name) + 1, m.end()
        elif sep and name.startswith("-"):
            # `--db-host=x`, `-Dspring.datasource.username=x`: the option says it is a name
            if name not in _NAME_FLAGS and not is_name_key(name.lstrip("-")):
                yield start + len(name) + 1, m.end()
        elif previous not in _NAME_FLAGS and not environment:
            yield start, m.end()
        previous = word


_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*$")
# Keys whose values are names, hosts, paths or references to other parts of the file.
_NAME_KEYS = frozenset({
    "image", "container_name", "hostname", "domainname", "name", "depends_on", "links",
    "external_links", "networks", "network_mode", "volumes", "volumes_from", "profiles",
    "extends", "service", "user", "working_dir", "env_file", "build", "context",
    "dockerfile", "target", "secrets", "configs", "ports", "expose", "driver", "platform",
    "pid", "ipc", "restart", "mac_address", "dns", "dns_search", "extra_hosts", "tmpfs",
    "devices", "cap_add", "cap_drop", "source", "file", "condition", "aliases",
})
_NAME_SUFFIX_RE = re.compile(
    r"(?:^|[_.\-])(?:user|username|login|db|database|dbname|name|host|hostname|hosts|addr"
    r"|address|server|servers|seeds|port|path|dir|file|email|domain|realm|schema|bucket"
    r"|region|role|owner|group|type|mode|driver)$", re.IGNORECASE)


def is_name_key(key: str) -> bool:
    """True when values under `key` are names, hosts or paths (never where a secret goes)."""
    return key in _NAME_KEYS or bool(_NAME_SUFFIX_RE.search(key))


def line_starts(text: str) -> list[int]:
    """Offsets of the line starts: a line number is a binary search, not a count."""
    return [0, *(m.end() for m in re.finditer("\n", text))]


def _scalar_unset(node: ScalarNode) -> bool:
    """`KEY:` (null) or `KEY: true`: YAML did not read a string, so no literal secret.

    A plain scalar has style None from the pure-Python parser and '' from libyaml's (which
    console.bounded_yaml uses): both mean "not quoted"."""
    return not node.style and node.tag in (
        "tag:yaml.org,2002:null", "tag:yaml.org,2002:bool")


def _env_item_hits(item: str, service: str) -> list[_Hit]:
    """`- POSTGRES_PASSWORD=x` (compose's list form of `environment:`)."""
    key, sep, value = item.partition("=")
    if not sep:
        return []  # `- NAME` passes the variable through from the shell
    offset = len(key) + 1
    key = key.strip()
    hits = value_hits(value, key, service) if is_secret_name(key) else text_hits(
        value, key, service)
    return [h.shifted(offset) for h in hits]


def _argv_hits(items: Sequence[Node], i: int, key: str, service: str) -> list[_Hit]:
    """An exec-form argument: secret when the previous argument is a secret option."""
    value = str(items[i].value)
    previous = items[i - 1] if i > 0 else None
    flag = str(previous.value) if isinstance(previous, ScalarNode) else ""
    words = [str(n.value) for n in items[:i] if isinstance(n, ScalarNode)]
    takes_secret = flag.startswith("-") and (
        is_secret_flag(flag) or (flag == "-a" and any(w.endswith("redis-cli") for w in words)))
    if takes_secret and not value.startswith("-") and _is_literal_secret(value):
        return [_Hit(0, len(value), 0, len(value), "flag", f"hardcoded secret after {flag}",
                     key, _flag_candidates(flag, service, " ".join(words)))]
    return text_hits(value, key, service)


_PROPERTIES_RE = re.compile(r"(?:[&!]\S*\s+)*")  # `&anchor !!str ` before a scalar


def _edit_for(text: str, node: ScalarNode, flow: bool, hit: _Hit) -> Edit:
    start, end = node.start_mark.index, node.end_mark.index
    props = _PROPERTIES_RE.match(text, start, end)
    raw_start = props.end() if props else start
    raw = text[raw_start:end]
    style = node.style or ""
    value = str(node.value)
    if style in ("'", '"'):
        editable = len(raw) >= 2 and raw[0] == raw[-1] == style and raw[1:-1] == value
    else:
        editable = style == "" and raw == value
    return Edit(start, raw_start, end, style, flow, value, hit.start, hit.end, editable)


# --- .env files ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EnvEntry:
    """One `KEY=value` line of an env file (value unquoted as compose reads it)."""

    key: str
    value: str
    line: int
    export: bool = False


_ENV_LINE_RE = re.compile(
    r"^\s*+(?P<export>export\s+)?(?P<key>[A-Za-z_][A-Za-z0-9_.\-]*+)\s*+=\s*+(?P<raw>.*)$")


def parse_env(text: str) -> list[EnvEntry]:
    """Parse an env file the way docker compose does for the common cases."""
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("#"):
            continue
        m = _ENV_LINE_RE.match(line)
        if m:
            raw = m["raw"].rstrip()  # in code: `.*?\s*$` was quadratic on a line of blanks
            entries.append(EnvEntry(m["key"], env_value(raw), number, bool(m["export"])))
    return entries


def env_value(raw: str) -> str:
    """Unquote a value: '…' is literal, "…" takes \\-escapes, bare values end at ` #`."""
    if raw[:1] == "'" and raw.find("'", 1) > 0:
        return raw[1:raw.find("'", 1)]
    if raw[:1] == '"':
        m = re.match(r'"((?:[^"\\]|\\.)*)"', raw)
        if m:
            return re.sub(r"\\(.)", lambda e: {"n": "\n", "t": "\t"}.get(e[1], e[1]), m[1])
    return re.split(r"(?<!\s)\s++#", raw, maxsplit=1)[0].strip()  # each blank run once


def scan_env_text(text: str, source: str, mode: int | None) -> list[Finding]:
    """Weak or default secrets in an env file, and a file mode others can read."""
    findings: list[Finding] = []
    holds_secrets = False
    for entry in parse_env(text):
        secret = _env_secret(entry)
        if secret is None:
            continue
        holds_secrets = True
        problem = _weakness(secret, entry.key)
        if problem:
            findings.append(Finding(source, entry.line, entry.key, problem, "weak",
                                    mask_value(secret), value=secret))
    if holds_secrets and mode is not None and mode & 0o077:
        findings.append(Finding(
            source, 1, "(file mode)", f"secrets readable by group or others (mode "
            f"{mode:04o}): chmod 600 {source}", "mode", "-"))
    return findings


def _env_secret(entry: EnvEntry) -> str | None:
    """The secret an env line holds: the value of a secret name, or a URL's password."""
    if is_secret_name(entry.key) and _is_literal_secret(entry.value):
        return entry.value
    m = _URL_RE.search(entry.value)
    if m and not has_reference(m["val"]):
        return m["val"]
    default = _DEFAULT_RE.search(entry.value)
    return default[0] if default else None


def _weakness(secret: str, key: str) -> str:
    if is_known_default(secret):
        return "known default password"
    if len(secret) < WEAK_LENGTH and not is_identifier_name(key):
        return f"weak secret: {len(secret)} characters (generate makes 32)"
    return ""


# --- the stack file (TOML) ----------------------------------------------------------------

_TOML_STRING_RE = re.compile(
    r"(?:(?<![A-Za-z0-9_\-\"])(?P<key>[A-Za-z0-9_\-]++|\"[^\"\n]++\")\s*+=\s*+)?"
    r"(?:\"(?P<basic>(?:[^\"\\\n]|\\.)*)\"|'(?P<literal>[^'\n]*)')")


def scan_toml_text(text: str, source: str) -> list[Finding]:
    """The stack file should hold variable names (`password_env`) only, never values."""
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SecretsError(f"{source}: not valid TOML: {exc}") from None
    except RecursionError:
        deep = toml_nesting_line(text)
        where = f"{source}:{deep}" if deep else source
        raise SecretsError(f"{where}: refused: arrays or inline tables nested too deeply"
                           ) from None
    findings = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("#"):
            continue
        for m in _TOML_STRING_RE.finditer(line):
            value = m["basic"] if m["basic"] is not None else m["literal"] or ""
            key = (m["key"] or "").strip('"')
            hits = (value_hits(value, key, "") if key and is_secret_name(key)
                    else text_hits(value, key or "(string)", ""))
            for hit in hits:
                secret = value[hit.vstart:hit.vend]
                findings.append(Finding(source, number, hit.key or "(string)", hit.reason,
                                        hit.kind, mask_value(secret), value=secret))
    return findings


# --- files, discovery and the action --------------------------------------------------------


@dataclass(frozen=True)
class ScanTarget:
    """A file to scan. `text` is set for the bundled stack file, which has no path.

    `copy` marks a backup or temporary copy of a secret-bearing file (`NAME.bak`,
    `.NAME.<hex>.tmp`): it holds the secrets the file held, so it is scanned like it, and
    its mode must keep them from other users.
    """

    label: str
    kind: FileKind
    path: Path | None = None
    text: str | None = None
    copy: bool = False


def read_text_file(path: Path) -> str:
    """Read UTF-8 text; every failure is a SecretsError whose message names the file."""
    try:
        if path.is_dir():
            raise SecretsError(f"{path}: is a directory, not a file")
        data = path.read_bytes()
    except FileNotFoundError:
        raise SecretsError(f"{path}: file not found") from None
    except PermissionError:
        raise SecretsError(f"{path}: permission denied") from None
    except OSError as exc:
        raise SecretsError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretsError(f"{path}: not UTF-8 text") from None


def classify(path: Path) -> FileKind:
    """By name: `*.toml` is a stack file, `.env*`/`*.env` an env file, the rest compose."""
    name = path.name
    if name.endswith(".toml"):
        return "toml"
    if name.startswith(".env") or name.endswith(".env"):
        return "env"
    return "compose"


def discover(paths: Sequence[str], stack: str | None) -> list[ScanTarget]:
    """The files to scan: those named, directories expanded, and the stack file.

    With no paths, the current directory. Directories contribute their compose files and
    `.env*` files. The stack file is `--stack` or the bundled inventory.
    """
    targets: list[ScanTarget] = []
    for raw in paths or ["."]:
        path = Path(raw)
        if path.is_dir():
            targets.extend(_directory_targets(path))
        elif path.exists() or path.is_symlink():
            original = copy_of(path.name)
            kind = classify(Path(original)) if original else classify(path)
            targets.append(ScanTarget(str(path), kind, path, copy=bool(original)))
            targets.extend(_copies_of(path))
        else:
            raise SecretsError(f"{raw}: file not found")
    targets.append(_stack_target(stack))
    return list({t.label: t for t in targets}.values())


_TMP_COPY_RE = re.compile(r"\.(?P<name>.+)\.[0-9a-f]{12}\.tmp")  # console.fileio's temporaries


def copy_of(name: str) -> str | None:
    """The file `name` is a backup or temporary copy of (`x.yml.bak`, `.x.yml.<hex>.tmp`)."""
    if name.endswith(".bak") and len(name) > 4:
        return name[:-4]
    m = _TMP_COPY_RE.fullmatch(name)
    return m["name"] if m else None


def _secret_bearing(name: str) -> bool:
    """Compose files and env files: the files `secrets` finds, generates or rewrites."""
    compose = name in COMPOSE_NAMES or re.fullmatch(r"(?:docker-)?compose\.[\w.\-]+\.ya?ml", name)
    return bool(compose) or classify(Path(name)) == "env"


def _directory_targets(directory: Path) -> list[ScanTarget]:
    """Compose and env files, and their backups and temporaries (`secrets apply` leaves
    `docker-compose.yml.bak` with every secret the file had)."""
    found = []
    for entry in sorted(directory.iterdir()):
        name = entry.name
        if not entry.is_file() or entry.is_symlink():
            continue
        original = copy_of(name)
        if _secret_bearing(original or name):
            found.append(ScanTarget(str(entry), classify(Path(original or name)), entry,
                                    copy=bool(original)))
    return found


def _copies_of(path: Path) -> list[ScanTarget]:
    """The backup and temporaries next to a file named on the command line."""
    kind = classify(path)
    directory = path.parent
    try:
        names = sorted(e.name for e in directory.iterdir())
    except OSError:
        return []
    return [ScanTarget(str(directory / n), kind, directory / n, copy=True) for n in names
            if copy_of(n) == path.name and (directory / n).is_file()
            and not (directory / n).is_symlink()]


def _stack_target(stack: str | None) -> ScanTarget:
    if stack:
        path = Path(stack)
        if not path.exists():
            raise SecretsError(f"{stack}: file not found")
        return ScanTarget(stack, "toml", path)
    text = resources.files("console").joinpath("data", "vextrus.toml").read_text("utf-8")
    return ScanTarget("<bundled stack file>", "toml", None, text)


def scan_target(target: ScanTarget) -> list[Finding]:
    """Read and scan one file (blocking: run it in a thread)."""
    text = target.text if target.text is not None else read_text_file(target.path or Path())
    if target.kind == "env":
        return scan_env_text(text, target.label, _mode(target.path))
    if target.kind == "compose":
        found = _scan_compose_or_lines(text, target)
    else:
        found = scan_toml_text(text, target.label)
    mode = _mode(target.path)
    if target.copy and found and mode is not None and mode & 0o077:
        found.append(Finding(
            target.label, 1, "(file mode)", f"a copy with secrets readable by group or others "
            f"(mode {mode:04o}): chmod 600 {target.label}, or delete it", "mode", "-"))
    return found


def _scan_compose_or_lines(text: str, target: ScanTarget) -> list[Finding]:
    """A copy cut short by a crash is not valid YAML but still holds secrets: line by line."""
    try:
        return scan_compose_text(text, target.label).findings
    except SecretsError:
        if not target.copy:
            raise
    findings = []
    for number, line in enumerate(text.splitlines(), start=1):
        m = _LOOSE_PAIR_RE.match(line)
        key, value = (m["key"], m["value"].strip().strip("\"'")) if m else ("", line)
        hits = (value_hits(value, key, "") if key and is_secret_name(key)
                else text_hits(value, key or "(text)", ""))
        for hit in hits:
            secret = value[hit.vstart:hit.vend]
            findings.append(Finding(target.label, number, hit.key or "(text)", hit.reason,
                                    hit.kind, mask_value(secret), value=secret))
    return findings


_LOOSE_PAIR_RE = re.compile(
    r"^\s*(?:-\s*)?[\"']?(?P<key>[A-Za-z_][\w.\-]*)[\"']?\s*[:=]\s*(?P<value>.+)$")


def _mode(path: Path | None) -> int | None:
    try:
        return stat.S_IMODE(os.stat(path).st_mode) if path else None
    except OSError:
        return None


def load_compose(path: Path) -> ComposeScan:
    """Read and scan a compose file for generate/apply."""
    return scan_compose_text(read_text_file(path), str(path))


class SecretsScan:
    """Read-only: reports findings, changes nothing."""

    name = "secrets-scan"
    writes = False

    def __init__(self, targets: Sequence[ScanTarget]) -> None:
        self.targets = list(targets)
        self.target = ", ".join(t.label for t in self.targets[:3]) + (
            "…" if len(self.targets) > 3 else "")
        self.findings: list[Finding] = []

    def plan(self) -> list[Step]:
        return [Step(f"scan {t.label}", f"scan {t.label} ({t.kind}) for hardcoded secrets",
                     t.label) for t in self.targets]

    async def run(self, cancel: CancelToken) -> AsyncIterator[Progress]:
        dirty = 0
        for target in self.targets:
            cancel.check()
            found = await asyncio.to_thread(scan_target, target)
            self.findings.extend(found)
            for f in found:
                yield Progress("info", f.location(), f.describe(), data=f.to_dict())
            dirty += bool(found)
            yield (Progress("failed", target.label, f"{len(found)} finding(s)") if found
                   else Progress("ok", target.label, "no hardcoded secrets"))
        yield Progress("done", "", f"{len(self.findings)} finding(s) in {dirty} of "
                       f"{len(self.targets)} file(s)",
                       data={"findings": len(self.findings)})


# --- which variable each secret becomes ------------------------------------------------------


@dataclass(frozen=True)
class Assignment:
    """A variable and every place in the compose file that will reference it."""

    variable: str
    value: str = field(repr=False)
    findings: tuple[Finding, ...] = ()


def assign_variables(findings: Sequence[Finding]) -> list[Assignment]:
    """One variable per secret value, shared by every place that holds that value.

    Places that shared a password (postgres's POSTGRES_PASSWORD, auth's DATABASE_PASSWORD
    and the password in auth's DATABASE_URL) must still share it after the rewrite, or a
    rotation would lock the clients out; so they are grouped by value and the group gets
    the best name (a seed variable if any applies). Tutorial defaults (`admin`, `guest`)
    are shared by accident, so those are grouped by value and name together. A name is
    never given to two different values: the later one gets its service-prefixed name.
    """
    groups: dict[tuple[str, ...], list[Finding]] = {}
    for f in findings:
        if f.rewritable:
            groups.setdefault(_group_key(f), []).append(f)
    ordered = sorted(groups.values(), key=lambda g: (not g[0].fixed, g[0].line))
    by_name: dict[str, Assignment] = {}
    for members in ordered:
        name = _choose_name(members, by_name)
        previous = by_name.get(name)
        joined = previous.findings if previous else ()
        by_name[name] = Assignment(name, members[0].value, (*joined, *members))
    return sorted(by_name.values(), key=lambda a: (seed_rank(a.variable), a.findings[0].line))


def _group_key(f: Finding) -> tuple[str, ...]:
    if f.fixed:
        return ("variable", f.candidates[0])
    if f.value.lower() in KNOWN_DEFAULTS - DISTINCTIVE_DEFAULTS:
        return ("default", f.value, f.candidates[0] if f.candidates else f.key)
    return ("value", f.value)


def _choose_name(members: Sequence[Finding], by_name: dict[str, Assignment]) -> str:
    """The first preferred name that is free, or already holds this same value."""
    names = [n for f in members for n in (f.candidates or (canonical_name(f.key),))]
    ordered = sorted(dict.fromkeys(names), key=lambda n: (seed_rank(n), names.index(n)))
    for name in ordered:
        if name not in by_name or by_name[name].value == members[0].value:
            return name
    base, number = ordered[0] if ordered else "SECRET", 2
    while f"{base}_{number}" in by_name:
        number += 1
    return f"{base}_{number}"

