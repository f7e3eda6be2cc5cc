"""Write tests/slow.txt: the tests a JUnit XML report timed at one second or more.

`make test-fast` leaves them out (the root conftest marks them `slow`), so the inner loop
stays near a minute on a 2-core box. Regenerate after a run:

    .venv/bin/pytest -m "unit or ui" --junitxml=/tmp/junit.xml
    .venv/bin/python scripts/slow_tests.py /tmp/junit.xml
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
THRESHOLD_S = 1.0


def main(report: str) -> int:
    slow = set()
    for case in ET.parse(report).iter("testcase"):  # noqa: S314 (our own pytest's report)
        if float(case.get("time") or 0) >= THRESHOLD_S:
            module = (case.get("classname") or "").replace(".", "/") + ".py"
            slow.add(f"{module}::{case.get('name')}")
    out = ROOT / "tests" / "slow.txt"
    header = ("# tests timed at >= 1 s (scripts/slow_tests.py); `make test-fast` leaves them out\n")
    out.write_text(header + "".join(f"{n}\n" for n in sorted(slow)), encoding="utf-8")
    print(f"{len(slow)} slow tests written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
