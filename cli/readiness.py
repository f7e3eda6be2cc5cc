"""`vextrus-console readiness`: seed 002's Success Metrics Checklist, evaluated live.

Exit codes: 0 every checkable item passes, 1 some fail or are unknown, 2 usage.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from console.factory import AppContext, compose_path
from console.masking import echo
from console.runtime.capabilities import UsageSource

if TYPE_CHECKING:  # imported when the command runs: httpx costs ~0.5 s at every start
    from actions.readiness import Scorecard
    from console.stats import UsageBoard

AddCommon = Callable[[argparse.ArgumentParser, bool], None]


def add_parsers(sub: argparse._SubParsersAction, add_common: AddCommon) -> None:
    ready = sub.add_parser("readiness", help="seed 002's success checklist against the live "
                           "stack: pass, fail or unknown with evidence")
    add_common(ready, True)
    form = ready.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="stable JSON (schema 1)")
    form.add_argument("--markdown", action="store_true", help="the seed's checklist, filled in")
    ready.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    ready.add_argument("--timeout", type=float, default=3.0, metavar="S",
                       help="per question (HTTP, Kafka, SQL); default 3")
    from cli.demo import add_demo_option

    add_demo_option(ready)


async def usage_board(ctx: AppContext, gap: float = 1.0) -> UsageBoard | None:
    """Two rounds of the runtime's usage (CPU is a rate), or None where it has none."""
    from console.stats import UsageTracker

    usage = ctx.runtime.usage if isinstance(ctx.runtime, UsageSource) else None
    if usage is None:
        return None
    tracker = UsageTracker()
    tracker.add(await usage(ctx.stack.services))
    await asyncio.sleep(gap)
    return tracker.add(await usage(ctx.stack.services))


async def scorecard(ctx: AppContext, timeout: float) -> Scorecard:
    from actions.readiness import Inputs, evaluate
    from console.demo.session import demo_env

    ctx.monitor.record_transitions = False  # a look, not an event: the journal stays as is
    try:
        status = await ctx.monitor.refresh()
        board = await usage_board(ctx)
    finally:
        if ctx.runtime is not None:
            await ctx.runtime.close()
    state_dir = ctx.journal.path.parent if ctx.journal is not None else None
    inputs = Inputs(ctx.stack, status, ctx.clock, compose_path(ctx), state_dir, timeout,
                    usage=board, env=demo_env(ctx.stack.source))
    return await evaluate(inputs)


def run(args: argparse.Namespace, ctx: AppContext) -> int:
    from actions.readiness.report import as_json, cli_lines, markdown

    try:
        card = asyncio.run(scorecard(ctx, args.timeout))
    finally:
        if ctx.journal is not None:
            ctx.journal.close()
    if args.json:
        text = as_json(card)
    elif args.markdown or args.output:
        text = markdown(card, ctx.stack.name)
    else:
        text = "\n".join(cli_lines(card))
    if args.output:
        from console.fileio import write_text_atomic
        from console.masking import safe_str

        write_text_atomic(Path(args.output), safe_str(text, multiline=True) + "\n")
        echo(f"wrote {args.output}: {card.score_text()}", file=sys.stderr)
    else:
        echo(text)
    return 0 if card.all_pass else 1
