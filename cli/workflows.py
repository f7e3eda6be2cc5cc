"""Headless `workflows list | describe | history | query | signal | cancel | terminate`.

The same backend and the same write actions as the console's workflows screen. `--json`
is stable for scripts (schema 1). Writes ask on a terminal (terminate asks for the workflow
id typed out), take `--yes` in scripts, are refused with `--read-only` and are journaled.
Exit codes: 0 ok, 1 Temporal failed (unreachable, not found, refused), 2 usage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from actions.base import ActionError, CancelToken, ReadOnlyRefused, execute, read_only_refusal
from console.factory import AppContext
from console.masking import echo, safe_json, safe_str
from console.temporal.args import ArgsError, check_name, parse_args
from console.temporal.types import (
    STATUSES,
    HistoryLine,
    ListFilter,
    TemporalError,
    WorkflowDescription,
    WorkflowRow,
    WorkflowsBackend,
)

AddCommon = Callable[[argparse.ArgumentParser, bool], None]
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
SCHEMA = 1


def add_parser(sub: argparse._SubParsersAction, add_common: AddCommon) -> None:
    wf = sub.add_parser("workflows", help="Temporal workflows: list, inspect, signal, cancel")
    add_common(wf, True)
    verbs = wf.add_subparsers(dest="wf_command", metavar="VERB", required=True)

    def verb(name: str, help_text: str, with_id: bool = True) -> argparse.ArgumentParser:
        p = verbs.add_parser(name, help=help_text)
        add_common(p, True)
        p.add_argument("--temporal-address", metavar="HOST:PORT", help="Temporal frontend "
                       "(default: [stack.temporal] address)")
        p.add_argument("--temporal-namespace", metavar="NS",
                       help="default: [stack.temporal] namespace")
        p.add_argument("--json", action="store_true", help="stable JSON for scripts")
        if with_id:
            p.add_argument("workflow_id", metavar="WORKFLOW_ID")
            p.add_argument("--run-id", default="", metavar="RUN_ID",
                           help="a specific run (default: the latest)")
        return p

    ls = verb("list", "list workflow executions, newest first", with_id=False)
    ls.add_argument("--status", choices=STATUSES)
    ls.add_argument("--type", metavar="TYPE", help="workflow type, e.g. InvoiceApproval")
    ls.add_argument("--id", dest="filter_id", metavar="WORKFLOW_ID")
    ls.add_argument("--query", metavar="QUERY",
                    help="visibility query (servers with advanced visibility only)")
    ls.add_argument("--page-size", type=int, default=50, metavar="N")
    ls.add_argument("--page-token", default="", metavar="TOKEN", help="from a previous page")
    ls.add_argument("--all", action="store_true", help="follow every page")
    verb("describe", "status, pending activities, result or failure")
    verb("history", "the event history, readable")
    q = verb("query", "ask a running workflow (e.g. status)")
    q.add_argument("name", metavar="QUERY_NAME")
    q.add_argument("--args", metavar="JSON", help='JSON array of arguments, e.g. ["x", 1]')
    s = verb("signal", "send a signal (e.g. approve, reject)")
    s.add_argument("name", metavar="SIGNAL_NAME")
    s.add_argument("--args", metavar="JSON", help='JSON array, e.g. ["rahim", "budget ok"]')
    _confirmable(s)
    _confirmable(verb("cancel", "request cancellation (the workflow may clean up)"))
    t = verb("terminate", "end a workflow at once, with a reason")
    t.add_argument("--reason", required=True, help="recorded in the workflow's history")
    _confirmable(t)


def _confirmable(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    parser.add_argument("--dry-run", action="store_true", help="say what would be done, stop")


def run(args: argparse.Namespace, ctx: AppContext) -> int:
    try:
        backend = _backend(args, ctx)
        return asyncio.run(_run(args, ctx, backend))
    except (ArgsError, _Usage) as exc:
        echo(f"vextrus-console workflows: {exc}", file=sys.stderr, mask=False)
        return EXIT_USAGE
    finally:
        if ctx.journal is not None:
            ctx.journal.close()


class _Usage(Exception):
    pass


def _backend(args: argparse.Namespace, ctx: AppContext) -> WorkflowsBackend:
    """The context's backend, or one for --address/--namespace (over the stack's settings)."""
    from console.model import TemporalSettings
    from console.temporal.client import TemporalBackend

    if args.temporal_address or args.temporal_namespace:
        settings = replace(ctx.stack.temporal or TemporalSettings(),
                           **{k: v for k, v in (("address", args.temporal_address),
                                                ("namespace", args.temporal_namespace)) if v})
        return TemporalBackend.from_settings(settings)
    if ctx.workflows is None:
        raise _Usage(f"{ctx.stack.source}: the stack has no [stack.temporal] table "
                     "(or pass --temporal-address)")
    return ctx.workflows


async def _run(args: argparse.Namespace, ctx: AppContext, backend: WorkflowsBackend) -> int:
    verb = args.wf_command
    try:
        if verb in ("signal", "cancel", "terminate"):
            return await _write(args, ctx, backend)
        if verb == "list":
            return await _list(args, backend)
        if verb == "describe":
            _out(args, _describe_json(await backend.describe(args.workflow_id, args.run_id)),
                 _describe_text)
        elif verb == "history":
            lines = await backend.history(args.workflow_id, args.run_id)
            _out(args, {"schema": SCHEMA, "events": [_line_json(x) for x in lines]},
                 lambda d: "\n".join(_line_text(x) for x in lines))
        elif verb == "query":
            result = await backend.query(args.workflow_id, args.run_id,
                                         check_name("query", args.name), parse_args(args.args))
            _out(args, {"schema": SCHEMA, "result": result},
                 lambda d: json.dumps(result, indent=2, ensure_ascii=False, default=str))
    except ArgsError:
        raise
    except TemporalError as exc:
        echo(f"vextrus-console workflows {verb}: {exc}", file=sys.stderr, mask=False)
        return EXIT_FAILED
    finally:
        await backend.close()
    return EXIT_OK


# --- reading ----------------------------------------------------------------------------


async def _list(args: argparse.Namespace, backend: WorkflowsBackend) -> int:
    if not 1 <= args.page_size <= 1000:
        raise _Usage("--page-size must be between 1 and 1000")
    flt = ListFilter(status=args.status, type=args.type, workflow_id=args.filter_id,
                     query=args.query)
    page = await backend.list_workflows(flt, args.page_size, args.page_token)
    rows = list(page.rows)
    while args.all and page.next_token:
        page = await backend.list_workflows(flt, args.page_size, page.next_token)
        rows.extend(page.rows)
    data = {"schema": SCHEMA, "namespace": backend.namespace, "source": page.source,
            "note": page.note, "next_page_token": page.next_token,
            "workflows": [_row_json(r) for r in rows]}  # fmt: skip
    _out(args, data, lambda d: _list_text(rows, page.next_token, page.note))
    return EXIT_OK


def _out(args: argparse.Namespace, data: dict[str, Any],
         text: Callable[[dict[str, Any]], str]) -> None:
    if args.json:
        print(json.dumps(safe_json(data), indent=2, ensure_ascii=False, default=str))
    else:
        echo(text(data))


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%SZ") if at else "-"


def _row_json(r: WorkflowRow) -> dict[str, Any]:
    return {"workflow_id": r.workflow_id, "run_id": r.run_id, "type": r.type,
            "status": r.status, "start": r.start.isoformat() if r.start else None,
            "close": r.close.isoformat() if r.close else None, "task_queue": r.task_queue}


def _list_text(rows: list[WorkflowRow], next_token: str, note: str) -> str:
    head = ("STATUS", "TYPE", "WORKFLOW ID", "RUN ID", "START", "CLOSE", "TASK QUEUE")
    table = [head] + [tuple(safe_str(c, 200) for c in (
        r.status, r.type, r.workflow_id, r.run_id, _when(r.start), _when(r.close),
        r.task_queue or "-")) for r in rows]  # fmt: skip (cells made safe before measuring)
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in table]  # fmt: skip
    lines.append(f"{len(rows)} workflow(s)" + (f"; {note}" if note else ""))
    if next_token:
        lines.append(f"more: --page-token {next_token}")
    return "\n".join(lines)


def _describe_json(d: WorkflowDescription) -> dict[str, Any]:
    return {"schema": SCHEMA, **_row_json(d.row), "history_length": d.history_length,
            "parent": d.parent or None, "result": json.loads(d.result) if d.result else None,
            "failure": d.failure,
            "pending_activities": [
                {"activity_id": a.activity_id, "type": a.type, "state": a.state,
                 "attempt": a.attempt, "maximum_attempts": a.maximum_attempts,
                 "last_failure": a.last_failure or None,
                 "next_attempt": a.next_attempt.isoformat() if a.next_attempt else None}
                for a in d.pending_activities]}  # fmt: skip


def _describe_text(data: dict[str, Any]) -> str:
    lines = [f"{k:<16}{data[k] if data[k] is not None else '-'}" for k in
             ("workflow_id", "run_id", "type", "status", "task_queue", "start", "close",
              "history_length")]  # fmt: skip
    for a in data["pending_activities"]:
        limit = a["maximum_attempts"] or "unlimited"
        lines.append(f"pending         {a['type']} ({a['state']}) attempt {a['attempt']}"
                     f" of {limit}" + (f": {a['last_failure']}" if a["last_failure"] else ""))
    if data["result"] is not None:
        lines.append("result          " + json.dumps(data["result"], ensure_ascii=False))
    if data["failure"]:
        lines.append(f"failure         {data['failure']}")
    return "\n".join(lines)


def _line_json(x: HistoryLine) -> dict[str, Any]:
    return {"event_id": x.event_id, "time": x.at.isoformat() if x.at else None,
            "type": x.kind, "text": x.text}


def _line_text(x: HistoryLine) -> str:
    return f"{x.event_id:>4}  {_when(x.at)}  {x.kind:<34} {x.text}".rstrip()


# --- writing ----------------------------------------------------------------------------


async def _write(args: argparse.Namespace, ctx: AppContext, backend: WorkflowsBackend) -> int:
    from actions.workflows import WorkflowWrite

    verb = args.wf_command
    write = WorkflowWrite(
        backend, verb, args.workflow_id, args.run_id,
        signal=check_name("signal", args.name) if verb == "signal" else "",
        args=parse_args(args.args) if verb == "signal" else [],
        reason=getattr(args, "reason", "") or "")
    echo(f"{write.name}: {write.describe()}", file=sys.stderr)
    if args.dry_run:
        return EXIT_OK
    if ctx.read_only:
        echo(f"vextrus-console: {read_only_refusal(write.name, ctx.read_only_reason)}",
             file=sys.stderr, mask=False)
        return EXIT_USAGE
    if not args.yes and not _confirm(verb, args.workflow_id):
        return EXIT_USAGE
    failed = False
    try:
        async for event in execute(write, CancelToken(), ctx.journal, ctx.read_only):
            failed = failed or event.kind == "failed"
            if event.kind in ("failed", "done") and not args.json:
                echo(event.line(), file=sys.stderr if event.kind == "failed" else sys.stdout)
    except ReadOnlyRefused as exc:
        echo(f"vextrus-console: {exc}", file=sys.stderr, mask=False)
        return EXIT_USAGE
    except ActionError as exc:
        echo(f"vextrus-console: {exc}", file=sys.stderr, mask=False)
        return EXIT_FAILED
    if args.json:
        echo(json.dumps({"schema": SCHEMA, "ok": not failed, "action": verb,
                          "workflow_id": args.workflow_id}))
    return EXIT_FAILED if failed else EXIT_OK


def _confirm(verb: str, workflow_id: str) -> bool:
    """y/N on a terminal; terminate wants the workflow id typed out. No terminal: refuse."""
    if not sys.stdin.isatty():
        echo("vextrus-console: refusing without confirmation: pass --yes (no terminal to ask)",
              file=sys.stderr)
        return False
    if verb == "terminate":
        return input(f"type the workflow id ({workflow_id}) to terminate it: ").strip() == \
            workflow_id
    return input(f"{verb} {workflow_id}? [y/N] ").strip().lower() in ("y", "yes")
