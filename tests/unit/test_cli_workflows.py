"""The unit tests of tests/integration/test_cli_workflows.py (same subject, other layer).

`vextrus-console workflows ...` against a real Temporal test server and the Vextrus worker.

In-process through `cli.main.main`, with `--runtime none` (no Docker needed) and a journal
in a temporary state dir, so each write's journal entry can be read back.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import main
from tests.fixtures_services import free_port


def test_unreachable_server_exits_1_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["workflows", "list", "--runtime", "none", "--state-dir", str(tmp_path),
                 "--temporal-address", f"127.0.0.1:{free_port()}"])
    assert code == 1
    assert capsys.readouterr().err == (
        "vextrus-console workflows list: connection refused\n")
