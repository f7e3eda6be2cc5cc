"""A probe flood in a process of its own: `python -m tests.probe_flood PORT COUNT NOFILE`.

Lowers its own descriptor limit to NOFILE (the pytest process keeps its own), then runs
COUNT http checks against 127.0.0.1:PORT through `run_checks`, the path a refresh takes,
and prints one JSON line: how many were ok, the errors by text, and the lane size used.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
from collections import Counter

from console.model import HealthCheck, Service
from console.probes.limits import lanes
from console.probes.registry import run_checks

TIMEOUT_S = 10.0  # generous: under heavy CPU load a probe is slow (a queued one never times out)


async def flood(port: int, count: int) -> dict[str, object]:
    check = HealthCheck("http", port=port, path="/health", timeout=TIMEOUT_S)
    pairs = [(Service(f"svc-{i}"), check) for i in range(count)]
    results = await run_checks(pairs)
    errors = Counter(r.error for r in results if not r.ok)
    return {"ok": sum(r.ok for r in results), "errors": dict(errors.most_common(5)),
            "slots": lanes().size}


def main(argv: list[str]) -> None:
    port, count, nofile = (int(x) for x in argv)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard))
    print(json.dumps(asyncio.run(flood(port, count))))


if __name__ == "__main__":
    main(sys.argv[1:])
