"""`vextrus-console demo`: the whole Vextrus stack as local stand-ins, then the console on it.

    vextrus-console demo                      # prepare, start seed 002's situation, open
    vextrus-console demo --script             # play the story to 100% headless, print it
    vextrus-console demo --port-offset 10000  # ports are the inventory's plus this

Every process the demo starts ends with it: quitting the console, Ctrl-C and SIGTERM close
the local runtime (each service's whole process group); SIGKILL or a crash leaves that to
the runtime's reaper. A demo whose ports are taken (another demo, anything else) refuses
to start and names the ports. No Textual on the `--script` path.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from console.demo.stack import DEFAULT_OFFSET, DemoError, DemoSettings, find_temporal_server
from console.masking import echo

if TYPE_CHECKING:
    from console.factory import Options

AddCommon = Callable[..., None]
EXIT_OK, EXIT_NOT_READY, EXIT_USAGE = 0, 1, 2


def add_parser(sub: argparse._SubParsersAction, add_common: AddCommon) -> None:
    demo = sub.add_parser("demo", help="run the whole Vextrus stack as local stand-ins and "
                                       "open the console on it (no Docker needed)")
    add_common(demo, suppress=True)
    demo.add_argument("--script", action="store_true",
                      help="play the seeds' story headless (about 13%% to 100%%), print "
                           "every step, exit 0 when every service is operational")
    demo.add_argument("--port-offset", type=int, default=DEFAULT_OFFSET, metavar="N",
                      help=f"add N to every inventory port (default {DEFAULT_OFFSET})")
    demo.add_argument("--dir", metavar="DIR",
                      help="where the demo writes its stack, compose, fault files and journal "
                           "(default: STATE_DIR/demo, or STATE_DIR/demo-OFFSET for another "
                           "port offset; STATE_DIR honours VEXTRUS_STATE_DIR)")
    demo.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                      help="per-service wait for healthy in the story (default 60)")
    demo.add_argument("--no-temporal", action="store_true",
                      help="a stand-in instead of the real Temporal test server")


def settings_from(args: argparse.Namespace) -> DemoSettings:
    from console.demo.session import default_directory

    directory = Path(args.dir) if args.dir else default_directory(args.port_offset)
    server = None if args.no_temporal else find_temporal_server()
    return DemoSettings(directory=directory.resolve(), port_offset=args.port_offset,
                        temporal_server=server)


def run(args: argparse.Namespace, options_for: Callable[..., object]) -> int:
    """Run the demo; `options_for(stack_path, state_dir)` gives the factory's Options."""
    try:
        settings = settings_from(args)
        return _run_until_signalled(_main(args, settings, options_for))
    except DemoError as exc:
        echo(f"vextrus-console: {exc}", file=sys.stderr, mask=False)
        return EXIT_USAGE


def _run_until_signalled(coro: object) -> int:
    """asyncio.run, with SIGTERM handled like Ctrl-C so cleanup always runs."""

    async def guarded() -> int:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        assert task is not None
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
        try:
            return await coro  # type: ignore[misc]
        except asyncio.CancelledError:
            return 143

    return asyncio.run(guarded())


async def _main(args: argparse.Namespace, settings: DemoSettings,
                options_for: Callable[..., object]) -> int:
    from console.demo.session import DemoSession
    from console.factory import build_context

    session = DemoSession(settings)
    try:
        say = _printer()
        temporal = settings.temporal_server
        say(f"demo: {settings.directory} · ports +{settings.port_offset} · Temporal: "
            f"{'test server ' + temporal if temporal else 'stand-in'}")
        await session.open()
        assert session.demo is not None
        say(f"demo: {len(session.started)} of {len(session.stack.services)} services started "
            f"(seed 002's situation); stack file {session.demo.stack_path}")
        say(f"demo: to deploy a fix, delete the service's fault file in "
            f"{session.demo.directory / 'faults'} and restart it (r)")
        opts = options_for(str(session.demo.stack_path), str(settings.directory))
        ctx = build_context(opts, runtime=session.runtime)  # type: ignore[arg-type]
        ctx.compose_path = str(session.demo.compose_path)
        if args.script:
            return await _script(session, ctx, args.timeout, say)
        from ui.factory import build_app

        await build_app(ctx).run_async()
        return EXIT_OK
    finally:
        await session.close()


async def _script(session: object, ctx: object, timeout: float,
                  say: Callable[[str], None]) -> int:
    from actions.base import ActionError
    from actions.demo_story import Story

    story = Story(session, ctx.monitor, ctx.journal, say, timeout)  # type: ignore[arg-type, attr-defined]
    try:
        final = await story.play()
    except ActionError as exc:
        say(f"demo: the story stopped: {exc}")
        return EXIT_NOT_READY
    figures = " -> ".join(f"{op * 100 // tot}%" for op, tot in story.readiness if tot)
    say(f"demo: readiness {figures}")
    return EXIT_OK if final.operational == final.total else EXIT_NOT_READY


def _printer() -> Callable[[str], None]:
    def say(text: str) -> None:
        echo(text, flush=True)

    return say


# --- headless commands on a running demo (`status --demo`, `report --demo`) -------------


def add_demo_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--demo", nargs="?", const="", default=None, metavar="OFFSET",
                        help="look at the running demo (the one on port offset OFFSET when "
                             "several run): its stack file and journal, probed from outside")


def for_running_demo(opts: Options, offset: str) -> Options:
    """Options that look at the running demo: its stack, its journal, probes only.

    The demo's processes belong to the demo's own local runtime; from another process they
    are judged by their probes (`--runtime none`). Raises PathError (exit 2, one line)
    when there is none.
    """
    from dataclasses import replace

    from console.demo.session import find_demo
    from console.fileio import PathError

    if offset and not offset.lstrip("-").isdigit():
        raise PathError(f"--demo {offset!r}: a port offset is a number")
    state = Path(opts.state_dir) if opts.state_dir else None
    try:
        demo = find_demo(int(offset) if offset else None, state)
    except DemoError as exc:  # one line and exit 2, as every usage error
        raise PathError(str(exc)) from None
    return replace(opts, stack_path=str(demo.stack_path), state_dir=str(demo.directory),
                   runtime="none")
