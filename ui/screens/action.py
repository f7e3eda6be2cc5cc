"""One guided action, live: plan, confirmation, progress, result, cancel with `esc`.

Every action of `actions/` runs through this one screen, so bring-up, restart, pause,
pre-flight and port-proxy behave alike: writes ask first (with the plan and blast radius on
screen, over the screen the operator is on: `open_action_screen`; a declined action opens
nothing) and are refused in read-only mode before anything runs; the action runs in an
exclusive worker and its events arrive as `ActionProgressed` messages; `esc` cancels, and
the action stops at its next step. A finished action can offer a next step (`enter`), such
as the fix after a diagnosis.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from actions.base import Action, ActionError, Cancelled, CancelToken, Progress, Tally, execute
from console.masking import safe_str
from ui.host import host
from ui.screens.confirm import ConfirmScreen
from ui.widgets.action_progress import ActionProgress
from ui.widgets.key_footer import KeyFooter

if TYPE_CHECKING:
    from console.factory import AppContext
    from ui.host import HostApp


class ActionProgressed(Message):
    """The running action yielded one progress event."""

    def __init__(self, event: Progress) -> None:
        super().__init__()
        self.event = event


class ActionFinished(Message):
    """The action ended: `result` is ok, failed, cancelled, or the error in words."""

    def __init__(self, result: str) -> None:
        super().__init__()
        self.result = result


FollowUp = tuple[str, Callable[["ActionScreen"], None]]


class ActionScreen(Screen[None]):
    """Runs one action; the app's status refreshes when it ends."""

    CSS_PATH = "action.tcss"
    BINDINGS = [
        Binding("escape", "cancel_or_back", "Cancel / back", id="action.back"),
        Binding("enter", "follow_up", "Next step", id="action.follow_up"),
    ]

    def __init__(
        self,
        action: Action,
        *,
        details: Sequence[str] = (),
        follow_up: FollowUp | None = None,
        confirm: bool = True,
    ) -> None:
        super().__init__()
        self.action = action
        self.details = list(details)
        self.follow_up = follow_up
        self.confirm = confirm
        self.cancel = CancelToken()
        self.confirmed = False  # asked over the screen before, and answered yes
        self.running = False
        self.result = ""
        self.tally = Tally()  # the same count and words as the journal's

    @property
    def vextrus(self) -> HostApp:
        return host(self)

    def compose(self) -> ComposeResult:
        mode = "writes" if self.action.writes else "read-only"
        # The target may be a workflow id or a pod: shown literally (markup off), escape-free.
        yield Static(f"{self.action.name} · {safe_str(self.action.target, 200)} · {mode}",
                     id="action-title", markup=False)
        yield ActionProgress(self.action.plan(), id="action-progress")
        yield KeyFooter()

    @property
    def progress(self) -> ActionProgress:
        return self.query_one(ActionProgress)

    def on_mount(self) -> None:
        ctx = self.vextrus.ctx
        if self.action.writes and ctx.read_only:
            reason = ctx.read_only_reason
            why = f"refused: {reason}" if reason else "refused in read-only mode"
            self._finish(f"{self.action.name}: {why}; nothing was done")
            note = f"refused: {reason}" if reason else "read-only mode: refused"
            self.notify(f"{self.action.name}: {note}", severity="warning")
            return
        if self.asks_first(ctx):  # pushed without asking (open_action_screen asks before)
            self.app.push_screen(self.confirmation(ctx), self._confirmed)
            self.progress.show_plan_only("waiting for confirmation")
            return
        self._start()

    def asks_first(self, ctx: AppContext) -> bool:
        """A write asks before it runs, unless read-only refuses it (this screen says why)
        or the operator said yes already. A production context asks every time."""
        if not self.action.writes or ctx.read_only or self.confirmed:
            return False
        return self.confirm or bool(ctx.confirm_word)

    def confirmation(self, ctx: AppContext) -> ConfirmScreen:
        """The question: the plan's steps and the details (blast radius); in a production
        context the context's name typed out."""
        question = f"{self.action.name} {safe_str(self.action.target, 200)}?"
        lines = [f"- {s.title}" for s in self.action.plan()] + self.details
        if ctx.confirm_word:
            lines.append(f"context {ctx.confirm_word!r} is production")
        return ConfirmScreen(question, lines, typed=ctx.confirm_word)

    def _confirmed(self, yes: bool | None) -> None:
        if yes:
            self._start()
        else:
            self._finish("cancelled before it started: nothing was done")

    def _start(self) -> None:
        self.running = True
        self.progress.show_plan_only("running · esc cancels")
        self._run_action()

    @work(group="action", exclusive=True, exit_on_error=False)
    async def _run_action(self) -> None:
        ctx = self.vextrus.ctx
        tally = self.tally
        failure = ""
        error = ""
        try:
            async for event in execute(self.action, self.cancel, ctx.journal, ctx.read_only):
                self.post_message(ActionProgressed(event))
                tally.add(event)
                if event.kind == "failed" and not failure:
                    where = f"{event.step}: " if event.step else ""
                    failure = f"{where}{event.message}"
        except Cancelled:
            tally.cancelled = True
            error = "cancelled by the operator; what had started keeps running"
        except ActionError as exc:
            error = str(exc)
        finally:
            self.post_message(ActionFinished(_result_words(tally, failure, error)))

    def on_action_progressed(self, message: ActionProgressed) -> None:
        self.progress.apply(message.event)

    def on_action_finished(self, message: ActionFinished) -> None:
        self._finish(message.result)
        self.vextrus.request_refresh()

    def _finish(self, result: str) -> None:
        self.running = False
        self.result = result
        if result != "ok":
            self.progress.show_plan_only(result)
        hint = f" · enter: {self.follow_up[0]}" if self.follow_up and self._can_follow_up() else ""
        said = self.tally.words() if self.tally.finished or self.tally.failures else "stopped"
        self.query_one("#action-title", Static).update(
            f"{self.action.name} · {safe_str(self.action.target, 200)} · {said}{hint} · esc back"
        )
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "follow_up":
            return self._can_follow_up()
        return True

    def _can_follow_up(self) -> bool:
        """After an action that finished: a scan's findings or a diagnosis's failed checks
        are what the next step (generate, fix) is for."""
        return self.follow_up is not None and self.tally.finished and not self.running

    def action_follow_up(self) -> None:
        if self.follow_up is not None and self._can_follow_up():
            self.follow_up[1](self)

    def action_cancel_or_back(self) -> None:
        if self.running:
            self.cancel.cancel()
            self.progress.show_plan_only("cancelling at the next step…")
        else:
            self.app.pop_screen()


def open_action(app: Any, action: Action, **kwargs: Any) -> ActionScreen:
    screen = ActionScreen(action, **kwargs)
    open_action_screen(app, screen)
    return screen


def open_action_screen(app: HostApp, screen: ActionScreen, *, replace: bool = False) -> None:
    """Ask first, over the screen the operator is on, then open the action's screen.

    One screen per key: the question comes up at once (the action's screen, its progress
    bar and log are built only after yes), and `n` or `esc` goes straight back to where the
    operator was, with nothing run and nothing journaled. `replace`: the action takes the
    place of the screen under the question (a guided chain's next step).
    """
    place = app.switch_screen if replace else app.push_screen
    ctx = app.ctx
    if not screen.asks_first(ctx):
        place(screen)
        return

    def answered(yes: bool | None) -> None:
        if yes:
            screen.confirmed = True
            place(screen)
        else:
            target = safe_str(screen.action.target, 200)
            app.notify(f"{screen.action.name} {target}: not confirmed, nothing was done")

    app.push_screen(screen.confirmation(ctx), answered)


def _result_words(tally: Tally, first_failure: str, error: str) -> str:
    """`ok`, or the journal's words with the first failure: what the result line says."""
    if tally.ok and not error:
        return "ok"
    if error:
        return error
    words = tally.words()
    return f"{words} · {first_failure}" if first_failure else words
