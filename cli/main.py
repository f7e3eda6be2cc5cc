"""`vextrus-console`: the console with no subcommand, headless commands otherwise.

Exit codes are a contract for scripts: 0 all operational (or the command succeeded),
1 not all operational (or the action failed), 2 usage or configuration error.
Textual is never imported on the headless paths.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from cli.common import (
    EXIT_NOT_READY,
    EXIT_OK,
    EXIT_USAGE,
    Terminated,
    add_common,
    on_sigterm,
    options_from,
    positive_float,
)
from console.factory import AppContext, ConfigError, Options, build_context
from console.fileio import PathError, check_state_dir
from console.masking import echo
from console.stackfile import StackFileError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vextrus-console",
        description="Operations console for the Vextrus ERP stack. "
        "With no command, opens the interactive console.",
    )
    add_common(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    status = sub.add_parser("status", help="print the live status of every service")
    add_common(status, suppress=True)
    fmt = status.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="stable JSON for scripts")
    fmt.add_argument("--markdown", action="store_true",
                     help="the seeds' status matrix table, from live data")
    status.add_argument("--watch", nargs="?", const=2.0, type=positive_float, metavar="SECONDS",
                        help="refresh every SECONDS (default 2) until interrupted")
    from cli.demo import add_demo_option

    add_demo_option(status)

    validate = sub.add_parser("validate", help="check a stack file and print a summary")
    add_common(validate, suppress=True)

    imp = sub.add_parser("import-compose", help="turn a docker-compose file into a stack file")
    add_common(imp, suppress=True)
    imp.add_argument("compose_file", metavar="FILE")
    imp.add_argument("-o", "--output", metavar="OUT", help="write here (default: stdout)")

    from cli import lifecycle as cli_actions
    from cli import portproxy as cli_portproxy
    from cli import secrets as cli_secrets

    cli_actions.add_parsers(sub, add_common)
    cli_secrets.add_parser(sub, add_common)
    cli_portproxy.add_parser(sub, add_common)
    from cli import workflows as cli_workflows

    cli_workflows.add_parser(sub, add_common)
    from cli import checks as cli_checks

    cli_checks.add_parsers(sub, add_common)
    from cli import k8s as cli_k8s

    cli_k8s.add_parsers(sub, add_common)
    from cli import demo as cli_demo

    cli_demo.add_parser(sub, add_common)
    from cli import load as cli_load

    cli_load.add_parsers(sub, add_common)
    from cli import audit as cli_audit

    cli_audit.add_parsers(sub, add_common)
    from cli import readiness as cli_readiness

    cli_readiness.add_parsers(sub, add_common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_sigterm)  # commands with their own handler override it
    try:
        if getattr(args, "state_dir", None):
            check_state_dir(Path(args.state_dir))  # a file there: one line, not a traceback
        return _dispatch(args)
    except (StackFileError, ConfigError, PathError) as exc:
        echo(f"vextrus-console: {exc}", file=sys.stderr, mask=False)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Terminated:
        return 143


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "import-compose":
        return _import_compose(args)
    if args.command == "secrets":
        # Needs no runtime and must work when the stack is down: files and the journal only.
        from cli import secrets as cli_secrets

        return cli_secrets.run(args, args.read_only, cli_secrets.open_journal(args))
    if args.command == "demo":
        from cli import demo as cli_demo

        def demo_options(stack_path: str, state_dir: str) -> Options:
            return replace(options_from(args), stack_path=stack_path, state_dir=state_dir,
                           runtime="local")

        return cli_demo.run(args, demo_options)
    opts = options_from(args)
    if getattr(args, "demo", None) is not None:  # status/report on a running demo
        from cli.demo import for_running_demo

        opts = for_running_demo(opts, args.demo)
    ctx = build_context(opts)
    if args.command == "validate":
        return _validate(ctx)
    if args.command == "status":
        return asyncio.run(_status(ctx, args))
    if args.command in ("bringup", "restart", "pause-restarts"):
        from cli import lifecycle as cli_actions

        return cli_actions.run(args, ctx)
    if args.command in ("scale", "delete-pod", "probe-inside", "logs"):
        from cli import k8s as cli_k8s

        return cli_k8s.run(args, ctx)
    if args.command in ("preflight", "report"):
        from cli import checks as cli_checks

        return cli_checks.run(args, ctx)
    if args.command == "portproxy":
        from cli import portproxy as cli_portproxy

        return cli_portproxy.run(args, ctx)
    if args.command == "workflows":
        from cli import workflows as cli_workflows

        return cli_workflows.run(args, ctx)
    if args.command == "readiness":
        from cli import readiness as cli_readiness

        return cli_readiness.run(args, ctx)
    if args.command == "audit":
        from cli import audit as cli_audit

        return cli_audit.run(args, ctx)
    if args.command in ("load", "drill"):
        from cli import load as cli_load

        return cli_load.run(args, ctx)
    from ui.factory import build_app  # the console itself: only now is Textual loaded

    build_app(ctx).run()
    return EXIT_OK


def _validate(ctx: AppContext) -> int:
    stack = ctx.stack
    tiers = ", ".join(f"{t} {sum(1 for s in stack.services if s.tier == t)}"
                      for t in stack.tier_order())
    echo(f"{stack.source}: ok: {len(stack.services)} services ({tiers})")
    return EXIT_OK


def _import_compose(args: argparse.Namespace) -> int:
    from console.compose_import import import_compose
    from console.fileio import write_text_atomic

    text = import_compose(args.compose_file)
    if args.output:
        write_text_atomic(Path(args.output), text)
        echo(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


async def _status(ctx: AppContext, args: argparse.Namespace) -> int:
    from console.render_text import render_status_table

    ctx.monitor.record_transitions = False  # a look, not an event: the journal stays as is
    try:
        while True:
            status = await ctx.monitor.refresh()
            if args.json:
                from console.export import status_to_json

                out = status_to_json(status) + "\n"
            elif args.markdown:
                from console.export import status_to_markdown

                out = status_to_markdown(status)
            else:
                out = render_status_table(status, color=_color_wanted())
            if args.watch:
                sys.stdout.write("\x1b[H\x1b[2J" if sys.stdout.isatty() else "\n")
            sys.stdout.write(out)
            sys.stdout.flush()
            code = EXIT_OK if status.operational == status.total else EXIT_NOT_READY
            if not args.watch:
                return code
            await asyncio.sleep(args.watch)
    finally:
        if ctx.runtime is not None:
            await ctx.runtime.close()


def _color_wanted() -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
