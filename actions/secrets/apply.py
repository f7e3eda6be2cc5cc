"""`secrets apply`: rewrite the compose file so its secrets become `${VARIABLE}` references.

Seed 002: "Replace all hardcoded passwords with ${VARIABLE_NAME}". The rewrite is a text
edit, not a YAML round-trip: only the characters of each secret change (or, for a
`${VAR:-fallback}`, the fallback is dropped); comments, indentation, quoting, anchors and
key order stay byte for byte. Each edited scalar keeps its quote style; a plain scalar
inside a flow collection (`[CMD, redis-cli, -a, x]`) gets double quotes, because `{` and
`}` would end a flow collection early. The result is parsed again and compared with the
original node by node: if anything but the secrets would change, nothing is written.

The same variable names as `secrets generate` are used (`assign_variables`), and the env
file must hold all of them before the compose file is rewritten; otherwise compose would
quietly substitute empty passwords. Optionally the env file's secrets are emitted as a
Kubernetes Secret manifest (base64 `data`, mode 0600) or as Docker secret files.
"""

from __future__ import annotations

import asyncio
import base64
import difflib
import os
import re
import stat
from bisect import bisect_right
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from actions.base import ActionError, CancelToken, Progress, Step
from actions.secrets.policy import SecretsError, mask_value
from actions.secrets.scan import (
    ComposeScan,
    Edit,
    Finding,
    assign_variables,
    line_starts,
    load_compose,
    parse_env,
    read_text_file,
)
from console.bounded_yaml import compose_yaml
from console.fileio import write_text_atomic

Emit = Literal["k8s", "docker-secrets"]
EMITS: tuple[Emit, ...] = ("k8s", "docker-secrets")
SECRET_FILE_MODE = 0o600
K8S_OBJECT_NAME = "vextrus-secrets"  # metadata.name of the emitted Kubernetes Secret
_K8S_NAME_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


class RewriteError(ActionError):
    """The rewrite would change more than the secrets: nothing is written."""


@dataclass(frozen=True)
class Replacement:
    finding: Finding
    variable: str


@dataclass
class ApplyPlan:
    """The rewritten compose text and everything the operator should see before it lands."""

    compose_path: Path
    env_path: Path
    old_text: str = field(repr=False)
    new_text: str = field(repr=False)
    replacements: list[Replacement]
    left: list[Finding]  # found, but not rewritten (review by hand)
    missing: list[str]  # variables the rewrite needs that the env file lacks
    env_values: dict[str, str] = field(repr=False)
    secrets_by_line: dict[int, list[str]] = field(repr=False)  # for masking the diff

    @property
    def changed(self) -> bool:
        return self.old_text != self.new_text

    @property
    def variables(self) -> list[str]:
        return list(dict.fromkeys(r.variable for r in self.replacements))

    def diff(self, reveal: bool = False) -> str:
        """Unified diff of the compose file; secret values masked unless `reveal`."""
        name = str(self.compose_path)
        old, new = self.old_text.splitlines(keepends=True), self.new_text.splitlines(keepends=True)
        if len(old) == len(new):  # always, for a rewrite: a line-by-line diff is linear
            lines = same_length_diff(old, new, name, f"{name} (after apply)")
        else:  # pragma: no cover - kept for safety
            lines = list(difflib.unified_diff(old, new, fromfile=name,
                                              tofile=f"{name} (after apply)"))
        out = [line if line.endswith("\n") else line + "\n" for line in lines]
        return "".join(out if reveal else mask_diff(out, self.secrets_by_line))


def same_length_diff(old: list[str], new: list[str], fromfile: str, tofile: str,
                     context: int = 3) -> list[str]:
    """`difflib.unified_diff` for two texts with the same number of lines, where line i
    can only have become line i: the same output, in one pass (difflib searches for moved
    blocks and took seconds on a 5,000-service file)."""
    changed = [i for i in range(len(old)) if old[i] != new[i]]
    if not changed:
        return []
    out = [f"--- {fromfile}\n", f"+++ {tofile}\n"]
    groups: list[list[int]] = [[changed[0]]]
    for i in changed[1:]:
        if i - groups[-1][-1] - 1 > 2 * context:
            groups.append([i])
        else:
            groups[-1].append(i)
    for group in groups:
        first, last = max(0, group[0] - context), min(len(old), group[-1] + context + 1)
        size = last - first
        out.append(f"@@ -{_hunk_range(first, size)} +{_hunk_range(first, size)} @@\n")
        i = first
        while i < last:
            if old[i] == new[i]:
                out.append(" " + old[i])
                i += 1
                continue
            end = i
            while end < last and old[end] != new[end]:
                end += 1
            out += ["-" + line for line in old[i:end]] + ["+" + line for line in new[i:end]]
            i = end
    return out


def _hunk_range(first: int, size: int) -> str:
    """difflib's notation: `start,length`, or just `start` for one line."""
    return f"{first + 1}" if size == 1 else f"{first + 1},{size}"


_HUNK_RE = re.compile(r"@@ -(\d+)(?:,\d+)? \+(\d+)")


def mask_diff(lines: list[str], secrets_by_line: dict[int, list[str]]) -> list[str]:
    """Mask the secrets on the lines where the scan found them.

    Masking every occurrence of a short value everywhere would also mangle `image:
    minio/minio` when the password is `minio`; so a value is masked on its own lines (every
    line of its YAML scalar, see `secrets_by_line`), and longer values (which do not occur
    by accident) wherever they appear, found through their first four characters so the
    cost grows with the diff, not with diff x secrets. The rewrite never adds or removes
    lines, so old and new line numbers are the same.
    """
    everywhere = _Occurrences(v for values in secrets_by_line.values() for v in values
                              if len(v) >= 8)
    out, old_no, new_no = [], 0, 0
    for line in lines:
        hunk = _HUNK_RE.match(line)
        if hunk:
            old_no, new_no = int(hunk[1]), int(hunk[2])
            out.append(line)
            continue
        if line.startswith(("---", "+++")) and not old_no:
            out.append(line)
            continue
        number = new_no if line.startswith("+") else old_no
        out.append(mask_text(line, {*secrets_by_line.get(number, ()), *everywhere.find(line)}))
        old_no += not line.startswith("+")
        new_no += not line.startswith("-")
    return out


class _Occurrences:
    """Which of many long values occur in a line: one dictionary lookup per character."""

    def __init__(self, values: Iterable[str]) -> None:
        self.by_prefix: dict[str, set[str]] = {}
        for value in values:
            self.by_prefix.setdefault(value[:4], set()).add(value)

    def find(self, line: str) -> set[str]:
        found: set[str] = set()
        if not self.by_prefix:
            return found
        for i in range(len(line) - 3):
            for value in self.by_prefix.get(line[i:i + 4], ()):
                if line.startswith(value, i):
                    found.add(value)
        return found


def mask_text(text: str, values: Iterable[str]) -> str:
    """Replace each secret value in `text` by its masked form, longest first."""
    for value in sorted(set(v for v in values if v), key=len, reverse=True):
        text = text.replace(value, mask_value(value))
    return text


# --- the rewrite --------------------------------------------------------------------------


def rewrite_compose(scan: ComposeScan) -> tuple[str, list[Replacement]]:
    """New compose text with every rewritable secret replaced by `${VARIABLE}`."""
    replacements = [Replacement(f, a.variable) for a in assign_variables(scan.findings)
                    for f in a.findings]
    by_node: dict[int, list[Replacement]] = {}
    for r in replacements:
        assert r.finding.edit is not None  # rewritable findings always have one
        by_node.setdefault(r.finding.edit.node_start, []).append(r)
    pieces: list[str] = []
    done = 0  # the old text is copied once, piece by piece (not once per secret)
    expected: dict[int, str] = {}
    for start in sorted(by_node):
        group = by_node[start]
        edit = _edit(group[0])
        value = _replaced_value(edit.node_value, group)
        expected[start] = value
        pieces += [scan.text[done:edit.raw_start], _render_scalar(value, edit)]
        done = edit.raw_end
    text = "".join([*pieces, scan.text[done:]])
    if replacements:
        verify_rewrite(scan.text, text, expected, scan.path, old_root=scan.root)
    return text, sorted(replacements, key=lambda r: r.finding.line)


def _edit(r: Replacement) -> Edit:
    if r.finding.edit is None:  # pragma: no cover - filtered by `rewritable`
        raise RewriteError(f"{r.finding.location()}: no position to rewrite")
    return r.finding.edit


def _replaced_value(value: str, group: list[Replacement]) -> str:
    """Replace each secret inside one scalar, right to left so offsets stay valid."""
    for r in sorted(group, key=lambda r: _edit(r).start, reverse=True):
        edit = _edit(r)
        value = value[:edit.start] + "${" + r.variable + "}" + value[edit.end:]
    return value


def _render_scalar(value: str, edit: Edit) -> str:
    """The scalar's new source text, in its old quote style where YAML allows it."""
    if edit.style == "'":
        return "'" + value.replace("'", "''") + "'"
    if edit.style == '"' or edit.flow:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


def verify_rewrite(old: str, new: str, expected: dict[int, str], source: str,
                   old_root: Node | None = None) -> None:
    """Parse the new text and check that only the expected scalars changed (`old_root`:
    the old text's tree when the caller has it already)."""
    try:
        old_root = old_root or compose_yaml(old)
        new_root = compose_yaml(new)
    except yaml.YAMLError as exc:
        raise RewriteError(f"{source}: the rewrite would not parse ({' '.join(str(exc).split())})"
                           "; nothing written") from None
    problem = _compare(old_root, new_root, expected)
    if problem:
        raise RewriteError(f"{source}: the rewrite would change {problem}; nothing written")


def _compare(a: Node | None, b: Node | None, expected: dict[int, str]) -> str:
    """'' when `b` is `a` with the expected scalars replaced, else what differs."""
    if type(a) is not type(b):
        return "the document structure"
    if isinstance(a, ScalarNode) and isinstance(b, ScalarNode):
        want = expected.get(a.start_mark.index, a.value)
        changed = a.start_mark.index in expected
        if b.value != want or (not changed and a.tag != b.tag):
            return f"the value at line {a.start_mark.line + 1}"
        return ""
    if isinstance(a, SequenceNode) and isinstance(b, SequenceNode):
        if len(a.value) != len(b.value):
            return f"the list at line {a.start_mark.line + 1}"
        return next((p for x, y in zip(a.value, b.value, strict=True)
                     if (p := _compare(x, y, expected))), "")
    if isinstance(a, MappingNode) and isinstance(b, MappingNode):
        if len(a.value) != len(b.value):
            return f"the mapping at line {a.start_mark.line + 1}"
        for (ka, va), (kb, vb) in zip(a.value, b.value, strict=True):
            problem = _compare(ka, kb, expected) or _compare(va, vb, expected)
            if problem:
                return problem
    return ""


# --- emitting the secrets elsewhere ---------------------------------------------------------


def render_k8s_secret(values: dict[str, str], name: str, namespace: str | None) -> str:
    """A Kubernetes Secret manifest (`data` is base64, which hides nothing: keep it 0600)."""
    metadata: dict[str, object] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    metadata["labels"] = {"app.kubernetes.io/part-of": "vextrus",
                          "app.kubernetes.io/managed-by": "vextrus-console"}
    doc = {
        "apiVersion": "v1", "kind": "Secret", "metadata": metadata, "type": "Opaque",
        "data": {k: base64.b64encode(v.encode("utf-8")).decode("ascii")
                 for k, v in values.items()},
    }
    header = ("# Kubernetes Secret generated by `vextrus-console secrets apply --emit k8s`.\n"
              "# base64 is an encoding, not encryption: keep this file 0600, never commit it;\n"
              "# apply it with `kubectl apply -f` or seal it (sealed-secrets, Vault) first.\n")
    return header + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)


def check_k8s_name(name: str, what: str) -> None:
    if len(name) > 253 or not _K8S_NAME_RE.fullmatch(name):
        raise SecretsError(f"{what} {name!r}: not a valid Kubernetes name (lower case letters, "
                           "digits, '-' and '.')")


def docker_secrets_snippet(names: Iterable[str], directory: str) -> str:
    """The top-level `secrets:` block for the files `--emit docker-secrets` writes."""
    lines = ["secrets:"]
    for name in names:
        lines += [f"  {name.lower()}:", f"    file: ./{directory}/{name.lower()}"]
    return "\n".join(lines) + "\n"


# --- the action -----------------------------------------------------------------------------


def _by_line(text: str, findings: Iterable[Finding]) -> dict[int, list[str]]:
    """What to mask on each line of the compose file, for every finding:

    - its value on every line of its scalar (a folded or block scalar starts on the key's
      line and holds the value on the next ones);
    - where the scalar's text is not the value verbatim (escapes, folding, block scalars:
      a value can be split over lines or spelled differently), each line's whole piece of
      the scalar, so no part of it shows whatever its length or style.
    """
    starts = line_starts(text)
    out: dict[int, list[str]] = {}
    for f in findings:
        if not f.value:
            continue
        out.setdefault(f.line, []).append(f.value)
        if f.edit is None:
            continue
        first = bisect_right(starts, f.edit.raw_start)
        last = bisect_right(starts, max(f.edit.raw_start, f.edit.raw_end - 1))
        for number in range(first, last + 1):
            out.setdefault(number, []).append(f.value)
            if not f.edit.editable:
                piece = _piece_of_line(text, starts, number, f.edit)
                if piece:
                    out[number].append(piece)
    return out


_BLOCK_HEADER_RE = re.compile(r"[|>][-+0-9]*")


def _piece_of_line(text: str, starts: list[int], number: int, edit: Edit) -> str:
    """The scalar's raw text on line `number` (1-based), without indentation or a block
    scalar's `|`/`>` header."""
    line_start = starts[number - 1]
    line_end = starts[number] - 1 if number < len(starts) else len(text)
    piece = text[max(line_start, edit.raw_start):min(line_end, edit.raw_end)].strip()
    return "" if _BLOCK_HEADER_RE.fullmatch(piece) else piece


class SecretsApply:
    """Rewrites the compose file (backup kept) and optionally emits the secrets elsewhere."""

    name = "secrets-apply"
    writes = True

    def __init__(
        self,
        compose_path: Path,
        env_path: Path,
        emit: Iterable[Emit] = (),
        k8s_path: Path | None = None,
        secret_name: str = K8S_OBJECT_NAME,
        namespace: str | None = None,
        secrets_dir: Path | None = None,
    ) -> None:
        self.compose_path, self.env_path = Path(compose_path), Path(env_path)
        self.emit = tuple(dict.fromkeys(emit))
        base = self.compose_path.parent
        self.k8s_path = k8s_path or base / f"{secret_name}.k8s.yaml"
        self.secrets_dir = secrets_dir or base / "secrets"
        check_k8s_name(secret_name, "--secret-name")
        if namespace:
            check_k8s_name(namespace, "--namespace")
        self.secret_name, self.namespace = secret_name, namespace
        self.target = str(self.compose_path)
        self._plan: ApplyPlan | None = None

    def prepare(self) -> ApplyPlan:
        """Read and rewrite in memory (read-only); plan(), the diff and run() share it."""
        if self._plan is None:
            if self.compose_path.is_symlink():
                raise SecretsError(f"{self.compose_path}: refusing to rewrite a symbolic link; "
                                   "pass the file it points to")
            scan = load_compose(self.compose_path)
            new_text, replacements = rewrite_compose(scan)
            env = self._env_values()
            needed = list(dict.fromkeys(r.variable for r in replacements))
            self._plan = ApplyPlan(
                self.compose_path, self.env_path, scan.text, new_text, replacements,
                [f for f in scan.findings if not f.rewritable],
                [n for n in needed if not env.get(n)], env, _by_line(scan.text, scan.findings))
        return self._plan

    def _env_values(self) -> dict[str, str]:
        if not self.env_path.exists():
            return {}
        return {e.key: e.value for e in parse_env(read_text_file(self.env_path))}

    def plan(self) -> list[Step]:
        p = self.prepare()
        steps = [Step(f"line {r.finding.line}", f"{r.finding.key} -> ${{{r.variable}}}",
                      r.finding.location(), r.finding.reason) for r in p.replacements]
        if p.changed:
            steps.append(Step("write", f"rewrite {self.compose_path} (backup: .bak)",
                              str(self.compose_path)))
        if "k8s" in self.emit:
            steps.append(Step("k8s", f"write the Kubernetes Secret {self.secret_name} to "
                              f"{self.k8s_path} (mode 0600)", str(self.k8s_path)))
        if "docker-secrets" in self.emit:
            steps.append(Step("docker-secrets", f"write one file per secret to "
                              f"{self.secrets_dir}/ (mode 0600)", str(self.secrets_dir)))
        return steps

    def refusal(self) -> str:
        """Why the rewrite must not run yet ('' when it may)."""
        p = self.prepare()
        if p.missing:
            return (f"{self.env_path}: no value for {', '.join(p.missing)}; run `vextrus-console "
                    "secrets generate` first, or the services would get empty passwords")
        if self.emit and not p.env_values:
            return f"{self.env_path}: no secrets to emit; run `vextrus-console secrets generate`"
        return ""

    async def run(self, cancel: CancelToken) -> AsyncIterator[Progress]:
        p = self.prepare()
        refusal = self.refusal()
        if refusal:
            raise SecretsError(refusal)
        for f in p.left:
            yield Progress("info", f.location(), f"left as is (review): {f.describe()}")
        cancel.check()
        if p.changed:
            backup = await asyncio.to_thread(self._write_compose, p)
            yield Progress("ok", str(self.compose_path),
                           f"{len(p.replacements)} secret(s) now ${{VAR}} references; "
                           f"backup {backup}")
        else:
            yield Progress("skipped", str(self.compose_path),
                           "no changes: no hardcoded secret left to rewrite")
        if "k8s" in self.emit:
            cancel.check()
            await asyncio.to_thread(self._write_k8s, p)
            yield Progress("ok", str(self.k8s_path), f"Kubernetes Secret {self.secret_name} "
                           f"with {len(p.env_values)} key(s), mode 0600")
        if "docker-secrets" in self.emit:
            cancel.check()
            await asyncio.to_thread(self._write_docker_secrets, p)
            yield Progress("ok", str(self.secrets_dir), f"{len(p.env_values)} secret file(s), "
                           "mode 0600; add the `secrets:` block printed below")
        yield Progress("done", "", f"start the stack with: docker compose --env-file "
                       f"{self.env_path.name} up -d")

    def _write_compose(self, p: ApplyPlan) -> Path | None:
        """Refuse if the file changed since the diff was shown; keep its mode."""
        if read_text_file(self.compose_path) != p.old_text:
            raise SecretsError(f"{self.compose_path}: changed on disk since the diff was "
                               "shown; run again")
        mode = stat.S_IMODE(os.stat(self.compose_path).st_mode)
        # The backup holds every secret the rewrite removed: 0600 whatever the file's mode.
        return write_text_atomic(self.compose_path, p.new_text, mode=mode, backup=True,
                                 backup_mode=SECRET_FILE_MODE)

    def _write_k8s(self, p: ApplyPlan) -> None:
        text = render_k8s_secret(p.env_values, self.secret_name, self.namespace)
        write_text_atomic(self.k8s_path, text, mode=SECRET_FILE_MODE)

    def _write_docker_secrets(self, p: ApplyPlan) -> None:
        """One file per secret, no trailing newline (it would become part of the value)."""
        if self.secrets_dir.is_symlink():
            raise SecretsError(f"{self.secrets_dir}: refusing to write into a symbolic link")
        self.secrets_dir.mkdir(mode=0o700, exist_ok=True)
        for name, value in p.env_values.items():
            write_text_atomic(self.secrets_dir / name.lower(), value, mode=SECRET_FILE_MODE)

    def snippet(self) -> str:
        p = self.prepare()
        return docker_secrets_snippet(p.env_values, self.secrets_dir.name)
