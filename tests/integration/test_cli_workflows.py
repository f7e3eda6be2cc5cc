"""`vextrus-console workflows ...` against a real Temporal test server and the Vextrus worker.

In-process through `cli.main.main`, with `--runtime none` (no Docker needed) and a journal
in a temporary state dir, so each write's journal entry can be read back.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from cli.main import main
from console.journal import Journal
from tests.integration.test_temporal_backend import po, start, uid
from tests.temporal_server import TemporalLab


@pytest.fixture
def cli(temporal_lab: TemporalLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    def run(*argv: str, read_only: bool = False) -> tuple[int, str, str]:
        common = ["--runtime", "none", "--state-dir", str(tmp_path)]
        if read_only:
            common.append("--read-only")
        verb, *rest = argv
        code = main(["workflows", verb, *common, "--temporal-address", temporal_lab.address,
                     *rest])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def started(lab: TemporalLab, payload: dict[str, Any] | None = None) -> str:
    wid = uid("cli-po")
    asyncio.run(start(lab, "PurchaseOrderApproval", payload or po("1250000"), wid))
    return wid


def actions(tmp_path: Path) -> list[str]:
    journal = Journal(tmp_path / "journal.sqlite3", stack="vextrus")
    try:
        return [f"{e.service}: {e.text}" for e in journal.timeline(kinds=["action"])]
    finally:
        journal.close()


def describe(cli, wid: str) -> dict[str, Any]:
    code, out, _ = cli("describe", wid, "--json")
    assert code == 0
    return json.loads(out)


def test_list_describe_query_history(cli, temporal_lab: TemporalLab) -> None:
    wid = started(temporal_lab)
    code, out, _ = cli("list", "--id", wid, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["schema"] == 1 and data["source"] == "open/closed"
    assert [(w["workflow_id"], w["status"], w["type"]) for w in data["workflows"]] == [
        (wid, "running", "PurchaseOrderApproval")]

    code, out, _ = cli("list", "--type", "PurchaseOrderApproval", "--status", "running")
    assert code == 0
    assert out.splitlines()[0].split() == ["STATUS", "TYPE", "WORKFLOW", "ID", "RUN", "ID",
                                           "START", "CLOSE", "TASK", "QUEUE"]
    assert any(line.startswith("running") and wid in line for line in out.splitlines())

    code, out, _ = cli("query", wid, "status", "--json")
    assert code == 0 and json.loads(out)["result"]["approval_tier"] == "cfo"

    code, out, _ = cli("describe", wid)
    assert code == 0
    assert f"workflow_id     {wid}" in out and "status          running" in out

    code, out, _ = cli("history", wid)
    assert code == 0
    assert out.splitlines()[0].split()[:4] == ["1", out.split()[1], out.split()[2],
                                               "WorkflowExecutionStarted"]


def test_signal_to_completion_is_journaled(cli, temporal_lab: TemporalLab,
                                           tmp_path: Path) -> None:
    wid = started(temporal_lab)
    code, out, err = cli("signal", wid, "approve", "--args", '["cli-user", "ok"]', "--yes")
    assert code == 0, err
    assert f"signal 'approve' sent to {wid}" in out
    assert "send signal 'approve' with [\"cli-user\", \"ok\"]" in err
    assert actions(tmp_path) == [
        f"{wid}: workflow signal started",
        f"{wid}: workflow signal finished: ok: signal 'approve' sent to {wid}"]

    for _ in range(200):  # the worker completes it
        if describe(cli, wid)["status"] != "running":
            break
        time.sleep(0.1)
    data = describe(cli, wid)
    assert data["status"] == "completed" and data["result"]["decided_by"] == "cli-user"


def test_bad_json_args_are_a_usage_error_and_nothing_is_sent(
    cli, temporal_lab: TemporalLab, tmp_path: Path
) -> None:
    wid = started(temporal_lab)
    code, _, err = cli("signal", wid, "approve", "--args", "[rahim]", "--yes")
    assert code == 2
    assert err == ("vextrus-console workflows: arguments: invalid JSON at line 1 column 2:"
                   " Expecting value\n")
    assert actions(tmp_path) == []
    assert describe(cli, wid)["status"] == "running"


def test_read_only_refuses_writes(cli, temporal_lab: TemporalLab, tmp_path: Path) -> None:
    wid = started(temporal_lab)
    for verb, extra in (("signal", ["approve"]), ("cancel", []),
                        ("terminate", ["--reason", "x"])):
        code, _, err = cli(verb, wid, *extra, "--yes", read_only=True)
        assert code == 2
        assert err.splitlines()[-1] == (
            f"vextrus-console: workflow {verb}: refused in read-only mode")
    assert describe(cli, wid)["status"] == "running"
    assert actions(tmp_path) == []


def test_writes_need_yes_without_a_terminal(cli, temporal_lab: TemporalLab) -> None:
    wid = started(temporal_lab)
    code, _, err = cli("cancel", wid)
    assert code == 2 and "pass --yes" in err
    assert describe(cli, wid)["status"] == "running"


def test_terminate_needs_a_reason_and_records_it(cli, temporal_lab: TemporalLab) -> None:
    wid = started(temporal_lab)
    with pytest.raises(SystemExit) as info:
        cli("terminate", wid, "--yes")
    assert info.value.code == 2
    code, _, _ = cli("terminate", wid, "--reason", "duplicate order", "--yes", "--json")
    assert code == 0
    data = describe(cli, wid)
    assert data["status"] == "terminated"
    assert data["failure"].startswith("terminated: duplicate order (by vextrus-console:")


def test_cancel_then_failed_signal_exits_1(cli, temporal_lab: TemporalLab) -> None:
    wid = started(temporal_lab)
    assert cli("cancel", wid, "--yes")[0] == 0
    code, _, err = cli("signal", "no-such-workflow-id", "approve", "--yes")
    assert code == 1
    assert err.splitlines()[-1].startswith("✗ signal: not found: ")


