"""Writing a Stack back as stack-file TOML (the compose importer's output).

Fields at their defaults are left out, so generated files stay short and readable;
`parse_stack` reads the result back to an equal Stack (a test round-trips it).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import tomli_w

from console.model import (
    HealthCheck,
    KubernetesSettings,
    RuntimeNames,
    Service,
    Stack,
    TemporalSettings,
)
from console.stackfile.schema import default_where


def dump_stack(stack: Stack, header: str = "") -> str:
    """Write `stack` as stack-file TOML that `parse_stack` reads back to an equal Stack.

    Fields at their defaults are left out, so generated files stay short and readable.
    `header` (comment lines without the `#`) goes on top.
    """
    doc: dict[str, Any] = {"stack": _stack_table(stack), "services": {}}
    for service in stack.services:
        doc["services"][service.name] = _service_table(service)
    comments = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comments + tomli_w.dumps(doc)




def _stack_table(stack: Stack) -> dict[str, Any]:
    table: dict[str, Any] = {"name": stack.name, "project": stack.project}
    if stack.tiers:
        table["tiers"] = list(stack.tiers)
    if stack.phases:
        table["phases"] = {str(k): v for k, v in sorted(stack.phases.items())}
    if stack.temporal is not None:
        table["temporal"] = _temporal_table(stack.temporal)
    if stack.kubernetes != KubernetesSettings():
        k8s = {"context": stack.kubernetes.context, "namespace": stack.kubernetes.namespace,
               "label": stack.kubernetes.label, "production": stack.kubernetes.production}
        table["kubernetes"] = {k: v for k, v in k8s.items() if v is not None}
    return table


def _temporal_table(t: TemporalSettings) -> dict[str, Any]:
    table: dict[str, Any] = {
        "address": t.address, "namespace": t.namespace, "task_queues": list(t.task_queues),
    }
    if t.tls:
        table["tls"] = True
    if t.api_key_env:
        table["api_key_env"] = t.api_key_env
    return table


def _service_table(s: Service) -> dict[str, Any]:
    table: dict[str, Any] = {"tier": s.tier, "phase": s.phase, "ports": list(s.ports),
                             "depends_on": list(s.depends_on)}
    if s.description:
        table["description"] = s.description
    if s.environment:
        table["environment"] = list(s.environment)
    runtime = _runtime_table(s.runtime)
    if runtime:
        table["runtime"] = runtime
    if s.checks:
        table["checks"] = [_check_table(c) for c in s.checks]
    return table


def _runtime_table(rt: RuntimeNames) -> dict[str, Any]:
    table: dict[str, Any] = {}
    if rt.compose:
        table["compose"] = rt.compose
    if rt.k8s:
        table["k8s"] = rt.k8s
    if rt.local:
        table["local"] = list(rt.local)
    return table


def _check_table(c: HealthCheck) -> dict[str, Any]:
    """Only the fields that differ from what the loader would fill in."""
    defaults = HealthCheck(kind=c.kind)
    table: dict[str, Any] = {"kind": c.kind}
    for f in fields(HealthCheck):
        value = getattr(c, f.name)
        default = default_where(c.kind) if f.name == "where" else getattr(defaults, f.name)
        keep = c.kind == "http" and f.name == "path"  # the one field a reader looks for
        if f.name == "kind" or value is None or (value == default and not keep):
            continue
        table[f.name] = list(value) if isinstance(value, tuple) else value
    return table
