"""The modal that asks what to send: a query or signal name with JSON arguments, or a reason.

The arguments are checked here, before the modal closes, so a typo is fixed in place (the
hint line says what is wrong) rather than discovered after a confirmation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Input, Static

from console.masking import safe_text
from console.temporal.args import ArgsError, check_name, parse_args


@dataclass(frozen=True)
class Call:
    """What the operator entered: a name and parsed arguments, or a reason."""

    name: str = ""
    args: tuple[object, ...] = ()
    reason: str = ""


class WorkflowCallScreen(ModalScreen[Call | None]):
    """kind: query | signal (name + JSON args) or terminate (a reason)."""

    CSS_PATH = "workflow_call.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="workflow_call.cancel")]

    def __init__(self, kind: str, workflow_id: str, names: Sequence[str] = (),
                 default: str = "") -> None:
        super().__init__()
        self.kind = kind
        self.workflow_id = workflow_id
        self.names = list(names)
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical(id="call-box"):
            if self.kind == "terminate":
                yield Static(safe_text(f"Terminate {self.workflow_id}: why?"), id="call-title")
                yield Input(placeholder="reason (recorded in the workflow's history)",
                            id="call-reason")
            else:
                yield Static(safe_text(f"{self.kind.capitalize()} {self.workflow_id}"),
                             id="call-title")
                yield Input(value=self.default, placeholder=f"{self.kind} name",
                            suggester=SuggestFromList(self.names), id="call-name")
                yield Input(placeholder='arguments: JSON array, e.g. ["rahim", "budget ok"]',
                            id="call-args")
            hint = "enter  next / send    esc  cancel"
            if self.names:
                hint = f"known: {', '.join(self.names)}    " + hint
            yield Static(safe_text(hint), id="call-hint")

    def on_mount(self) -> None:
        self.query(Input).first().focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "call-name":
            self.query_one("#call-args", Input).focus()
            return
        try:
            self.dismiss(self._call())
        except ArgsError as exc:
            self.query_one("#call-hint", Static).update(safe_text(str(exc)))

    def _call(self) -> Call:
        if self.kind == "terminate":
            reason = self.query_one("#call-reason", Input).value.strip()
            if not reason:
                raise ArgsError("a reason is required: it is recorded in the history")
            return Call(reason=reason)
        name = check_name(self.kind, self.query_one("#call-name", Input).value)
        args = parse_args(self.query_one("#call-args", Input).value)
        return Call(name=name, args=tuple(args))
