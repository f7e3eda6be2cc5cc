"""Headless `drill kill|latency|oom|disk SERVICE`: plan and blast radius, confirm, run, report.

The plan and the blast radius print first; `--dry-run` stops there. The drill is a write:
refused with `--read-only`, confirmed on a terminal or with `--yes` (a production context
wants its name typed out, as every write). SIGINT and SIGTERM cancel it and it restores
before exiting; what a crashed drill left behind is undone before the next one starts.
Exit 0 when the service recovered (or the fault was contained) and all was restored, 1
otherwise, 2 on usage, 130 when cancelled.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import signal
import sys
from collections.abc import Callable

from actions.base import ActionError, CancelToken, Progress
from actions.drill.engine import KINDS, AskRestart, Drill, DrillOptions
from actions.drill.kinds import make_drill
from actions.drill.undo import drill_state_dir, undo_leftovers_for
from console.factory import AppContext
from console.loadgen import LoadError, parse_duration

AddCommon = Callable[[argparse.ArgumentParser, bool], None]
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130
_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]?)i?b?\s*$", re.IGNORECASE)


def add_parser(sub: argparse._SubParsersAction, add_common: AddCommon) -> None:
    drill = sub.add_parser("drill", help="chaos drill: kill, latency, oom or disk on a service")
    add_common(drill, True)
    drill.add_argument("kind", choices=KINDS, help="the fault to inject")
    drill.add_argument("service", metavar="SERVICE")
    drill.add_argument("--yes", "-y", action="store_true",
                       help="do not ask (and take the guided restart when it is offered)")
    drill.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    drill.add_argument("--json", action="store_true", help="print the report as JSON")
    drill.add_argument("--delay", default="200ms", help="latency: added delay (default 200ms)")
    drill.add_argument("--jitter", default="0ms", help="latency: ± jitter (default 0)")
    drill.add_argument("--drop", type=float, default=0.0,
                       help="latency: share of connections dropped, 0-1 (default 0)")
    drill.add_argument("--memory", default="64m",
                       help="oom: the hog's limit when the service has none (default 64m)")
    drill.add_argument("--size", default="64m", help="disk: how much to write (default 64m)")
    drill.add_argument("--path", help="disk: where (a tmpfs or volume mounted in the service)")
    drill.add_argument("--hold", default="5s", help="latency, disk: how long (default 5s)")
    drill.add_argument("--timeout", default="60s",
                       help="to detect, and then to recover (default 60s)")
    drill.add_argument("--restart-after", default="10s",
                       help="kill: offer a guided restart after this long down (default 10s)")
    from cli.k8s import add_confirm_context

    add_confirm_context(drill)


def parse_size(text: str) -> int:
    """`64m`, `1g`, `512k` or bytes."""
    match = _SIZE.match(text)
    if not match:
        raise ActionError(f"size: {text!r} is not a size (e.g. 64m, 1g)")
    unit = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[match.group(2).lower()]
    return int(match.group(1)) * unit


def options_from(args: argparse.Namespace) -> DrillOptions:
    try:
        timeout = parse_duration(args.timeout)
        return DrillOptions(
            delay=parse_duration(args.delay), jitter=parse_duration(args.jitter),
            drop=args.drop, memory=parse_size(args.memory), size=parse_size(args.size),
            path=args.path, hold=parse_duration(args.hold), detect_timeout=timeout,
            recover_timeout=timeout, restart_after=parse_duration(args.restart_after),
        ).validate()
    except LoadError as exc:
        raise ActionError(str(exc)) from None


def _err(text: str) -> None:
    print(f"vextrus-console: {text}", file=sys.stderr)


def run(args: argparse.Namespace, ctx: AppContext) -> int:
    for line in undo_leftovers_for(ctx):
        print(line, file=sys.stderr)
    try:
        options = options_from(args)
        drill = make_drill(args.kind, ctx.stack, ctx.runtime, args.service, options,
                           journal=ctx.journal, state_dir=drill_state_dir(ctx.journal),
                           ask_restart=_asker(args))
    except (ActionError, LoadError) as exc:
        _err(str(exc))
        return EXIT_USAGE
    print(f"{drill.name} {drill.target}: plan")
    for step in drill.plan():
        print(f"  - {step.title}" + (f"  [{step.detail}]" if step.detail else ""))
    radius = drill.blast_radius()
    print(f"  blast radius: {', '.join(radius) if radius else 'none'}", flush=True)
    if args.dry_run:
        return EXIT_OK
    from cli.k8s import confirm_write, refusal

    if ctx.read_only:
        _err(refusal(ctx, drill.name))
        return EXIT_USAGE
    if not confirm_write(ctx, args, f"{drill.name} {drill.target}?"):
        return EXIT_USAGE
    report = asyncio.run(_execute(drill, ctx))
    if args.json:  # the summary is already out as the last event line
        print(json.dumps(report.to_dict(), indent=2, sort_keys=True))
    if drill.saved is not None:
        print(f"report: {drill.saved} and {drill.saved.with_suffix('.md')}", file=sys.stderr)
    if report.outcome == "cancelled":
        return EXIT_CANCELLED
    return EXIT_OK if report.passed else EXIT_FAILED


def _asker(args: argparse.Namespace) -> AskRestart:
    async def ask(question: str) -> bool:
        if args.yes:
            print(f"{question} yes (--yes)", flush=True)
            return True
        if not sys.stdin.isatty():
            print(f"{question} no (no terminal to ask; --yes would)", flush=True)
            return False
        answer = await asyncio.to_thread(input, f"{question} [y/N] ")
        return answer.strip().lower() in ("y", "yes")

    return ask


async def _execute(drill: Drill, ctx: AppContext):  # -> DrillReport
    cancel = CancelToken()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, cancel.cancel)
    try:
        return await drill.execute(cancel, _print_event, ctx.read_only)
    finally:
        if ctx.runtime is not None:
            await ctx.runtime.close()


def _print_event(event: Progress) -> None:
    print(event.line(), flush=True)
