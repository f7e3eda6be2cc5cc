"""`vextrus-console audit`: seed 002's hardening rules over compose files, by file:line.

Exit codes: 0 no findings (or the fix was written), 1 findings left, 2 a file that cannot
be audited or rewritten (one line naming it; nothing written).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path

from actions.audit.engine import (
    AuditFix,
    DockerObserver,
    NoObserver,
    Observer,
    findings_json,
    plan_fixes,
)
from actions.audit.rules import AuditError, AuditFinding, audit_file
from actions.base import ActionError, CancelToken, execute, read_only_refusal
from console.factory import AppContext
from console.masking import echo

AddCommon = Callable[[argparse.ArgumentParser, bool], None]
DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")


def add_parsers(sub: argparse._SubParsersAction, add_common: AddCommon) -> None:
    audit = sub.add_parser("audit", help="hardening findings in compose files (file:line), "
                           "and --fix for pins, healthchecks, limits and log rotation")
    add_common(audit, True)
    audit.add_argument("files", nargs="*", metavar="FILE",
                       help="compose files (default: --compose, then the working directory's)")
    audit.add_argument("--json", action="store_true", help="findings as JSON")
    audit.add_argument("--fix", action="store_true",
                       help="rewrite the files (comments kept, NAME.bak kept)")
    audit.add_argument("--dry-run", action="store_true", help="with --fix: show the diff only")
    audit.add_argument("--yes", action="store_true", help="with --fix: do not ask")


def compose_paths(args: argparse.Namespace) -> list[Path]:
    named = list(args.files) or list(getattr(args, "compose_files", None) or [])
    if named:
        return [Path(p) for p in named]
    for name in DEFAULT_FILES:
        if Path(name).is_file():
            return [Path(name)]
    raise AuditError("no compose file given and none in the working directory "
                     f"({', '.join(DEFAULT_FILES)})")


def run(args: argparse.Namespace, ctx: AppContext) -> int:
    try:
        paths = compose_paths(args)
        if args.fix:
            return _fix(args, ctx, paths)
        return _report([f for p in paths for f in audit_file(p)], args.json)
    except (AuditError, ActionError) as exc:
        echo(f"vextrus-console: audit: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the rewrite could not land: the original is still whole
        where = f"{exc.filename}: " if exc.filename else ""
        echo(f"vextrus-console: audit: {where}{exc.strerror or exc}: nothing written",
             file=sys.stderr)
        return 2
    finally:
        if ctx.journal is not None:
            ctx.journal.close()


def _report(findings: list[AuditFinding], as_json: bool) -> int:
    if as_json:
        echo(json.dumps({"schema": 1, "findings": findings_json(findings)}, indent=2))
    else:
        for f in findings:
            echo(f"{f.where()}  {f.rule:<20} {f.message}" + ("" if f.fixable else "  (by hand)"))
        fixable = sum(1 for f in findings if f.fixable)
        echo(f"{len(findings)} findings ({fixable} fixable with --fix)" if findings
             else "no findings")
    return 1 if findings else 0


def _observer(ctx: AppContext) -> Observer:
    if ctx.runtime is None or ctx.runtime.name != "docker":
        return NoObserver()
    try:
        import docker

        client = docker.from_env()
        client.ping()
    except Exception:  # no daemon: pins and limits are left with the reason
        return NoObserver()
    return DockerObserver(client, ctx.stack.project)


def _fix(args: argparse.Namespace, ctx: AppContext, paths: list[Path]) -> int:
    observer = _observer(ctx)
    if args.dry_run:
        for path in paths:
            plan = plan_fixes(path, ctx.stack, observer)
            for line in plan.diff():
                echo(line)
            for finding, why in plan.result.left:
                echo(f"left: {finding.where()}: {finding.message}: {why}")
        return 0
    if ctx.read_only:
        echo(f"vextrus-console: {read_only_refusal('audit --fix', ctx.read_only_reason)}",
             file=sys.stderr)
        return 2
    if not args.yes and not _confirm(paths):
        echo("nothing written", file=sys.stderr)
        return 1
    action = AuditFix(paths, ctx.stack, observer)
    return asyncio.run(_execute(action, ctx))


async def _execute(action: AuditFix, ctx: AppContext) -> int:
    left = 0
    async for event in execute(action, CancelToken(), ctx.journal, ctx.read_only):
        echo(event.line(), flush=True)
        left += event.kind == "skipped"
    return 1 if left else 0


def _confirm(paths: list[Path]) -> bool:
    if not sys.stdin.isatty():
        echo("vextrus-console: audit --fix: pass --yes (no terminal to ask)", file=sys.stderr)
        return False
    answer = input(f"rewrite {', '.join(map(str, paths))} (a .bak is kept)? [y/N] ")
    return answer.strip().lower() in ("y", "yes")
