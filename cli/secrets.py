"""Headless `secrets scan | generate | apply`: seed 002's "2.1 Secrets Management".

- `scan [PATH ...] [--json]` lists hardcoded secrets in compose files, `.env` files and the
  stack file, as file:line, key, reason and a masked value (exit 1 when any are found).
- `generate` writes `.env.production` (mode 0600, `.bak` kept) with every secret the stack
  needs; existing values are kept unless `--rotate NAME`. Values print only with `--reveal`.
- `apply` rewrites the compose file to `${VAR}` references after showing the diff (values
  masked unless `--reveal`); asks y/N on a terminal, needs `--yes` otherwise. `--emit k8s`
  also writes a Kubernetes Secret manifest, `--emit docker-secrets` one file per secret.

Exit codes: 0 success (or a clean scan), 1 findings or a failure, 2 usage or configuration
error, refusal (read-only mode, no terminal to confirm on) or a declined confirmation.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from actions.base import ActionError, CancelToken, Progress, ReadOnlyRefused, execute
from actions.secrets.apply import EMITS, K8S_OBJECT_NAME, RewriteError, SecretsApply
from actions.secrets.generate import SecretsGenerate
from actions.secrets.policy import SecretsError
from actions.secrets.scan import COMPOSE_NAMES, SecretsScan, discover
from console.fileio import PathError
from console.masking import echo, safe_json

if TYPE_CHECKING:
    from console.journal import Journal

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
ENV_NAME = ".env.production"


class AddCommon(Protocol):
    def __call__(self, parser: argparse.ArgumentParser, suppress: bool = False) -> None: ...


# --- arguments ------------------------------------------------------------------------------


def add_parser(subparsers: argparse._SubParsersAction, add_common: AddCommon) -> None:
    """`secrets` and its three actions, each accepting the global options too."""
    parser = subparsers.add_parser(
        "secrets", help="find hardcoded secrets, generate .env.production, use ${VAR} in compose")
    add_common(parser, suppress=True)
    actions = parser.add_subparsers(dest="secrets_command", metavar="ACTION", required=True)

    scan = actions.add_parser("scan", help="list hardcoded secrets (values masked)")
    add_common(scan, suppress=True)
    scan.add_argument("paths", nargs="*", metavar="PATH",
                      help="compose files, .env files, stack files or directories (default: "
                           "the current directory); the stack file is always scanned")
    scan.add_argument("--json", action="store_true", help="stable JSON for scripts")

    generate = actions.add_parser("generate", help=f"write {ENV_NAME} (mode 0600)")
    add_common(generate, suppress=True)
    _add_files(generate)
    generate.add_argument("--rotate", action="append", default=[], metavar="NAME",
                          help="replace this secret with a new value (repeatable)")
    generate.add_argument("--adopt", action="store_true",
                          help="take new variables' values from the compose file instead of "
                               "generating them (move secrets out unchanged, rotate later)")
    generate.add_argument("--reveal", action="store_true", help="print the values")
    generate.add_argument("--dry-run", action="store_true", help="show the plan, write nothing")

    apply = actions.add_parser("apply", help="rewrite the compose file to use ${VAR}")
    add_common(apply, suppress=True)
    _add_files(apply)
    apply.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    apply.add_argument("--reveal", action="store_true", help="show real values in the diff")
    apply.add_argument("--dry-run", action="store_true", help="show the diff, write nothing")
    apply.add_argument("--emit", action="append", choices=EMITS, default=[],
                       help="also write the secrets as a Kubernetes Secret manifest or as "
                            "Docker secret files (repeatable)")
    apply.add_argument("--k8s-out", metavar="FILE",
                       help="where --emit k8s writes (default: next to the compose file)")
    apply.add_argument("--secret-name", default=K8S_OBJECT_NAME, metavar="NAME",
                       help=f"the Kubernetes Secret's name (default {K8S_OBJECT_NAME})")
    apply.add_argument("--namespace", metavar="NS", help="the Kubernetes Secret's namespace")


def _add_files(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--compose", metavar="FILE",
                        help="the compose file (default: compose.yaml or docker-compose.yml "
                             "in the current directory)")
    parser.add_argument("--env-file", metavar="FILE",
                        help=f"the secrets file (default: {ENV_NAME} next to the compose file)")


# --- running ---------------------------------------------------------------------------------


def open_journal(args: argparse.Namespace) -> Journal | None:
    """The journal under --state-dir (or the user's state dir); None if it cannot open.

    A journal that cannot be opened must not stop an operator from fixing secrets.
    """
    from console.journal import Journal

    state_dir = getattr(args, "state_dir", None)
    try:
        return Journal(Path(state_dir) / "journal.sqlite3" if state_dir else None)
    except Exception:  # sqlite3 and OS errors alike
        return None


def run(args: argparse.Namespace, read_only: bool, journal: Journal | None) -> int:
    command = args.secrets_command
    try:
        return asyncio.run(_run(command, args, read_only, journal))
    except ReadOnlyRefused as exc:
        _err(str(exc))
        return EXIT_USAGE
    except (SecretsError, PathError) as exc:
        _err(f"secrets {command}: {exc}")
        return EXIT_USAGE
    except (RewriteError, ActionError) as exc:
        _err(f"secrets {command}: {exc}")
        return EXIT_PROBLEMS
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        _err(f"secrets {command}: {where}{exc.strerror or exc}")
        return EXIT_PROBLEMS


async def _run(command: str, args: argparse.Namespace, read_only: bool,
               journal: Journal | None) -> int:
    if command == "scan":
        return await _scan(args, read_only, journal)
    if command == "generate":
        return await _generate(args, read_only, journal)
    return await _apply(args, read_only, journal)


async def _execute(
    action: SecretsScan | SecretsGenerate | SecretsApply,
    read_only: bool,
    journal: Journal | None,
    show: bool = True,
) -> list[Progress]:
    events = []
    async for event in execute(action, CancelToken(), journal, read_only):
        events.append(event)
        if show:
            # Findings carry the scanner's own masked form (`re…(14)`) after words such as
            # `PASSWORD: known default`; masking again would hide the reason, not a secret.
            echo(event.line(), flush=True, mask=False)
    return events


# --- scan -------------------------------------------------------------------------------------


async def _scan(args: argparse.Namespace, read_only: bool, journal: Journal | None) -> int:
    action = SecretsScan(discover(args.paths, getattr(args, "stack", None)))
    await _execute(action, read_only, journal, show=not args.json)
    if args.json:
        doc = {"files": [t.label for t in action.targets], "count": len(action.findings),
               "findings": [f.to_dict() for f in action.findings]}
        print(json.dumps(safe_json(doc), indent=2, sort_keys=True))
    elif action.findings:
        echo(f"next: `vextrus-console secrets generate`, then `secrets apply` to move the "
              f"rewritable ones into {ENV_NAME}")
    return EXIT_PROBLEMS if action.findings else EXIT_OK


# --- generate ---------------------------------------------------------------------------------


async def _generate(args: argparse.Namespace, read_only: bool, journal: Journal | None) -> int:
    compose = _compose_path(args.compose, required=False)
    env_path = _env_path(args.env_file, compose)
    action = SecretsGenerate(env_path, compose, rotate=args.rotate, adopt=args.adopt)
    plan = action.prepare()
    if args.dry_run:
        _print_steps(action.name, action.target, [s.title for s in action.plan()])
        for warning in plan.warnings:
            echo(f"! warning: {warning}")
        return EXIT_OK
    events = await _execute(action, read_only, journal)
    if args.reveal:
        echo(f"# values in {env_path} (shown because of --reveal)")
        for entry in plan.entries:
            echo(f"{entry.name}={entry.value}", mask=False)  # asked for: --reveal
    else:
        echo("values not shown; pass --reveal to print them")
    return EXIT_PROBLEMS if any(e.kind == "failed" for e in events) else EXIT_OK


# --- apply ------------------------------------------------------------------------------------


async def _apply(args: argparse.Namespace, read_only: bool, journal: Journal | None) -> int:
    compose = _compose_path(args.compose, required=True)
    assert compose is not None
    action = SecretsApply(compose, _env_path(args.env_file, compose), emit=args.emit,
                          k8s_path=Path(args.k8s_out) if args.k8s_out else None,
                          secret_name=args.secret_name, namespace=args.namespace)
    plan = action.prepare()
    _show_changes(action, args.reveal)
    if args.dry_run or (not plan.changed and not action.emit):
        return EXIT_OK
    if not read_only:
        refusal = action.refusal()
        if refusal:
            raise SecretsError(refusal)
        if not args.yes:
            code = _confirm(f"rewrite {compose}" if plan.changed else "write the secrets")
            if code is not None:
                return code
    await _execute(action, read_only, journal)
    if "docker-secrets" in action.emit:
        echo("add to the compose file (and `secrets: [name]` plus NAME_FILE=/run/secrets/name "
              "to each service whose image supports *_FILE):")
        echo(action.snippet().rstrip("\n"), mask=False)  # names files, holds no value
    return EXIT_OK


def _show_changes(action: SecretsApply, reveal: bool) -> None:
    """The diff first: the operator decides with it in front of them."""
    plan = action.prepare()
    for finding in plan.left:
        echo(f"· {finding.location()}: left as is (review): {finding.describe()}")
    if not plan.changed:
        echo(f"no changes: {action.compose_path} has no hardcoded secret left to rewrite")
        return
    echo(plan.diff(reveal).rstrip("\n"), mask=not reveal)
    echo(f"{len(plan.replacements)} secret(s) -> ${{VAR}}: {', '.join(plan.variables)} "
          f"(values from {action.env_path})")


def _confirm(what: str) -> int | None:
    """None to go ahead; an exit code otherwise. Never waits for input without a terminal."""
    if not sys.stdin.isatty():
        _err(f"secrets apply: refusing to {what} without confirmation: stdin is not a "
             "terminal; pass --yes")
        return EXIT_USAGE
    sys.stderr.write(f"{what}? [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    if answer in ("y", "yes"):
        return None
    _err("secrets apply: not confirmed; nothing changed")
    return EXIT_USAGE


# --- helpers ----------------------------------------------------------------------------------


def _compose_path(given: str | None, required: bool) -> Path | None:
    """--compose, or the compose file in the current directory."""
    if given:
        path = Path(given)
        if not path.exists() and not path.is_symlink():
            raise SecretsError(f"{given}: file not found")
        if path.is_dir():
            raise SecretsError(f"{given}: is a directory, not a compose file")
        return path
    for name in COMPOSE_NAMES:
        if Path(name).is_file():
            return Path(name)
    if required:
        raise SecretsError(f"{Path.cwd()}: no compose file ({', '.join(COMPOSE_NAMES)}); "
                           "pass --compose FILE")
    return None


def _env_path(given: str | None, compose: Path | None) -> Path:
    if given:
        return Path(given)
    return (compose.parent if compose else Path(".")) / ENV_NAME


def _print_steps(name: str, target: str, titles: Sequence[str]) -> None:
    echo(f"plan: {name} {target}")
    for number, title in enumerate(titles, start=1):
        echo(f"  {number}. {title}")


def _err(message: str) -> None:
    echo(f"vextrus-console: {' '.join(message.split())}", file=sys.stderr, mask=False)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m cli.secrets secrets ...`: the same commands before (and apart
    from) the wiring into cli.main; the tests drive the terminal prompt through it."""
    from cli.common import add_common

    parser = argparse.ArgumentParser(prog="vextrus-console")
    add_common(parser)
    add_parser(parser.add_subparsers(dest="command", required=True), add_common)
    args = parser.parse_args(argv)
    return run(args, args.read_only, open_journal(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
