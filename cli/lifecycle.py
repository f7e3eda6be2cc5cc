"""Headless `bringup`, `restart` and `pause-restarts`: the same actions the console runs.

Writes ask for confirmation on a terminal; scripts pass `--yes`. Without a terminal and
without `--yes` the command refuses (exit 2) rather than guess. On a production Kubernetes
context the question is the context name typed out (`cli_k8s.confirm_write`). `--dry-run`
prints the plan.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable

from actions.base import ActionError, CancelToken, ReadOnlyRefused, execute
from actions.bringup import BringUp, Decision, Diagnosis
from actions.restart import PauseRestarts, Restart
from console.factory import AppContext
from console.masking import echo

AddCommon = Callable[[argparse.ArgumentParser, bool], None]


def add_parsers(sub: argparse._SubParsersAction, add_common: AddCommon) -> None:
    bring = sub.add_parser("bringup", help="phased start-up, waiting on health, never sleeping")
    add_common(bring, True)
    bring.add_argument("--only", metavar="SERVICE", help="one service with its dependencies")
    bring.add_argument("--resume", action="store_true", help="continue the last unfinished run")
    bring.add_argument("--parallel", type=int, default=4, help="services at once (default 4)")
    bring.add_argument("--timeout", type=float, default=120.0,
                       help="seconds per service to become healthy (default 120)")
    bring.add_argument("--on-failure", choices=("ask", "abort", "skip"), default="ask",
                       help="what to do when a service fails (default: ask on a terminal)")
    _add_confirm(bring)

    restart = sub.add_parser("restart", help="restart a service, optionally with dependents")
    add_common(restart, True)
    restart.add_argument("service", metavar="SERVICE")
    restart.add_argument("--with-dependents", action="store_true",
                         help="stop dependents first and bring them back in order")
    restart.add_argument("--timeout", type=float, default=60.0,
                         help="seconds for each service to become healthy (default 60)")
    restart.add_argument("--stop-timeout", type=float, default=10.0, metavar="SECONDS",
                         help="seconds between SIGTERM and SIGKILL when stopping (default 10)")
    _add_confirm(restart)

    pause = sub.add_parser("pause-restarts", help="set restart policy to 'no' (keep evidence)")
    add_common(pause, True)
    pause.add_argument("service", metavar="SERVICE")
    _add_confirm(pause)


def _add_confirm(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    from cli.k8s import add_confirm_context

    add_confirm_context(parser)


def run(args: argparse.Namespace, ctx: AppContext) -> int:
    if ctx.runtime is None:
        echo(f"vextrus-console {args.command}: needs a runtime (not --runtime none)",
              file=sys.stderr, mask=False)
        return 2
    try:
        action = _build(args, ctx)
    except ActionError as exc:
        echo(f"vextrus-console: {exc}", file=sys.stderr, mask=False)
        return 2
    echo(f"{action.name} {action.target}: plan")
    for step in action.plan():
        echo(f"  - {step.title}" + (f"  [{step.detail}]" if step.detail else ""))
    if isinstance(action, Restart):
        radius = action.blast_radius()
        echo(f"  blast radius: {', '.join(radius) if radius else 'none'}")
    if args.dry_run:
        return 0
    from cli.k8s import confirm_write, refusal

    if ctx.read_only:
        echo(f"vextrus-console: {refusal(ctx, action.name)}", file=sys.stderr, mask=False)
        return 2
    if not confirm_write(ctx, args, f"{action.name} {action.target}?"):
        return 2
    return asyncio.run(_execute(action, ctx))


def _build(args: argparse.Namespace, ctx: AppContext) -> BringUp | Restart | PauseRestarts:
    assert ctx.runtime is not None
    if args.command == "bringup":
        return BringUp(ctx.stack, ctx.runtime, ctx.monitor, ctx.journal, only=args.only,
                       resume=args.resume, parallel=args.parallel, timeout=args.timeout,
                       decide=_decider(args.on_failure))
    if args.command == "restart":
        return Restart(ctx.stack, ctx.runtime, ctx.monitor, args.service,
                       with_dependents=args.with_dependents, timeout=args.timeout,
                       stop_timeout=args.stop_timeout)
    return PauseRestarts(ctx.stack, ctx.runtime, args.service)


def _decider(policy: str) -> Callable[[Diagnosis], Awaitable[Decision]]:
    async def decide(diagnosis: Diagnosis) -> Decision:
        for line in diagnosis.lines():
            echo(line)
        if policy in ("abort", "skip"):
            return policy  # type: ignore[return-value]
        if not sys.stdin.isatty():
            return "abort"
        answer = await asyncio.to_thread(input, "[r]etry, [R]estart it, [s]kip or [a]bort? ")
        return _decision(answer)

    return decide


def _decision(answer: str) -> Decision:
    """`R` or `restart` restarts the service; `r` retries; `s` skips; anything else aborts."""
    word = answer.strip()
    if word == "R" or word.lower() in ("restart", "restart it"):
        return "restart"
    return {"r": "retry", "s": "skip"}.get(word.lower()[:1], "abort")  # type: ignore[return-value]


async def _execute(action: BringUp | Restart | PauseRestarts, ctx: AppContext) -> int:
    cancel = CancelToken()
    failed = False
    try:
        async for event in execute(action, cancel, ctx.journal, ctx.read_only):
            echo(event.line(), flush=True)
            failed = failed or event.kind == "failed"
    except ReadOnlyRefused as exc:
        echo(f"vextrus-console: {exc}", file=sys.stderr, mask=False)
        return 2
    except ActionError as exc:
        echo(f"vextrus-console: {exc}", file=sys.stderr, mask=False)
        return 1
    finally:
        assert ctx.runtime is not None
        await ctx.runtime.close()
    return 1 if failed else 0
