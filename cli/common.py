"""What every command shares: the common options, the exit codes, the error line.

Each `cli.<group>` module adds its parsers with `add_common` and reads them back with
`options_from`; `cli.main` dispatches. Nothing here imports a command module, so the
command modules and the entry point never import each other in a circle.
"""

from __future__ import annotations

import argparse

from console.factory import RUNTIMES, Options

EXIT_OK, EXIT_NOT_READY, EXIT_USAGE = 0, 1, 2


def add_common(parser: argparse.ArgumentParser, suppress: bool = False) -> None:
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
        add_compose(parser)
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


def add_compose(parser: argparse.ArgumentParser) -> None:
    """The compose project, before the command (`secrets` has its own --compose)."""
    parser.add_argument("--compose", metavar="FILE", dest="compose_files", action="append",
                        help="compose file, as `docker compose -f` (repeatable); default: "
                        "the stack file's [stack.compose], then compose.yaml, compose.yml, "
                        "docker-compose.yml or docker-compose.yaml in the working directory")
    parser.add_argument("--env-file", metavar="FILE", dest="env_files", action="append",
                        help="env file for Compose's interpolation (repeatable)")
    parser.add_argument("--profile", metavar="NAME", dest="profiles", action="append",
                        help="enable a Compose profile (repeatable)")


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def options_from(args: argparse.Namespace) -> Options:
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


def on_sigterm(_signum: int, _frame: object) -> None:
    raise Terminated
