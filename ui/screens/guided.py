"""Launchers for the guided actions: build the headless action, open it on an ActionScreen.

The same action classes as the CLI's (`actions/`), so what the console does is what a
runbook does. A launcher that cannot build its action (no runtime, unknown service) says
why in a notification and opens nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from actions.base import ActionError
from actions.bringup import BringUp, Decision, Diagnosis
from actions.portproxy.fix import ForwarderFix, PortProxyDiagnose
from actions.preflight import Preflight
from actions.restart import PauseRestarts, Restart
from actions.secrets.apply import SecretsApply
from actions.secrets.generate import SecretsGenerate
from actions.secrets.scan import COMPOSE_NAMES, SecretsScan, discover
from console.runtime.capabilities import RestartPolicies
from ui.screens.action import ActionScreen, open_action_screen
from ui.screens.confirm import DiagnosisScreen

if TYPE_CHECKING:
    from ui.host import HostApp


def _runtime_or_notice(app: HostApp, what: str) -> bool:
    if app.ctx.runtime is None:
        app.notify(f"{what}: needs a runtime (the console runs with --runtime none)",
                   severity="warning")
        return False
    return True


def open_bringup(app: HostApp, only: str | None = None) -> None:
    """Phased bring-up; a failure opens the diagnosis with retry, restart it, skip, abort.
    An unfinished run in the journal is resumed (and re-checked), not started over."""
    if not _runtime_or_notice(app, "bring-up"):
        return
    ctx = app.ctx
    assert ctx.runtime is not None

    async def decide(diagnosis: Diagnosis) -> Decision:
        choice = await app.push_screen_wait(DiagnosisScreen(diagnosis))
        return choice or "abort"

    # An unfinished run (the console died, SSH dropped) is resumed, never started over: a
    # resumed run checks again everything it had brought up and brings back what is down.
    last = ctx.journal.last_bringup() if ctx.journal else None
    resume = last is not None and not last[1]
    try:
        action = BringUp(ctx.stack, ctx.runtime, ctx.monitor, ctx.journal, only=only,
                         resume=resume, decide=decide, timeout=ctx.bringup_timeout)
    except ActionError as exc:
        app.notify(str(exc), severity="error")
        return
    details = [f"resumes the unfinished run {last[0]}: what it brought up is checked again, "
               "what is down is brought back"] if last and resume else []
    open_action_screen(app, ActionScreen(action, details=details))


def open_restart(app: HostApp, service: str, with_dependents: bool = False) -> None:
    """Restart, with the blast radius shown before the operator confirms."""
    if not _runtime_or_notice(app, "restart"):
        return
    ctx = app.ctx
    assert ctx.runtime is not None
    try:
        action = Restart(ctx.stack, ctx.runtime, ctx.monitor, service,
                         with_dependents=with_dependents)
    except ActionError as exc:
        app.notify(str(exc), severity="error")
        return
    radius = action.blast_radius()
    details = [f"blast radius: {', '.join(radius) if radius else 'none'}"]
    if radius and not with_dependents:
        details.append("dependents keep running (R restarts them too, in order)")
    open_action_screen(app, ActionScreen(action, details=details))


def open_pause_restarts(app: HostApp, service: str) -> None:
    """Stop a restart loop so its last exit code and logs stay for triage."""
    if not _runtime_or_notice(app, "pause restarts"):
        return
    ctx = app.ctx
    assert ctx.runtime is not None
    if not isinstance(ctx.runtime, RestartPolicies):
        app.notify(f"pause restarts: the {ctx.runtime.name} runtime has no restart policy",
                   severity="warning")
        return
    open_action_screen(app, ActionScreen(PauseRestarts(ctx.stack, ctx.runtime, service)))


def open_preflight(app: HostApp) -> None:
    open_action_screen(app, ActionScreen(Preflight(app.ctx.stack, app.ctx.runtime)))


def open_portproxy(app: HostApp) -> None:
    """Diagnose every port; `enter` afterwards starts forwarders for what is fixable."""
    ctx = app.ctx
    diagnose = PortProxyDiagnose(ctx.stack, ctx.runtime, forwarders=app.forwarders)

    def fix(screen: ActionScreen) -> None:
        # The exec target speaks `docker exec`: other runtimes get advice instead.
        docker = ctx.runtime is not None and ctx.runtime.name == "docker"
        action = ForwarderFix(diagnose.findings, app.forwarders, exec_supported=docker)
        if not action.planned:
            app.notify("portproxy: nothing to forward", severity="information")
            return
        _next_in_chain(app, ActionScreen(action))

    open_action_screen(app, ActionScreen(diagnose, follow_up=("start forwarders", fix)))


def open_secrets(app: HostApp) -> None:
    """Scan -> generate .env.production -> apply ${VAR} to the compose file, each confirmed.

    The compose file is the context's (`compose_path`) or the one in the current directory,
    as the CLI finds it. Values stay masked on every screen: the apply confirmation shows
    the diff with masked values.
    """
    ctx = app.ctx
    compose = _compose_file(ctx.compose_path)
    folder = str(compose.parent) if compose else "."
    stack_file = ctx.stack.source if Path(ctx.stack.source).is_file() else None
    try:
        scan = SecretsScan(discover([folder], stack_file))
    except ActionError as exc:
        app.notify(str(exc), severity="error")
        return
    env_path = (compose.parent if compose else Path(".")) / ".env.production"

    def generate(_screen: ActionScreen) -> None:
        action = SecretsGenerate(env_path, compose)
        try:
            warnings = list(action.prepare().warnings)
        except ActionError as exc:
            app.notify(str(exc), severity="error")
            return
        _next_in_chain(app, ActionScreen(action, details=[f"! {w}" for w in warnings],
                                         follow_up=("apply ${VAR} to the compose file", apply)
                                         if compose else None))

    def apply(_screen: ActionScreen) -> None:
        assert compose is not None
        action = SecretsApply(compose, env_path)
        try:
            plan = action.prepare()
            refusal = action.refusal()
        except ActionError as exc:
            app.notify(str(exc), severity="error")
            return
        if refusal:
            app.notify(f"secrets apply: {refusal}", severity="error")
            return
        if not plan.changed:
            app.notify(f"{compose}: no hardcoded secret left to rewrite")
            return
        _next_in_chain(app, ActionScreen(action, details=plan.diff(False).splitlines()))

    open_action_screen(app, ActionScreen(scan, follow_up=(f"generate {env_path}", generate)))


def _next_in_chain(app: HostApp, step: ActionScreen) -> None:
    """A guided chain's next step takes the place of the step before it: one `esc` goes
    back to where the chain started, not one per step."""
    open_action_screen(app, step, replace=True)


def _compose_file(given: str | None) -> Path | None:
    if given:
        return Path(given)
    return next((Path(n) for n in COMPOSE_NAMES if Path(n).is_file()), None)
