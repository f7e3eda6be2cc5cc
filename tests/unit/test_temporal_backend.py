"""The unit tests of tests/integration/test_temporal_backend.py (same subject, other layer).

The Temporal backend and the Vextrus workflows against a real Temporal test server.

Workflows are started with the SDK and executed by the Vextrus worker subprocess (the
demo's entrypoint); the console's backend lists, describes, queries, signals, cancels and
terminates them. The test server has no visibility queries, so listing uses the open/closed
fallback here, as it would against a server without advanced visibility.
"""

from __future__ import annotations

import pytest

from console.temporal.client import TemporalBackend
from console.temporal.types import (
    ListFilter,
    TemporalUnavailable,
)
from tests.fixtures_services import free_port


async def test_unreachable_server_is_a_reason_not_a_crash() -> None:
    backend = TemporalBackend(f"127.0.0.1:{free_port()}", "vextrus", timeout=2.0)
    with pytest.raises(TemporalUnavailable, match="connection refused"):
        await backend.list_workflows(ListFilter())
    health = await backend.health()
    assert not health.reachable and health.problem == "connection refused"


def test_pollers_in_words() -> None:
    from console.temporal.health import pollers_text

    assert pollers_text({"vextrus-workflows": 2, "billing": 0}, "") == (
        "pollers: vextrus-workflows 2, billing 0 (no worker polls it)")


def test_task_queues_belong_to_temporal_checks_in_the_stack_file() -> None:
    from console.stackfile import StackFileError, load_stack, parse_stack

    bundled = load_stack(None).service("temporal").checks[0]
    assert bundled.task_queues == ("vextrus-workflows",)
    with pytest.raises(StackFileError, match="applies to temporal checks only"):
        parse_stack('[services.a]\nchecks = [{ kind = "tcp", port = 1, task_queues = ["q"] }]\n',
                    "s.toml")
