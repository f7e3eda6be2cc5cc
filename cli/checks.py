"""Headless `preflight` and `report`: read-only, so they run in read-only mode too.

`preflight` exits 0 when every check passes and 1 when one fails (so a runbook can stop
before a bring-up that would fail); `report --markdown` prints the seeds' tracking document
or writes it atomically with `-o`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

from actions.base import CancelToken, execute
from actions.preflight import Limits, Preflight
from actions.report import build_report
from console.factory import AppContext
from console.masking import echo

AddCommon = Callable[[argparse.ArgumentParser, bool], None]


def add_parsers(sub: argparse._SubParsersAction, add_common: AddCommon) -> None:
    pre = sub.add_parser("preflight", help="check Docker, disk, memory, ports, vm.max_map_count")
    add_common(pre, True)
    pre.add_argument("--min-disk-gib", type=float, default=Limits.min_disk_gib, metavar="GIB")
    pre.add_argument("--min-memory-gib", type=float, default=Limits.min_memory_gib,
                     metavar="GIB")

    rep = sub.add_parser("report", help="the seeds' tracking document from live data")
    add_common(rep, True)
    rep.add_argument("--markdown", action="store_true", default=True,
                     help="Markdown (the default and only format)")
    rep.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    rep.add_argument("--actions", type=int, default=20, metavar="N",
                     help="how many recent actions to list (default 20)")
    from cli.demo import add_demo_option

    add_demo_option(rep)


def run(args: argparse.Namespace, ctx: AppContext) -> int:
    try:
        if args.command == "preflight":
            return asyncio.run(_preflight(args, ctx))
        return asyncio.run(_report(args, ctx))
    finally:
        if ctx.journal is not None:
            ctx.journal.close()


async def _preflight(args: argparse.Namespace, ctx: AppContext) -> int:
    limits = Limits(min_disk_gib=args.min_disk_gib, min_memory_gib=args.min_memory_gib)
    action = Preflight(ctx.stack, ctx.runtime, limits=limits)
    failed = False
    try:
        async for event in execute(action, CancelToken(), ctx.journal, ctx.read_only):
            echo(event.line(), flush=True)
            failed = failed or event.kind == "failed"
    finally:
        if ctx.runtime is not None:
            await ctx.runtime.close()
    return 1 if failed else 0


async def _report(args: argparse.Namespace, ctx: AppContext) -> int:
    ctx.monitor.record_transitions = False  # read-only: the journal is read, never written
    try:
        status = await ctx.monitor.refresh()
    finally:
        if ctx.runtime is not None:
            await ctx.runtime.close()
    journal = ctx.journal
    actions = journal.timeline(limit=max(args.actions, 0), kinds=["action"]) if journal else []
    times = journal.startup_times() if journal else {}
    text = build_report(status, actions, times, ctx.clock())
    if args.output:
        from console.fileio import write_text_atomic

        write_text_atomic(Path(args.output), text)
        echo(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
