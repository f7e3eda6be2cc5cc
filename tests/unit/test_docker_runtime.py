"""The unit tests of tests/integration/test_docker_runtime.py (same subject, other layer).

The Docker runtime against a real daemon: states, exec, logs, events, and an outage.

Containers are made by `dockerlab` (busybox FROM scratch, host or no networking, compose
labels). The outage test runs a second, disposable dockerd so the shared one is untouched.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from console.runtime.base import (
    RuntimeUnavailable,
)
from console.runtime.docker.runtime import (
    DockerRuntime,
    LineAssembler,
    _InspectCache,
)
from tests.integration.test_docker_runtime import (
    svc,
)


def test_inspect_details_are_reused_only_for_settled_unchanged_containers() -> None:
    cache = _InspectCache(max_age_s=10)
    settled = {"Id": "a", "State": "running", "Status": "Up 3 minutes (healthy)"}
    cache.put(settled, {"Id": "a"})
    assert cache.get(settled) == {"Id": "a"}
    assert cache.get({**settled, "Status": "Up 3 minutes (unhealthy)"}) is None
    young = {"Id": "b", "State": "running", "Status": "Up 4 seconds"}
    cache.put(young, {"Id": "b"})
    assert cache.get(young) is None  # a restart may hide behind a young container's row
    cache.drop("a")
    assert cache.get(settled) is None
    stale = _InspectCache(max_age_s=0)
    stale.put(settled, {"Id": "a"})
    time.sleep(0.01)
    assert stale.get(settled) is None  # the health log may have moved on
    sick = {"Id": "c", "State": "running", "Status": "Up 3 minutes (unhealthy)"}
    split = _InspectCache(max_age_s=60, unhealthy_age_s=0)
    split.put(settled, {"Id": "a"})
    split.put(sick, {"Id": "c"})
    time.sleep(0.01)
    assert split.get(settled) == {"Id": "a"}  # a healthy row's "OK" may wait a minute
    assert split.get(sick) is None  # a failing probe's output is re-read every refresh


def test_line_assembler_joins_frames_each_with_its_own_timestamp() -> None:
    """Docker's continuation frames carry their own timestamp: only the first one counts."""
    asm = LineAssembler("svc", timestamps=True)
    t1, t2 = b"2026-11-24T10:00:00.100000000Z ", b"2026-11-24T10:00:00.200000000Z "
    euro = "€".encode()
    assert asm.feed(1, t1 + b"abc" + euro[:1]) == []
    out = asm.feed(1, t2 + euro[1:] + b"def\nnext")
    assert [(o.text, o.time) for o in out] == [
        ("abc€def", datetime(2026, 11, 24, 10, 0, 0, 100000, tzinfo=UTC))
    ]
    assert [o.text for o in asm.feed(2, t2 + b"\xff oops\n")] == ["\ufffd oops"]
    assert [(o.text, o.stream) for o in asm.flush()] == [("next", "stdout")]


def test_line_assembler_for_tty_streams_reads_stamps_at_line_starts() -> None:
    asm = LineAssembler("svc", timestamps=True, framed=False)
    assert asm.feed(1, b"2026-11-24T10:00:00Z one\r\n2026-11-24T10:00:01Z tw") != []
    (two,) = asm.feed(1, b"o\n")
    assert (two.text, two.time) == ("two", datetime(2026, 11, 24, 10, 0, 1, tzinfo=UTC))


def test_missing_socket_is_unavailable_in_one_line() -> None:
    async def go() -> None:
        runtime = DockerRuntime("x", base_url="unix:///tmp/vx-no-such-dir/docker.sock")
        try:
            with pytest.raises(RuntimeUnavailable) as err:
                await runtime.list_states([svc("a")])
        finally:
            await runtime.close()
        assert str(err.value) == (
            "Docker daemon unreachable at unix:///tmp/vx-no-such-dir/docker.sock: "
            "no such file or directory"
        )

    asyncio.run(go())
