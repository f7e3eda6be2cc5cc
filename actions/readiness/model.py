"""The seed's "Success Metrics Checklist" as data: items, verdicts and the scorecard.

Seed 002 ends with a checklist that the team ticks by hand in a Markdown file. Each item
here is evaluated against the running stack and carries its evidence (what was asked, what
answered, when) and the action that fixes it where the console has one. An item the console
cannot judge is `unknown` with the reason, never a pass; the ERP's business rules are out of
the console's scope and listed as such, so the export can replace the hand-kept file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Mark(StrEnum):
    PASS = "pass"  # noqa: S105 - a checklist mark, not a password
    FAIL = "fail"
    UNKNOWN = "unknown"
    OUT_OF_SCOPE = "out-of-scope"


@dataclass(frozen=True)
class Item:
    id: str
    section: str
    title: str  # the seed's words


@dataclass(frozen=True)
class Verdict:
    item: Item
    mark: Mark
    evidence: str  # what answered, in words (already through the untrusted-text boundary)
    asked: str = ""  # what was asked: a URL, a query, a file
    at: datetime | None = None
    fix: str = ""  # the console's action that fixes it, e.g. "vextrus-console audit --fix"

    def as_dict(self) -> dict[str, object]:
        return {"id": self.item.id, "section": self.item.section, "title": self.item.title,
                "mark": self.mark.value, "evidence": self.evidence, "asked": self.asked,
                "at": self.at.isoformat() if self.at else None, "fix": self.fix}


SECTIONS = ("Infrastructure Health", "Security Compliance", "Operational Readiness",
            "Performance Baselines", "Bangladesh ERP Requirements")

INFRA, SECURITY, OPS, PERF, ERP = SECTIONS

ITEMS: tuple[Item, ...] = (
    Item("uptime", INFRA, "All services running without restarts for >10 minutes"),
    Item("health-200", INFRA, "All health endpoints returning HTTP 200"),
    Item("no-restart-loops", INFRA, "No services in restart loop"),
    Item("migrations", INFRA, "All database migrations completed"),
    Item("kafka-topics", INFRA, "Kafka topics created and accessible"),
    Item("temporal", INFRA, "Temporal workflows deployable"),
    Item("no-hardcoded-secrets", SECURITY, "Zero hardcoded secrets in codebase"),
    Item("https", SECURITY, "HTTPS enabled on all external endpoints"),
    Item("admin-auth", SECURITY, "Authentication required on admin interfaces"),
    Item("rate-limiting", SECURITY, "Rate limiting configured on all APIs"),
    Item("cors", SECURITY, "CORS properly configured (not *)"),
    Item("secrets-stored", SECURITY, "Secrets rotated and stored securely"),
    Item("prometheus", OPS, "Prometheus collecting metrics from all services"),
    Item("grafana", OPS, "Grafana dashboards showing key metrics"),
    Item("logs", OPS, "Logs aggregated and searchable"),
    Item("alerts", OPS, "Alerts configured for critical failures"),
    Item("tracing", OPS, "Distributed tracing working"),
    Item("healthchecks", OPS, "Health checks standardized"),
    Item("api-p95", PERF, "API latency p95 < 300ms"),
    Item("db-p95", PERF, "Database query p95 < 100ms"),
    Item("memory", PERF, "Memory usage < 80% of limits"),
    Item("cpu", PERF, "CPU usage < 70% of limits"),
    Item("throughput", PERF, "Throughput > 1000 req/s"),
    Item("memory-leaks", PERF, "Zero memory leaks detected"),
)

# The ERP's own business rules: real requirements, but not something an operations console
# can verify from the outside. Listed so the export is the whole checklist.
OUT_OF_SCOPE = (
    "TIN validation (10 digits)", "BIN validation (9 digits)", "NID validation (10-17 digits)",
    "Mobile format validation (01[3-9]-XXXXXXXX)", "VAT calculation (15%)",
    "Fiscal year logic (July-June)", "Bengali language support", "NBR reporting formats",
    "RAJUK compliance", "bKash/Nagad integration ready",
)

ITEM_BY_ID = {item.id: item for item in ITEMS}


@dataclass(frozen=True)
class Scorecard:
    verdicts: tuple[Verdict, ...]
    taken_at: datetime
    out_of_scope: tuple[Item, ...] = field(
        default_factory=lambda: tuple(Item(f"erp-{i}", ERP, t) for i, t in enumerate(OUT_OF_SCOPE)))

    def count(self, mark: Mark) -> int:
        return sum(1 for v in self.verdicts if v.mark is mark)

    @property
    def passed(self) -> int:
        return self.count(Mark.PASS)

    @property
    def total(self) -> int:
        return len(self.verdicts)

    @property
    def score(self) -> float:
        return self.passed / self.total if self.total else 0.0

    @property
    def all_pass(self) -> bool:
        return self.passed == self.total

    def score_text(self) -> str:
        return f"Checklist {self.score:.0%} · {self.passed}/{self.total} pass"

    def get(self, item_id: str) -> Verdict:
        for v in self.verdicts:
            if v.item.id == item_id:
                return v
        raise KeyError(item_id)
