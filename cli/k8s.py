"""Headless Kubernetes commands (`scale`, `delete-pod`, `probe-inside`, `logs`) and the
production guard's confirmation for every CLI write.

On a production context the console is read-only unless `--allow-writes`; with it, a write
asks for the context name typed out on a terminal, or takes `--confirm-context NAME` in
scripts. `--yes` alone is never enough there: a runbook pasted into the wrong terminal
must not restart production.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable

from actions.base import ActionError, CancelToken, ReadOnlyRefused, execute, read_only_refusal
from console.factory import AppContext
from console.masking import echo
from console.runtime.base import RuntimeUnavailable
from console.runtime.capabilities import ContainerChoice, PreviousLogs

AddCommon = Callable[[argparse.ArgumentParser, bool], None]
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def add_confirm_context(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--confirm-context", metavar="NAME",
                        help="kubernetes: the production context's name, confirming a write "
                        "without a terminal")


def add_parsers(sub: argparse._SubParsersAction, add_common: AddCommon) -> None:
    scale = sub.add_parser("scale", help="kubernetes: set a workload's replicas")
    add_common(scale, True)
    scale.add_argument("service", metavar="SERVICE")
    scale.add_argument("replicas", type=int, metavar="REPLICAS")
    _writes(scale)

    delete = sub.add_parser("delete-pod", help="kubernetes: delete one pod of a service")
    add_common(delete, True)
    delete.add_argument("service", metavar="SERVICE")
    delete.add_argument("pod", metavar="POD")
    _writes(delete)

    probe = sub.add_parser("probe-inside", help="kubernetes: run a service's checks in a pod")
    add_common(probe, True)
    probe.add_argument("service", metavar="SERVICE")
    _container(probe)

    logs = sub.add_parser("logs", help="a service's logs (kubernetes: all pods, merged)")
    add_common(logs, True)
    logs.add_argument("service", metavar="SERVICE")
    logs.add_argument("--tail", type=int, default=100, help="lines per pod (default 100)")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.add_argument("--previous", action="store_true",
                      help="kubernetes: the crashed container's last run (crash loops)")
    _container(logs)


def _container(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--container", metavar="NAME",
                        help="kubernetes: the pod's container to use (default: the pod's "
                        "kubectl.kubernetes.io/default-container, else its first)")


def _choose_container(args: argparse.Namespace, ctx: AppContext) -> bool:
    """Point the runtime at `--container`; False (said why) when the runtime has none."""
    name = getattr(args, "container", None)
    if not name:
        return True
    if not isinstance(ctx.runtime, ContainerChoice):
        _err(f"{args.command} --container: only the kubernetes runtime has pods with "
             "several containers")
        return False
    ctx.runtime.choose_container(args.service, name)
    return True


def _writes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    add_confirm_context(parser)


def refusal(ctx: AppContext, name: str) -> str:
    """The read-only refusal in words: why (a production context) when it was forced."""
    return read_only_refusal(name, ctx.read_only_reason)


def confirm_write(ctx: AppContext, args: argparse.Namespace, question: str,
                  ask: Callable[[str], str] = input) -> bool:
    """y/n (or --yes) normally; on a production context, the context name typed out."""
    word = ctx.confirm_word
    if word is None:
        if getattr(args, "yes", False):
            return True
        if not sys.stdin.isatty():
            _err("refusing without confirmation: pass --yes (no terminal to ask)")
            return False
        return ask(f"{question} [y/N] ").strip().lower() in ("y", "yes")
    given = getattr(args, "confirm_context", None)
    if given is not None:
        if given == word:
            return True
        _err(f"--confirm-context {given!r} is not the context {word!r}: nothing was done")
        return False
    if not sys.stdin.isatty():
        _err(f"context {word!r} is production: pass --confirm-context {word} "
             "(no terminal to ask; --yes is not enough)")
        return False
    typed = ask(f"{question}\ncontext {word!r} is production: type its name to confirm: ")
    if typed.strip() != word:
        _err(f"that is not {word!r}: nothing was done")
        return False
    return True


def _err(text: str) -> None:
    echo(f"vextrus-console: {text}", file=sys.stderr, mask=False)


def run(args: argparse.Namespace, ctx: AppContext) -> int:
    if ctx.runtime is None:
        _err(f"{args.command}: needs a runtime (not --runtime none)")
        return EXIT_USAGE
    if not _choose_container(args, ctx):
        return EXIT_USAGE
    if args.command == "logs":
        return asyncio.run(_logs(args, ctx))
    from actions.kubernetes import DeletePod, ProbeInside, Scale

    try:
        if args.command == "scale":
            action: Scale | DeletePod | ProbeInside = Scale(ctx.stack, ctx.runtime, args.service,
                                                            args.replicas)
        elif args.command == "delete-pod":
            action = DeletePod(ctx.stack, ctx.runtime, args.service, args.pod)
        else:
            action = ProbeInside(ctx.stack, ctx.runtime, args.service)
    except ActionError as exc:
        _err(str(exc))
        return EXIT_USAGE
    if action.writes:
        for step in action.plan():
            echo(f"  - {step.title}")
        if args.dry_run:
            return EXIT_OK
        if ctx.read_only:
            _err(refusal(ctx, action.name))
            return EXIT_USAGE
        if not confirm_write(ctx, args, f"{action.name} {action.target}?"):
            return EXIT_USAGE
    return asyncio.run(_execute(action, ctx))


async def _execute(action: object, ctx: AppContext) -> int:
    failed = False
    try:
        async for event in execute(action, CancelToken(), ctx.journal,  # type: ignore[arg-type]
                                   ctx.read_only):
            echo(event.line(), flush=True)
            failed = failed or event.kind == "failed"
    except ReadOnlyRefused:
        _err(refusal(ctx, getattr(action, "name", "action")))
        return EXIT_USAGE
    except (ActionError, RuntimeError, RuntimeUnavailable) as exc:
        _err(str(exc))
        return EXIT_FAILED
    finally:
        assert ctx.runtime is not None
        await ctx.runtime.close()
    return EXIT_FAILED if failed else EXIT_OK


async def _logs(args: argparse.Namespace, ctx: AppContext) -> int:
    assert ctx.runtime is not None
    if args.service not in ctx.stack:
        _err(f"logs: unknown service {args.service!r}")
        return EXIT_USAGE
    service = ctx.stack.service(args.service)
    if args.previous and not isinstance(ctx.runtime, PreviousLogs):
        _err("logs --previous: only the kubernetes runtime keeps a crashed container's log")
        return EXIT_USAGE
    lines = (ctx.runtime.previous_logs(service, tail=args.tail)
             if isinstance(ctx.runtime, PreviousLogs) and args.previous
             else ctx.runtime.logs(service, tail=args.tail, follow=args.follow))
    try:
        async for line in lines:
            if line.stream == "note":  # about the logs (a pod skipped), not from them
                _err(f"logs {args.service}: {line.text}")
                continue
            stamp = f"{line.time:%Y-%m-%dT%H:%M:%S} " if line.time else ""
            echo(f"{stamp}{line.text}", flush=True)
    except (RuntimeError, OSError, RuntimeUnavailable) as exc:
        _err(str(exc))
        return EXIT_FAILED
    finally:
        await ctx.runtime.close()
    return EXIT_OK
