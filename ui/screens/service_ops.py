"""What a key on a service row starts: stop, kill or start (guided), describe, a shell.

Stop, kill and start are guided actions on an ActionScreen (confirmation with the blast
radius, typed on a production context, refused read-only, journaled by `execute`). The
shell suspends the console, runs the runtime's interactive command in the operator's
terminal, and resumes on the same screen; it is refused read-only (a shell can change
anything) and journaled before and after.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import SuspendNotSupported

from actions.base import ActionError, read_only_refusal
from actions.lifecycle import Lifecycle
from console.runtime.capabilities import Describable
from console.shell import ShellPlan, ShellUnavailable, shell_plan
from ui.screens.action import ActionScreen, open_action_screen
from ui.verbs import palette_verbs

if TYPE_CHECKING:
    from ui.host import HostApp


def open_lifecycle(app: HostApp, service: str, verb: str) -> None:
    """stop / kill / start of one service, with the blast radius before confirming."""
    ctx = app.ctx
    if ctx.runtime is None:
        app.notify(f"{verb}: needs a runtime (the console runs with --runtime none)",
                   severity="warning")
        return
    try:
        action = Lifecycle(ctx.stack, ctx.runtime, ctx.monitor, service, verb)
    except ActionError as exc:
        app.notify(str(exc), severity="error")
        return
    open_action_screen(app, ActionScreen(action, details=action.details()))


def open_describe(app: HostApp, service: str) -> None:
    from ui.screens.describe import DescribeScreen

    if not isinstance(app.ctx.runtime, Describable):
        name = app.ctx.runtime.name if app.ctx.runtime is not None else "none"
        app.notify(f"describe: the {name} runtime cannot describe a service", severity="warning")
        return
    app.push_screen(DescribeScreen(service))


def open_shell(app: HostApp, service: str) -> None:
    """Refused read-only; otherwise find the command, then suspend and run it."""
    ctx = app.ctx
    if ctx.read_only:
        refusal = read_only_refusal(f"shell {service}", ctx.read_only_reason)
        app.notify(refusal, severity="warning")
        _journal(app, service, refusal)
        return
    _prepare_shell(app, service)


@work(group="shell", exclusive=True, exit_on_error=False)
async def _prepare_shell(app: HostApp, service: str) -> None:
    try:
        plan = await shell_plan(app.ctx.runtime, app.ctx.stack.service(service))
    except (ShellUnavailable, ActionError, KeyError) as exc:
        app.notify(f"shell {service}: {exc}", severity="warning")
        return
    except Exception as exc:  # runtime failures are one line, never a crash
        app.notify(f"shell {service}: {str(exc) or type(exc).__name__}", severity="error")
        return
    app.call_later(run_shell, app, service, plan)


def run_shell(app: HostApp, service: str, plan: ShellPlan) -> int | None:
    """Suspend, run the shell in this terminal, resume; the exit code is journaled."""
    _journal(app, service, f"shell opened: {plan.text}")
    try:
        with app.suspend():
            print(f"vextrus-console: shell in {service} ({plan.text}); exit to come back",
                  flush=True)
            code = subprocess.call(list(plan.argv), cwd=plan.cwd, env=dict(plan.env) or None)
    except SuspendNotSupported:
        app.notify("shell: this terminal cannot hand over (no suspend support)",
                   severity="warning")
        _journal(app, service, "shell not opened: the terminal cannot be suspended")
        return None
    except OSError as exc:
        app.notify(f"shell {service}: {exc}", severity="error")
        return None
    _journal(app, service, f"shell closed (exit {code})")
    app.notify(f"shell in {service} closed (exit {code})")
    app.request_refresh()
    return code


def _journal(app: HostApp, service: str, text: str) -> None:
    if app.ctx.journal is not None:
        app.ctx.journal.record("action", service, text)


# --- the command palette: every action on every service, each with its key ----------------

def palette_entries(app: HostApp) -> list[tuple[str, str, Callable[[], Any]]]:
    """`<verb> <service>` for every service; the help names the key (after the keymap)."""
    keymap = app.ctx.keymap
    out: list[tuple[str, str, Callable[[], Any]]] = []
    for service in app.ctx.stack.names():
        for verb in palette_verbs():
            shown = keymap.get(f"matrix.{verb.id}", verb.keys.split(",")[0])
            out.append((f"{verb.palette} {service}",
                        f"{verb.palette_help} · key {shown} on its row",
                        partial(run_verb, app, verb.palette, service)))
    return out


def run_verb(app: HostApp, verb: str, service: str) -> None:
    """What a palette entry does: the same as the key on the service's row."""
    launch = next(v.launch for v in palette_verbs() if v.palette == verb)
    if launch is not None:
        launch(app, service)
