"""Headless `portproxy diagnose | fix | script`: host access to service ports.

- `diagnose [--json]` probes every service port from the host and inside its container and
  prints one verdict per port (exit 0 when all are ok, 1 otherwise).
- `fix` on Linux/macOS starts built-in forwarders and keeps them in the foreground until
  Ctrl-C (or `--duration`), printing the mapping; on Windows/WSL2 it prints the PowerShell
  script (a dry run) unless `--apply`, which runs it on Windows with elevation only.
  `--forward` uses the built-in forwarders on WSL2 too. A write: asks for confirmation on
  a terminal unless `--yes`, and `--read-only` refuses it.
- `script` prints the PowerShell script for the current findings (stdout; progress on
  stderr), whatever the platform, for an operator to carry to a Windows machine.

Exit codes: 0 success, 1 problems found (or a fix failed), 2 usage error or refusal.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol, TextIO

from actions.base import ActionError, CancelToken, ReadOnlyRefused, Step, execute
from actions.portproxy.diagnose import Finding, ProbeSettings, summarize
from actions.portproxy.fix import (
    ForwarderFix,
    NetshApply,
    PortProxyDiagnose,
    netsh_ipv4,
    plan_script,
    read_netsh_rules,
    render_table,
    resolve_connect_address,
    summary_text,
)
from actions.portproxy.netsh import (
    PlatformKind,
    ProxyRule,
    detect_platform,
    read_rules_file,
    render_script,
)
from cli.common import positive_float
from console.forwarder import ForwarderError, ForwarderManager
from console.masking import echo, safe_json, safe_str

if TYPE_CHECKING:
    from console.factory import AppContext

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


class AddCommon(Protocol):
    def __call__(self, parser: argparse.ArgumentParser, suppress: bool = False) -> None: ...


def add_parser(subparsers: argparse._SubParsersAction, add_common: AddCommon) -> None:
    """`portproxy` and its three actions, each accepting the global options too."""
    parser = subparsers.add_parser(
        "portproxy", help="diagnose and fix host access to service ports (port forwarding)")
    add_common(parser, suppress=True)
    actions = parser.add_subparsers(dest="portproxy_command", metavar="ACTION", required=True)

    diagnose = actions.add_parser("diagnose", help="probe each port from the host and inside")
    _add_shared(diagnose, add_common)
    diagnose.add_argument("--json", action="store_true", help="stable JSON for scripts")

    fix = actions.add_parser("fix", help="forward ports (Linux/macOS) or print the netsh "
                             "script (Windows/WSL2)")
    _add_shared(fix, add_common)
    _add_script_options(fix)
    fix.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    fix.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    fix.add_argument("--apply", action="store_true",
                     help="Windows: run the script (needs an elevated shell)")
    fix.add_argument("--forward", action="store_true",
                     help="use the built-in forwarders even on Windows/WSL2")
    fix.add_argument("--duration", type=positive_float, metavar="SECONDS",
                     help="stop the forwarders after SECONDS (default: at Ctrl-C)")

    script = actions.add_parser("script", help="print the PowerShell script for the findings")
    _add_shared(script, add_common)
    _add_script_options(script)


def _add_shared(parser: argparse.ArgumentParser, add_common: AddCommon) -> None:
    add_common(parser, suppress=True)
    parser.add_argument("--service", metavar="NAME", help="only this service")
    parser.add_argument("--timeout", type=positive_float, default=1.0, metavar="SECONDS",
                        help="per probe (default 1)")
    parser.add_argument("--rules-from", metavar="FILE",
                        help="saved `netsh interface portproxy show v4tov4` output to check "
                             "(default: ask netsh on Windows/WSL2)")


def _add_script_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--connect-address", metavar="IP",
                        help="where Windows forwards to (default: WSL2's current address)")
    parser.add_argument("--listen-address", metavar="IP",
                        help="where Windows listens (default: the address clients use, "
                             "usually 127.0.0.1; 0.0.0.0 exposes the port and adds a "
                             "firewall rule)")




def run(args: argparse.Namespace, ctx: AppContext) -> int:
    try:
        return asyncio.run(_run(args, ctx))
    except ReadOnlyRefused as exc:
        _err(str(exc))
        return EXIT_USAGE
    except (ActionError, ForwarderError) as exc:
        text = str(exc)
        _err(text if text.startswith("portproxy") else f"portproxy: {text}")
        return EXIT_USAGE


async def _run(args: argparse.Namespace, ctx: AppContext) -> int:
    try:
        _check_address_options(args)
        kind = detect_platform()
        command = args.portproxy_command
        netsh = command == "fix" and kind in ("windows", "wsl") and not args.forward
        # progress goes to stderr whenever stdout carries a document (JSON, a script)
        quiet = command == "script" or (netsh and not args.apply)
        json_out = bool(getattr(args, "json", False))
        findings, rules = await _diagnose(args, ctx, kind, sys.stderr if quiet else sys.stdout,
                                          show=not json_out)
        if command == "diagnose":
            return _report(args, ctx, kind, findings)
        if command == "script":
            sys.stdout.write(safe_str(_script(args, kind, findings, rules), multiline=True,
                                      mask=False))
            return EXIT_OK
        if netsh:
            return await _fix_netsh(args, ctx, kind, findings, rules)
        return await _fix_forward(args, ctx, findings)
    finally:
        if ctx.runtime is not None:
            await ctx.runtime.close()


# --- diagnose -----------------------------------------------------------------------------


async def _diagnose(
    args: argparse.Namespace, ctx: AppContext, kind: PlatformKind, out: TextIO, show: bool
) -> tuple[list[Finding], list[ProxyRule]]:
    """Existing netsh rules (read-only), then the diagnosis through `execute`."""
    if args.rules_from:  # validated row by row: its addresses may end up in the script
        rules = await asyncio.to_thread(read_rules_file, args.rules_from)
    else:
        rules = await asyncio.to_thread(read_netsh_rules, kind, None)
    action = PortProxyDiagnose(ctx.stack, ctx.runtime, rules, only=args.service,
                               settings=ProbeSettings(timeout=args.timeout))
    async for event in execute(action, CancelToken(), ctx.journal, ctx.read_only):
        if show and event.kind != "done":
            echo(event.line(), file=out, flush=True)
    return list(action.findings), rules


def _report(args: argparse.Namespace, ctx: AppContext, kind: str, findings: list[Finding]) -> int:
    ok = all(f.ok for f in findings)
    if args.json:
        doc = {"stack": ctx.stack.name, "platform": kind, "ok": ok,
               "summary": summarize(findings), "findings": [f.to_dict() for f in findings]}
        print(json.dumps(safe_json(doc), indent=2, sort_keys=True))
    else:
        sys.stdout.write("\n" + safe_str(render_table(findings), multiline=True))
        echo(summary_text(findings))
    return EXIT_OK if ok else EXIT_PROBLEMS


def _script(
    args: argparse.Namespace, kind: PlatformKind, findings: list[Finding], rules: list[ProxyRule]
) -> str:
    connect = resolve_connect_address(kind, args.connect_address)
    plan = plan_script(findings, rules, connect, args.listen_address, args.service)
    return render_script(plan)


def _check_address_options(args: argparse.Namespace) -> None:
    """Bad --connect-address / --listen-address fail before any probing, in one line."""
    if getattr(args, "connect_address", None):
        resolve_connect_address("other", args.connect_address)
    if getattr(args, "listen_address", None):
        args.listen_address = netsh_ipv4("--listen-address", args.listen_address)


# --- fix on Windows / WSL2 ---------------------------------------------------------------


async def _fix_netsh(
    args: argparse.Namespace,
    ctx: AppContext,
    kind: PlatformKind,
    findings: list[Finding],
    rules: list[ProxyRule],
) -> int:
    script = _script(args, kind, findings, rules)
    if not args.apply:
        sys.stdout.write(safe_str(script, multiline=True, mask=False))
        _err("portproxy fix: dry run: review the script above and run it in an elevated "
             "PowerShell" + (", or pass --apply" if kind == "windows" else ""))
        return EXIT_OK
    action = NetshApply(script, kind, target=args.service or ctx.stack.name)
    _print_plan(action.name, action.target, action.plan())
    if args.dry_run:
        return EXIT_OK
    if not ctx.read_only:
        refusal = action.refusal()
        if refusal:
            _err(refusal)
            return EXIT_USAGE
        if not args.yes and not await _confirm("apply these port proxy rules?"):
            return EXIT_USAGE
    return await _execute(action, ctx)


# --- fix on Linux / macOS: forwarders in the foreground ----------------------------------


async def _fix_forward(args: argparse.Namespace, ctx: AppContext, findings: list[Finding]) -> int:
    manager = ForwarderManager()
    exec_ok = ctx.runtime is not None and ctx.runtime.name == "docker"
    action = ForwarderFix(findings, manager, target=args.service or ctx.stack.name,
                          docker_host=getattr(args, "docker_host", None), only=args.service,
                          exec_supported=exec_ok)
    _print_plan(action.name, action.target, action.plan())
    if args.dry_run:
        return EXIT_OK
    if not action.planned and not ctx.read_only:
        echo("nothing a forwarder can fix")
        return EXIT_OK if all(f.ok for f in findings) else EXIT_PROBLEMS
    if not ctx.read_only and not args.yes and not await _confirm("start these forwarders?"):
        return EXIT_USAGE
    try:
        code = await _execute(action, ctx)
        if manager.forwarders():
            await _serve_until_stopped(manager, args.duration)
        return code
    finally:
        await manager.stop_all()


async def _serve_until_stopped(manager: ForwarderManager, duration: float | None) -> None:
    """Keep the forwarders up until Ctrl-C, SIGTERM or the duration; then print totals."""
    for stats in manager.list():
        echo(f"forwarding {stats.listen} -> {stats.target}" +
              (f"  ({stats.label})" if stats.label else ""), flush=True)
    echo("press Ctrl-C to stop" + (f" (stopping in {duration:g}s)" if duration else ""),
          flush=True)
    stop = asyncio.Event()
    with _signals_set(stop), contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), duration)
    for stats in manager.list():
        echo(f"stopped {stats.line()}", flush=True)


@contextlib.contextmanager
def _signals_set(event: asyncio.Event) -> Iterator[None]:
    """SIGINT/SIGTERM end the wait cleanly (where the loop supports signal handlers)."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, event.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            continue
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


# --- shared ------------------------------------------------------------------------------


async def _execute(action: ForwarderFix | NetshApply, ctx: AppContext) -> int:
    """Through `execute`, so read-only refusal and journaling are the shared ones."""
    failed = False
    async for event in execute(action, CancelToken(), ctx.journal, ctx.read_only):
        echo(event.line(), flush=True)
        failed = failed or event.kind == "failed"
    return EXIT_PROBLEMS if failed else EXIT_OK


def _print_plan(name: str, target: str, steps: list[Step]) -> None:
    echo(f"{name} {target}: plan")
    for step in steps:
        echo(f"  - {step.title}" + (f"  [{step.detail}]" if step.detail else ""))
    if not steps:
        echo("  (nothing to do)")


async def _confirm(question: str) -> bool:
    """Ask on a terminal (in a thread: the loop keeps running); refuse without one."""
    if not sys.stdin.isatty():
        _err("portproxy: refusing without confirmation: pass --yes (no terminal to ask)")
        return False
    answer = await asyncio.to_thread(input, f"{question} [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def _err(text: str) -> None:
    echo(f"vextrus-console: {text}", file=sys.stderr, flush=True, mask=False)

