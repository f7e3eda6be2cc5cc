"""What every readiness check may look at, gathered once per evaluation."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from actions.readiness.model import Item, Mark, Verdict
from console.model import Service, Stack
from console.stats import UsageBoard
from console.status.types import StackStatus

LOOPBACK = "127.0.0.1"


@dataclass
class Inputs:
    stack: Stack
    status: StackStatus
    clock: Callable[[], datetime]
    compose_path: Path | None = None  # the compose file the stack runs from (config items)
    state_dir: Path | None = None  # where load-test and drill results are kept
    timeout: float = 3.0  # per HTTP, Kafka or SQL question
    usage: UsageBoard | None = None  # the runtime's resource usage, with history
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    def verdict(self, item: Item, mark: Mark, evidence: str, asked: str = "",
                fix: str = "") -> Verdict:
        return Verdict(item, mark, evidence, asked, self.clock(), fix)

    def service(self, *names: str) -> Service | None:
        """The first stack service with one of these names (the stack file decides names)."""
        for name in names:
            for service in self.stack.services:
                if service.name == name or service.compose_name == name:
                    return service
        return None

    def url(self, names: tuple[str, ...], index: int = 0) -> str | None:
        """http://127.0.0.1:PORT of a service's `index`-th port (-1: the last one)."""
        service = self.service(*names)
        if service is None or not service.ports:
            return None
        return f"http://{LOOPBACK}:{service.ports[index]}"
