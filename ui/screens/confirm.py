"""Modal questions before a write: a yes/no confirmation and the bring-up's failure choice.

Destructive actions ask first. The confirmation shows what will happen (the
plan, the blast radius) so the operator answers with the facts on screen. `typed` asks for a
word typed out (a production context, a workflow id) instead of a single key.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from actions.bringup import Decision, Diagnosis
from console.masking import safe_str


class ConfirmScreen(ModalScreen[bool]):
    """`y` confirms, `n` or `esc` declines; with `typed`, the word must be entered."""

    CSS_PATH = "confirm.tcss"
    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, question: str, details: Sequence[str] = (), typed: str | None = None):
        super().__init__()
        self.question = question
        self.details = list(details)
        self.typed = typed

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            # Questions and details name services, workflows and what they said: plain text.
            yield Static(safe_str(self.question), id="confirm-question", markup=False)
            with VerticalScroll(id="confirm-details"):
                yield Static(safe_str("\n".join(self.details), multiline=True), markup=False)
            if self.typed is not None:
                yield Static(safe_str(f"type {self.typed!r} and press enter to confirm, "
                                      "esc to cancel"), id="confirm-hint", markup=False)
                yield Input(placeholder=self.typed, id="confirm-input")
            else:
                yield Static("y  confirm    n / esc  cancel", id="confirm-hint")

    def on_mount(self) -> None:
        if self.typed is not None:
            self.query_one(Input).focus()

    def action_answer(self, yes: bool) -> None:
        if self.typed is not None and yes:
            return  # a typed confirmation is given by typing, never by a key
        self.dismiss(yes)

    @on(Input.Submitted)
    def _typed(self, event: Input.Submitted) -> None:
        if event.value.strip() == self.typed:
            self.dismiss(True)
        else:
            self.query_one("#confirm-hint", Static).update(
                safe_str(f"that is not {self.typed!r}: type it exactly, or esc to cancel")
            )


class DiagnosisScreen(ModalScreen[Decision]):
    """A service failed during a bring-up: the evidence, then retry, restart it, skip or
    abort (restart it: for a service that runs but fails, where waiting again cannot help)."""

    CSS_PATH = "confirm.tcss"
    BINDINGS = [
        # r restarts, as everywhere; retrying the check is the default answer.
        Binding("enter", "decide('retry')", "Retry", id="diagnosis.retry"),
        Binding("r", "decide('restart')", "Restart", id="diagnosis.restart"),
        Binding("s", "decide('skip')", "Skip", id="diagnosis.skip"),
        Binding("a,escape", "decide('abort')", "Abort", id="diagnosis.abort"),
    ]

    def __init__(self, diagnosis: Diagnosis) -> None:
        super().__init__()
        self.diagnosis = diagnosis

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Static(safe_str(f"{self.diagnosis.service} did not become healthy"),
                         id="confirm-question", markup=False)
            with VerticalScroll(id="confirm-details"):  # exit code, log lines, failing probe
                yield Static(safe_str("\n".join(self.diagnosis.lines()), multiline=True),
                             markup=False)
            yield Static("enter  retry    r  restart it    s  skip    a / esc  abort the phase",
                         id="confirm-hint")

    def action_decide(self, decision: Decision) -> None:
        self.dismiss(decision)
