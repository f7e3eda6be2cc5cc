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

from console.factory import RUNTIMES, AppContext, ConfigError, Options, build_app, build_context
from console.fileio import PathError, check_state_dir
from console.masking import echo
from console.stackfile import StackFileError

EXIT_OK, EXIT_NOT_READY, EXIT_USAGE = 0, 1, 2


def _add_common(parser: argparse.ArgumentParser, suppress: bool = False) -> None:
    """Options accepted both before and after the subcommand."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument("--stack", metavar="FILE", default=default(None),
                        help="stack file (TOML); default: the bundled Vextrus inventory")
    parser.add_argument("--project", metavar="NAME", default=default(None),
                        help="compose project name (overrides the stack file)")
    parser.add_argument("--runtime", choices=RUNTIMES, default=default("docker"),
                        help="where the services run (default: docker)")
    parser.add_argument("--docker-host", metavar="URL", default=default(None),
                        help="Docker daemon address (default: DOCKER_HOST or the local socket)")
    parser.add_argument("--read-only", action="store_true", default=default(False),
                        help="refuse every action that changes anything")
    parser.add_argument("--context", metavar="NAME", default=default(None),
                        help="kubernetes: kubeconfig context (default: stack file, then current)")
    if not suppress:  # before the command only: `secrets apply` has its own --namespace
        parser.add_argument("--namespace", metavar="NAME", default=None,
                            help="kubernetes: namespace (default: stack file, then the "
                            "context's); give it before the command")
        _add_compose(parser)
    parser.add_argument("--kubeconfig", metavar="FILE", default=default(None),
                        help="kubernetes: kubeconfig (default: KUBECONFIG or ~/.kube/config)")
    parser.add_argument("--allow-writes", action="store_true", default=default(False),
                        help="kubernetes: allow writes on a production context (each write "
                        "asks for the context name typed out)")
    parser.add_argument("--state-dir", metavar="DIR", default=default(None),
                        help="where the journal lives (default: the user's state dir)")
    parser.add_argument("--config", metavar="FILE", default=default(None),
                        help="config file (default: the user's config dir)")
    parser.add_argument("--theme", metavar="NAME", default=default(None),
                        help="vextrus-dark, vextrus-light or vextrus-high-contrast")


def _add_compose(parser: argparse.ArgumentParser) -> None:
    """The compose project, before the command (`secrets` has its own --compose)."""
    parser.add_argument("--compose", metavar="FILE", dest="compose_files", action="append",
                        help="compose file, as `docker compose -f` (repeatable); default: "
                        "the stack file's [stack.compose], then compose.yaml, compose.yml, "
                        "docker-compose.yml or docker-compose.yaml in the working directory")
    parser.add_argument("--env-file", metavar="FILE", dest="env_files", action="append",
                        help="env file for Compose's interpolation (repeatable)")
    parser.add_argument("--profile", metavar="NAME", dest="profiles", action="append",
                        help="enable a Compose profile (repeatable)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vextrus-console",
        description="Operations console for the Vextrus ERP stack. "
        "With no command, opens the interactive console.",
    )
    _add_common(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    status = sub.add_parser("status", help="print the live status of every service")
    _add_common(status, suppress=True)
    fmt = status.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="stable JSON for scripts")
    fmt.add_argument("--markdown", action="store_true",
                     help="the seeds' status matrix table, from live data")
    status.add_argument("--watch", nargs="?", const=2.0, type=_positive_float, metavar="SECONDS",
                        help="refresh every SECONDS (default 2) until interrupted")
    from console.cli_demo import add_demo_option

    add_demo_option(status)

    validate = sub.add_parser("validate", help="check a stack file and print a summary")
    _add_common(validate, suppress=True)

    imp = sub.add_parser("import-compose", help="turn a docker-compose file into a stack file")
    _add_common(imp, suppress=True)
    imp.add_argument("compose_file", metavar="FILE")
    imp.add_argument("-o", "--output", metavar="OUT", help="write here (default: stdout)")

    from console import cli_actions, cli_portproxy, cli_secrets

    cli_actions.add_parsers(sub, _add_common)
    cli_secrets.add_parser(sub, _add_common)
    cli_portproxy.add_parser(sub, _add_common)
    from console import cli_workflows

    cli_workflows.add_parser(sub, _add_common)
    from console import cli_checks

    cli_checks.add_parsers(sub, _add_common)
    from console import cli_k8s

    cli_k8s.add_parsers(sub, _add_common)
    from console import cli_demo

    cli_demo.add_parser(sub, _add_common)
    from console import cli_load

    cli_load.add_parsers(sub, _add_common)
    from console import cli_audit

    cli_audit.add_parsers(sub, _add_common)
    from console import cli_readiness

    cli_readiness.add_parsers(sub, _add_common)
    return parser


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def _options(args: argparse.Namespace) -> Options:
    return Options(
        stack_path=args.stack,
        project=args.project,
        runtime=args.runtime,
        docker_host=args.docker_host,
        read_only=args.read_only,
        theme=args.theme,
        state_dir=args.state_dir,
        config_path=args.config,
        kube_context=args.context,
        namespace=args.namespace,
        kubeconfig=args.kubeconfig,
        allow_writes=args.allow_writes,
        compose_files=tuple(getattr(args, "compose_files", None) or ()),
        env_files=tuple(getattr(args, "env_files", None) or ()),
        profiles=tuple(getattr(args, "profiles", None) or ()),
    )


class Terminated(Exception):
    """SIGTERM on a headless command: unwinds like ctrl+c, so `finally` blocks close the
    runtime (which kills probes still running inside containers) before the process ends."""


def _terminate(_signum: int, _frame: object) -> None:
    raise Terminated


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)  # commands with their own handler override it
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
        from console import cli_secrets

        return cli_secrets.run(args, args.read_only, cli_secrets.open_journal(args))
    if args.command == "demo":
        from console import cli_demo

        def demo_options(stack_path: str, state_dir: str) -> Options:
            return replace(_options(args), stack_path=stack_path, state_dir=state_dir,
                           runtime="local")

        return cli_demo.run(args, demo_options)
    opts = _options(args)
    if getattr(args, "demo", None) is not None:  # status/report on a running demo
        from console.cli_demo import for_running_demo

        opts = for_running_demo(opts, args.demo)
    ctx = build_context(opts)
    if args.command == "validate":
        return _validate(ctx)
    if args.command == "status":
        return asyncio.run(_status(ctx, args))
    if args.command in ("bringup", "restart", "pause-restarts"):
        from console import cli_actions

        return cli_actions.run(args, ctx)
    if args.command in ("scale", "delete-pod", "probe-inside", "logs"):
        from console import cli_k8s

        return cli_k8s.run(args, ctx)
    if args.command in ("preflight", "report"):
        from console import cli_checks

        return cli_checks.run(args, ctx)
    if args.command == "portproxy":
        from console import cli_portproxy

        return cli_portproxy.run(args, ctx)
    if args.command == "workflows":
        from console import cli_workflows

        return cli_workflows.run(args, ctx)
    if args.command == "readiness":
        from console import cli_readiness

        return cli_readiness.run(args, ctx)
    if args.command == "audit":
        from console import cli_audit

        return cli_audit.run(args, ctx)
    if args.command in ("load", "drill"):
        from console import cli_load

        return cli_load.run(args, ctx)
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
