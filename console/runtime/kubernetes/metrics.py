"""Kubernetes resource figures from the metrics API (metrics.k8s.io, served by
metrics-server), with the pods' limits from the watched store: what `kubectl top` and
k9s's CPU/MEM columns show.

One list call per round (`GET /apis/metrics.k8s.io/v1beta1/namespaces/NS/pods`) gives
every pod's current CPU rate and working-set memory; the runtime's store gives which pods
belong to which service and their containers' limits. A cluster without metrics-server
answers 404 (or 503 while the APIService is unavailable): that is said plainly, once per
round, instead of columns of zeros. Network and block I/O are not in the metrics API.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from console.model import Service
from console.runtime.usage import ReplicaUsage, UsageReport

METRICS_PATH = "/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods"
SOURCE = "metrics.k8s.io"
NO_METRICS = ("this cluster serves no metrics API (metrics.k8s.io): CPU and memory need "
              "metrics-server")

_SUFFIX = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
           "P": 1e15, "E": 1e18, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
           "Pi": 2**50, "Ei": 2**60}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?)$")


def parse_quantity(text: object) -> float | None:
    """A resource.Quantity ("250m", "1.5", "12345n", "64Mi", "1e3") as a number; None if bad."""
    match = _QUANTITY.match(str(text).strip()) if text is not None else None
    if match is None:
        return None
    try:
        return float(match.group(1)) * _SUFFIX[match.group(2)]
    except ValueError:
        return None


def sample_metrics(runtime: Any, services: Sequence[Service]) -> UsageReport:
    """Blocking (a thread): one metrics list, mapped onto the services' pods."""
    from console.runtime.base import RuntimeUnavailable
    from console.runtime.kubernetes.http import ApiError
    from console.runtime.kubernetes.watch import wait_synced

    try:
        informers = runtime._ensure_started()
    except RuntimeUnavailable as exc:
        return UsageReport(unavailable=str(exc), source=SOURCE)
    # Pods map to services through the watched store: wait for its first list.
    if not wait_synced([i for i in informers.values() if i.required], runtime.sync_timeout):
        return UsageReport(unavailable="waiting for the API server's first lists", source=SOURCE)
    http = runtime.http
    if http is None:
        return UsageReport(unavailable="no cluster", source=SOURCE)
    try:
        body = http.json("GET", METRICS_PATH.format(namespace=runtime.namespace))
    except ApiError as exc:
        if exc.status in (404, 503):
            return UsageReport(unavailable=NO_METRICS, source=SOURCE)
        return UsageReport(unavailable=f"metrics API: {exc}", source=SOURCE)
    except Exception as exc:  # no answer at all: the banner already says why
        return UsageReport(unavailable=f"metrics API: {type(exc).__name__}", source=SOURCE)
    usage_by_pod = {str((item.get("metadata") or {}).get("name")): item
                    for item in body.get("items") or [] if isinstance(item, dict)}
    return UsageReport(_per_service(runtime, services, usage_by_pod), source=SOURCE)


def _per_service(runtime: Any, services: Sequence[Service],
                 usage_by_pod: dict[str, dict]) -> dict[str, tuple[ReplicaUsage, ...]]:
    store = {kind: inf.items() for kind, inf in runtime.informers.items()}
    workloads = {k: store.get(k, []) for k in ("Deployment", "StatefulSet")}
    out: dict[str, tuple[ReplicaUsage, ...]] = {}
    for service in services:
        found = runtime._find(service, workloads, store.get("Pod", []))
        if found is None:
            continue
        rows = [pod_usage(pod, usage_by_pod[name]) for pod in found.pods
                if (name := str((pod.get("metadata") or {}).get("name"))) in usage_by_pod]
        if rows:
            out[service.name] = tuple(sorted(rows, key=lambda r: r.name))
    return out


def pod_usage(pod: dict, metrics: dict) -> ReplicaUsage:
    """One pod: its containers' usage summed; limits summed when every container has one."""
    containers = metrics.get("containers") or []
    cpu = _total(parse_quantity((c.get("usage") or {}).get("cpu")) for c in containers)
    memory = _total(parse_quantity((c.get("usage") or {}).get("memory")) for c in containers)
    specs = (pod.get("spec") or {}).get("containers") or []
    limits = [(s.get("resources") or {}).get("limits") or {} for s in specs]
    cpu_limit = _total(parse_quantity(lim.get("cpu")) for lim in limits) if limits else None
    memory_limit = _total(parse_quantity(lim.get("memory")) for lim in limits) if limits else None
    return ReplicaUsage(
        name=str((pod.get("metadata") or {}).get("name")),
        cpu_cores=cpu, memory=int(memory) if memory is not None else None,
        memory_limit=int(memory_limit) if memory_limit else None,
        cpu_limit_cores=cpu_limit or None,
    )


def _total(values: Iterable[float | None]) -> float | None:
    values = list(values)
    if not values or any(v is None for v in values):
        return None
    return sum(v for v in values if v is not None)


def describe_objects(runtime: Any, service: Service) -> list[tuple[str, str]]:
    """Blocking: the workload and each of its pods as the API server has them, as YAML
    (`kubectl get -o yaml`), read fresh rather than from the store."""
    import yaml

    runtime._ensure_started()
    store = {kind: inf.items() for kind, inf in runtime.informers.items()}
    workloads = {k: store.get(k, []) for k in ("Deployment", "StatefulSet")}
    found = runtime._find(service, workloads, store.get("Pod", []))
    if found is None:
        return [(service.name, f"{runtime._not_found(service)}\n")]
    http = runtime.http
    name = str((found.workload.get("metadata") or {}).get("name"))
    out = [(f"{found.kind}/{name}", http.json("GET", runtime.path(found.kind, name)))]
    for pod in found.pods:
        pod_name = str((pod.get("metadata") or {}).get("name"))
        out.append((f"Pod/{pod_name}", http.json("GET", runtime.path("Pod", pod_name))))
    return [(title, yaml.safe_dump(mask_env(obj), sort_keys=False, default_flow_style=False))
            for title, obj in out]


def mask_env(obj: Any) -> Any:
    """Containers' `env` values whose names say secret are masked (`valueFrom` refs stay):
    the masker cannot tell from `value: x` alone that the line above named a password."""
    from console.masking import MASK, is_sensitive_key

    if isinstance(obj, list):
        return [mask_env(item) for item in obj]
    if not isinstance(obj, dict):
        return obj
    out = {}
    for key, value in obj.items():
        if key == "env" and isinstance(value, list):
            value = [{**item, "value": MASK} if isinstance(item, dict) and "value" in item
                     and is_sensitive_key(str(item.get("name", ""))) else item
                     for item in value]
        out[key] = mask_env(value)
    return out
