"""`audit`: what seed 002's hardening phases ask of every compose service, checked by file:line.

Phase 3 and 4 of seed 002 want one healthcheck template on every service, resource limits,
json-file log rotation and pinned image versions (`redis:7-alpine` -> `redis:7.2.4-alpine`);
its security checklist wants no admin interface open to the world. Each rule here reads the
compose file's node tree (PyYAML keeps every node's line), so a finding names the line an
operator opens in an editor. Rules never guess at what they cannot see: a service built from
source has no image to pin, a logging driver other than json-file/local ships its logs
elsewhere and needs no rotation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from console.bounded_yaml import compose_yaml

# Tags that move under the operator's feet: the same name means another image tomorrow.
_FLOATING_WORDS = {"latest", "stable", "lts", "edge", "mainline", "current", "alpine", "slim",
                   "main", "master", "nightly", "dev", "beta", "rc"}
# `7`, `7-alpine`, `15`, `8.11`, `v2`: fewer than three version numbers is a moving target.
_PARTIAL_VERSION_RE = re.compile(r"^v?\d+(?:\.\d+)?(?:[-_].*)?$")
# Interfaces an attacker wants: dashboards and consoles that can change the system.
_ADMIN_IMAGES = ("traefik", "grafana", "temporalio/ui", "rabbitmq", "minio", "prometheus",
                 "jaeger", "kibana", "portainer", "adminer", "pgadmin", "redis-commander",
                 "kafka-ui", "redpanda-console", "mongo-express", "phpmyadmin")
_ADMIN_PORTS = {8080, 8088, 3000, 9001, 15672, 9090, 16686, 5601, 9000, 8081}
_ALL_INTERFACES = {"", "0.0.0.0", "::", "[::]"}  # noqa: S104 - matched, never bound
_LOG_DRIVERS_ELSEWHERE = {"syslog", "journald", "gelf", "fluentd", "awslogs", "splunk",
                          "etwlogs", "gcplogs", "logentries", "none"}
DOCKER_SOCKET = "/var/run/docker.sock"

RULES = {
    "unpinned-image": "image tag is not pinned",
    "no-healthcheck": "no healthcheck",
    "no-resource-limits": "no resource limits",
    "no-log-rotation": "no log rotation",
    "privileged": "privileged container",
    "docker-socket": "Docker socket mounted",
    "admin-ui-exposed": "admin interface published on all interfaces",
    "insecure-proxy-flag": "insecure proxy flag",
}
FIXABLE = {"unpinned-image", "no-healthcheck", "no-resource-limits", "no-log-rotation"}


class AuditError(Exception):
    """The file cannot be audited; str() is one line naming the file."""


@dataclass(frozen=True)
class AuditFinding:
    rule: str
    service: str
    file: str
    line: int  # 1-based
    message: str

    @property
    def fixable(self) -> bool:
        return self.rule in FIXABLE

    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def as_dict(self) -> dict[str, object]:
        return {"rule": self.rule, "service": self.service, "file": self.file,
                "line": self.line, "message": self.message, "fixable": self.fixable}


@dataclass(frozen=True)
class ServiceNode:
    """One service's mapping node, with the key's line (where findings about it point)."""

    name: str
    node: MappingNode
    line: int

    def get(self, key: str) -> Node | None:
        return child(self.node, key)


def child(node: Node | None, key: str) -> Node | None:
    if not isinstance(node, MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, ScalarNode) and k.value == key:
            return v
    return None


def scalar(node: Node | None) -> str | None:
    return node.value if isinstance(node, ScalarNode) else None


def line_of(node: Node) -> int:
    return node.start_mark.line + 1


def read_compose(path: Path) -> tuple[str, MappingNode]:
    """The file's text and its top-level mapping; every failure is one line naming the file."""
    try:
        if path.is_dir():
            raise AuditError(f"{path}: is a directory, not a compose file")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        root = compose_yaml(text)  # bounded: aliases and nesting capped
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise AuditError(f"{path}{where}: {problem}") from None
    if not isinstance(root, MappingNode):
        raise AuditError(f"{path}: not a compose file (the top level is not a mapping)")
    return text, root


def services_of(root: MappingNode, path: Path) -> list[ServiceNode]:
    services = child(root, "services")
    if services is None:
        raise AuditError(f"{path}: no `services:` section")
    if not isinstance(services, MappingNode):
        raise AuditError(f"{path}:{line_of(services)}: `services` is not a mapping")
    found = []
    for key, value in services.value:
        if isinstance(key, ScalarNode) and isinstance(value, MappingNode):
            found.append(ServiceNode(key.value, value, line_of(key)))
    return found


def audit_file(path: Path) -> list[AuditFinding]:
    """Every finding of every rule, in file order."""
    _text, root = read_compose(path)
    findings: list[AuditFinding] = []
    for svc in services_of(root, path):
        findings.extend(audit_service(svc, str(path)))
    return sorted(findings, key=lambda f: (f.line, f.rule))


def audit_service(svc: ServiceNode, file: str) -> Iterator[AuditFinding]:
    for rule in (_image, _healthcheck, _limits, _logging, _privileged, _socket, _admin_ports,
                 _proxy_flags):
        for line, rule_id, message in rule(svc):
            yield AuditFinding(rule_id, svc.name, file, line, message)


Hit = tuple[int, str, str]


def floating_reason(image: str) -> str | None:
    """Why an image reference can change under the same name, or None when it is pinned."""
    if "@sha256:" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "no tag (means latest)"
    tag = last.rsplit(":", 1)[1]
    if "${" in tag or "$" in tag:
        return None  # chosen by the environment: the operator pins it there
    if tag.lower() in _FLOATING_WORDS:
        return f"floating tag {tag!r}"
    if _PARTIAL_VERSION_RE.match(tag):
        return f"floating tag {tag!r} (no patch version)"
    return None


def _image(svc: ServiceNode) -> Iterator[Hit]:
    node = svc.get("image")
    image = scalar(node)
    if node is None or image is None:
        return
    reason = floating_reason(image)
    if reason:
        yield line_of(node), "unpinned-image", f"{svc.name}: image {image}: {reason}"


def _healthcheck(svc: ServiceNode) -> Iterator[Hit]:
    node = svc.get("healthcheck")
    if node is None:
        yield svc.line, "no-healthcheck", f"{svc.name}: no healthcheck"
        return
    if scalar(child(node, "disable")) in ("true", "True", "yes"):
        yield line_of(node), "no-healthcheck", f"{svc.name}: healthcheck disabled"
    test = child(node, "test")
    first = test.value[0] if isinstance(test, SequenceNode) and test.value else test
    if scalar(first) == "NONE":
        yield line_of(node), "no-healthcheck", f"{svc.name}: healthcheck test is NONE"


def _limits(svc: ServiceNode) -> Iterator[Hit]:
    limits = child(child(svc.get("deploy"), "resources"), "limits")
    if child(limits, "memory") is not None or svc.get("mem_limit") is not None:
        return
    yield svc.line, "no-resource-limits", f"{svc.name}: no memory limit (deploy.resources.limits)"


def _logging(svc: ServiceNode) -> Iterator[Hit]:
    logging = svc.get("logging")
    driver = scalar(child(logging, "driver")) or "json-file"
    if driver in _LOG_DRIVERS_ELSEWHERE:
        return
    if child(child(logging, "options"), "max-size") is not None:
        return
    line = line_of(logging) if logging is not None else svc.line
    yield line, "no-log-rotation", f"{svc.name}: {driver} logs without max-size: the disk fills"


def _privileged(svc: ServiceNode) -> Iterator[Hit]:
    node = svc.get("privileged")
    if scalar(node) in ("true", "True", "yes") and node is not None:
        yield line_of(node), "privileged", f"{svc.name}: runs privileged (full access to the host)"


def _socket(svc: ServiceNode) -> Iterator[Hit]:
    volumes = svc.get("volumes")
    if not isinstance(volumes, SequenceNode):
        return
    for item in volumes.value:
        source = scalar(item) or scalar(child(item, "source")) or ""
        if DOCKER_SOCKET in source:
            yield (line_of(item), "docker-socket",
                   f"{svc.name}: mounts the Docker socket (root on the host)")


def _is_admin(svc: ServiceNode) -> bool:
    image = (scalar(svc.get("image")) or "").lower()
    return any(name in image for name in _ADMIN_IMAGES) or any(
        word in svc.name.lower() for word in ("admin", "dashboard", "grafana", "traefik", "-ui"))


def published_ports(svc: ServiceNode) -> Iterator[tuple[Node, str, str]]:
    """(node, host address, published port) of each `ports:` entry, short or long syntax."""
    ports = svc.get("ports")
    if not isinstance(ports, SequenceNode):
        return
    for item in ports.value:
        text = scalar(item)
        if text is not None:
            parts = text.split("/")[0].rsplit(":", 2)
            if len(parts) == 3:
                yield item, parts[0], parts[1]
            elif len(parts) == 2:
                yield item, "", parts[0]
            continue  # a bare container port is not published on a fixed host port
        published = scalar(child(item, "published"))
        if published:
            yield item, scalar(child(item, "host_ip")) or "", published


def _admin_ports(svc: ServiceNode) -> Iterator[Hit]:
    if not _is_admin(svc):
        return
    for node, host, published in published_ports(svc):
        port = published.split("-")[0]
        if host in _ALL_INTERFACES and (not port.isdigit() or int(port) in _ADMIN_PORTS
                                        or _is_admin(svc)):
            yield (line_of(node), "admin-ui-exposed",
                   f"{svc.name}: port {published} published on all interfaces "
                   "(bind it to 127.0.0.1 or put authentication in front)")
            return


def _proxy_flags(svc: ServiceNode) -> Iterator[Hit]:
    command = svc.get("command")
    items = command.value if isinstance(command, SequenceNode) else [command]
    for item in items:
        text = scalar(item) or ""
        for flag in ("--api.insecure=true", "--api.insecure"):
            if item is not None and re.search(re.escape(flag) + r"(?:\s|$)", text):
                yield (line_of(item), "insecure-proxy-flag",
                       f"{svc.name}: {flag} serves the proxy's API without authentication")
                break
