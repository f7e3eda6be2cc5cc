"""`audit --fix`: seed 002's phase 3 and 4 templates written into the compose file as text edits.

Like `secrets apply`, the rewrite is a text edit, not a YAML round-trip: comments, key
order, quoting and anchors stay byte for byte. A pinned image replaces only the image's
scalar; a healthcheck, limits or log rotation is inserted as a block before the first key of
the deepest mapping that already exists (`deploy:` with no `resources:` gets `resources:`
under it). The result is parsed again and compared with the original plus exactly the
intended changes: if anything else would change, nothing is written.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

from actions.audit.rules import AuditError, AuditFinding, ServiceNode, child
from console.bounded_yaml import load_yaml

MIB = 1024 * 1024
# Seed 002, 3.1 and 3.3: the healthcheck timings and the json-file rotation, as written there.
HEALTHCHECK_TIMING = {"interval": "30s", "timeout": "10s", "retries": 3, "start_period": "60s"}
LOG_ROTATION = {"driver": "json-file", "options": {"max-size": "10m", "max-file": "3"}}


@dataclass(frozen=True)
class Usage:
    """What a service was seen using: the basis of limits with headroom."""

    memory_bytes: int
    cpu_cores: float


@dataclass(frozen=True)
class FixInputs:
    """What the fixer may write, decided by the action (it talks to Docker, this does not)."""

    pins: dict[str, str] = field(default_factory=dict)  # service -> pinned image reference
    healthchecks: dict[str, list[str]] = field(default_factory=dict)  # service -> test
    usage: dict[str, Usage] = field(default_factory=dict)


@dataclass
class FixResult:
    text: str
    fixed: list[AuditFinding]
    left: list[tuple[AuditFinding, str]]  # not fixed, and why


def limits_for(usage: Usage) -> dict[str, str]:
    """Twice what was used, rounded up (64 MiB, a quarter core), never below 128 MiB / 0.25."""
    memory = max(128 * MIB, math.ceil(usage.memory_bytes * 2 / (64 * MIB)) * 64 * MIB)
    cpus = max(0.25, math.ceil(usage.cpu_cores * 2 * 4) / 4)
    return {"cpus": f"{cpus:g}", "memory": f"{memory // MIB}M"}


def healthcheck_block(test: list[str]) -> dict[str, Any]:
    return {"test": test, **HEALTHCHECK_TIMING}


@dataclass(frozen=True)
class _Insert:
    before_line: int  # 0-based line index the block goes in front of
    indent: int
    lines: list[str]


@dataclass(frozen=True)
class _Replace:
    line: int  # 0-based
    start: int
    end: int
    text: str


Edit = _Insert | _Replace


def apply_fixes(text: str, services: list[ServiceNode], findings: list[AuditFinding],
                inputs: FixInputs) -> FixResult:
    """The new text, the findings it fixes and those it leaves (with the reason)."""
    by_name = {svc.name: svc for svc in services}
    edits: list[Edit] = []
    expected = copy.deepcopy(load_yaml(text))
    fixed: list[AuditFinding] = []
    left: list[tuple[AuditFinding, str]] = []
    for finding in findings:
        svc = by_name.get(finding.service)
        plan = _plan(finding, svc, inputs) if svc is not None else "service not found"
        if isinstance(plan, str):
            left.append((finding, plan))
            continue
        path, value, edit = plan
        edits.append(edit)
        _set_path(expected["services"][finding.service], path, value)
        fixed.append(finding)
    new_text = _render(text, edits)
    if load_yaml(new_text) != expected:
        raise AuditError("the rewrite would change more than the fixes: nothing written")
    return FixResult(new_text, fixed, left)


Plan = tuple[list[str], Any, Edit] | str


def _plan(finding: AuditFinding, svc: ServiceNode, inputs: FixInputs) -> Plan:
    rule = finding.rule
    if rule == "unpinned-image":
        pin = inputs.pins.get(svc.name)
        if not pin:
            return "no local image to pin to (pull it, or pin by hand)"
        node = svc.get("image")
        assert isinstance(node, ScalarNode)
        return ["image"], pin, _replace_scalar(node, pin)
    if rule == "no-healthcheck":
        if svc.get("healthcheck") is not None:
            return "the healthcheck was disabled on purpose: enable it by hand"
        test = inputs.healthchecks.get(svc.name)
        if not test:
            return "the stack file has no http or tcp probe for it"
        return _insert(svc, ["healthcheck"], healthcheck_block(test))
    if rule == "no-resource-limits":
        usage = inputs.usage.get(svc.name)
        if usage is None:
            return "no observed usage (the service is not running)"
        return _insert(svc, ["deploy", "resources", "limits"], limits_for(usage))
    if rule == "no-log-rotation":
        logging = svc.get("logging")
        if logging is None:
            return _insert(svc, ["logging"], LOG_ROTATION)
        return _insert(svc, ["logging", "options"], LOG_ROTATION["options"])
    return "not fixed automatically: needs a decision"


def _insert(svc: ServiceNode, path: list[str], value: Any) -> Plan:
    """Insert under the deepest mapping of `path` that exists; values merge into it."""
    node: Node = svc.node
    depth = 0
    while depth < len(path):
        nxt = child(node, path[depth])
        if nxt is None:
            break
        if not isinstance(nxt, MappingNode):
            return f"`{'.'.join(path[:depth + 1])}` is not a mapping: edit it by hand"
        node, depth = nxt, depth + 1
    assert isinstance(node, MappingNode)
    if node.flow_style or not node.value:
        return f"line {node.start_mark.line + 1}: a flow-style or empty mapping: edit it by hand"
    if depth == len(path):  # the mapping exists: add only the keys it lacks
        value = {k: v for k, v in value.items() if child(node, k) is None}
    block: Any = value
    for key in reversed(path[depth:]):
        block = {key: block}
    first_key = node.value[0][0]
    lines = yaml.safe_dump(block, default_flow_style=False, sort_keys=False,
                           width=1000).splitlines()
    edit = _Insert(first_key.start_mark.line, first_key.start_mark.column, lines)
    if depth == len(path):
        return path, value, edit
    return path[:depth + 1], block[path[depth]], edit


def _replace_scalar(node: ScalarNode, new: str) -> _Replace:
    if node.start_mark.line != node.end_mark.line:
        raise AuditError(f"line {node.start_mark.line + 1}: a multi-line image name")
    quote = node.style if node.style in ("'", '"') else ""
    return _Replace(node.start_mark.line, node.start_mark.column, node.end_mark.column,
                    f"{quote}{new}{quote}")


def _render(text: str, edits: list[Edit]) -> str:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"

    def order(edit: Edit) -> tuple[int, int]:
        line = edit.line if isinstance(edit, _Replace) else edit.before_line
        return (line, 1 if isinstance(edit, _Replace) else 0)

    for edit in sorted(edits, key=order, reverse=True):
        if isinstance(edit, _Replace):
            row = lines[edit.line]
            lines[edit.line] = row[:edit.start] + edit.text + row[edit.end:]
        else:
            pad = " " * edit.indent
            lines[edit.before_line:edit.before_line] = [pad + ln + "\n" for ln in edit.lines]
    return "".join(lines)


def _set_path(target: dict[str, Any], path: list[str], value: Any) -> None:
    for key in path[:-1]:
        target = target.setdefault(key, {})
    last = path[-1]
    if isinstance(value, dict) and isinstance(target.get(last), dict):
        target[last].update(value)
    else:
        target[last] = value

