"""Headless `load` and `drill`: the same load test and chaos drills the console runs.

`load` prints a live line a second on stderr (stdout stays clean for `--json`) and the
result with the seeds' thresholds; exit 0 when every threshold passed, 1 when one failed,
2 on usage (a target off loopback, a rate or duration out of bounds). On a production
context the context's name must be typed out (`--confirm-context NAME` in scripts).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Callable

from actions.load import LoadTest, production_context
from console.factory import AppContext
from console.loadgen import (
    LoadError,
    LoadSnapshot,
    LoadSpec,
    parse_duration,
    resolve_target,
    run_loop,
)

AddCommon = Callable[[argparse.ArgumentParser, bool], None]
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_RATE = 1100.0  # just above seed 002's "> 1000 req/s": a pass means it was sustained


def add_parsers(sub: argparse._SubParsersAction, add_common: AddCommon) -> None:
    load = sub.add_parser("load", help="load test a service or loopback URL (open loop)")
    add_common(load, True)
    load.add_argument("target", metavar="SERVICE|URL",
                      help="a service of the stack (its health endpoint) or http://127.x URL")
    how = load.add_mutually_exclusive_group()
    how.add_argument("--rate", type=float, metavar="R",
                     help=f"requests a second, open loop (default {DEFAULT_RATE:g})")
    how.add_argument("--users", type=int, metavar="N",
                     help="N connections back to back, closed loop (k6 style)")
    load.add_argument("--duration", default="30s", help="how long (default 30s; e.g. 10s, 2m)")
    load.add_argument("--workers", type=int, default=1, metavar="N",
                      help="processes sending (1-8; default 1): like wrk's threads, for "
                      "rates one process cannot drive")
    load.add_argument("--timeout", type=float, default=5.0,
                      help="seconds before a request counts as a timeout (default 5)")
    load.add_argument("--json", action="store_true", help="the result as JSON (schema 1)")
    load.add_argument("--confirm-context", metavar="NAME",
                      help="a production context's name, typed out to allow the load")

    from cli import drill as cli_drill

    cli_drill.add_parser(sub, add_common)


def _err(text: str) -> None:
    print(f"vextrus-console: {text}", file=sys.stderr)


def build_spec(args: argparse.Namespace, ctx: AppContext | None) -> LoadSpec:
    target = resolve_target(ctx.stack if ctx else None, args.target)
    rate = args.rate if args.rate is not None or args.users is not None else DEFAULT_RATE
    return LoadSpec(target, duration=parse_duration(args.duration), rate=rate,
                    users=args.users, timeout=args.timeout)


def confirm_production(ctx: AppContext, args: argparse.Namespace,
                       ask: Callable[[str], str] = input) -> bool:
    """On a production context: the name typed out (or --confirm-context); else yes."""
    word = production_context(ctx)
    if word is None:
        return True
    given = getattr(args, "confirm_context", None)
    if given is not None:
        if given == word:
            return True
        _err(f"--confirm-context {given!r} is not the context {word!r}: nothing was done")
        return False
    if not sys.stdin.isatty():
        _err(f"context {word!r} is production: pass --confirm-context {word} to load it")
        return False
    typed = ask(f"context {word!r} is production: type its name to load it: ")
    if typed.strip() != word:
        _err(f"that is not {word!r}: nothing was done")
        return False
    return True


def run(args: argparse.Namespace, ctx: AppContext) -> int:
    if args.command == "drill":
        from cli import drill as cli_drill

        return cli_drill.run(args, ctx)
    try:
        spec = build_spec(args, ctx)
    except LoadError as exc:
        _err(str(exc))
        return EXIT_USAGE
    if not confirm_production(ctx, args):
        return EXIT_USAGE
    state_dir = ctx.journal.path.parent if ctx.journal is not None else None
    if args.workers != 1:
        from console.loadgen_parallel import split

        try:
            split(spec, args.workers)
        except LoadError as exc:
            _err(str(exc))
            return EXIT_USAGE
    test = LoadTest(spec, ctx.journal, state_dir, workers=args.workers)
    print(f"load {spec.describe()}", file=sys.stderr, flush=True)
    result = run_loop(_run(test))
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, sort_keys=True))
    else:
        print("\n".join(result.lines()))
    if test.saved is not None:
        print(f"result: {test.saved}", file=sys.stderr)
    if result.cancelled:
        return 130
    return EXIT_OK if result.passed else EXIT_FAILED


async def _run(test: LoadTest):  # -> LoadResult
    cancel = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, cancel.set)
    return await test.run(_live_line, cancel)


def _live_line(snap: LoadSnapshot) -> None:
    lat = snap.latency_ms
    errors = sum(snap.errors.values())
    print(f"  {snap.elapsed:5.1f}s  {snap.throughput:7.0f} req/s  p50 {lat['p50']:.1f}  "
          f"p95 {lat['p95']:.1f}  p99 {lat['p99']:.1f} ms  errors {errors}  "
          f"in flight {snap.in_flight}  backlog {snap.backlog}", file=sys.stderr, flush=True)
