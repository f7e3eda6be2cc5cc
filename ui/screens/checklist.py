"""Checklist screen: seed 002's success checklist, live, with the evidence of each item.

The table is the checklist in the seed's order; the pane under it shows the selected item's
evidence (what answered), what was asked and when, and the action that fixes it. `f` runs
that action where the console has one (bring-up, secrets, port-proxy). Evaluating asks HTTP
APIs, Kafka and PostgreSQL, so it runs in a worker; `r` asks again, `x` saves the Markdown.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.render import measure
from textual.screen import Screen
from textual.widgets import DataTable, Static

from actions.readiness import Inputs, Mark, Scorecard, evaluate
from actions.readiness.report import CLI_MARK, markdown, summary
from console.masking import safe_text
from ui.host import host
from ui.widgets.key_footer import KeyFooter
from ui.widgets.status_style import StatusPalette, Tone

Evaluator = Callable[[Inputs], Awaitable[Scorecard]]
MARK_TONES: dict[Mark, Tone] = {Mark.PASS: "ok", Mark.FAIL: "bad", Mark.UNKNOWN: "warn",
                                Mark.OUT_OF_SCOPE: "muted"}
# Items whose fix is a guided action of the console: app action names.
FIX_ACTIONS = {"uptime": "bringup", "migrations": "bringup", "health-200": "bringup",
               "no-hardcoded-secrets": "secrets", "secrets-stored": "secrets"}
WIDE = 120  # columns from which the evidence also shows in the table
COLUMNS = [("mark", ""), ("section", "Area"), ("item", "Item"), ("evidence", "Evidence")]
SHORT_SECTION = {"Infrastructure Health": "Infra", "Security Compliance": "Security",
                 "Operational Readiness": "Ops", "Performance Baselines": "Perf"}


class ChecklistEvaluated(Message):
    def __init__(self, card: Scorecard) -> None:
        super().__init__()
        self.card = card


class ChecklistScreen(Screen[None]):
    """Every checkable item: pass, fail or unknown, with evidence and the fix."""

    CSS_PATH = "checklist.tcss"
    BINDINGS = [
        Binding("escape", "back", "Back", id="checklist.back"),
        # r restarts and f follows elsewhere: refresh is ctrl+r, saving ctrl+s, as everywhere.
        Binding("ctrl+r,f5", "recheck", "Refresh (check again)", id="checklist.recheck"),
        Binding("enter", "fix", "Run the fix", id="checklist.fix"),
        Binding("ctrl+s", "export", "Save (Markdown)", id="checklist.export"),
        Binding("j", "cursor('down')", "Down", id="checklist.down", show=False),
        Binding("k", "cursor('up')", "Up", id="checklist.up", show=False),
    ]

    def __init__(self, evaluator: Evaluator | None = None,
                 inputs: Callable[[], Inputs] | None = None) -> None:
        super().__init__()
        self._evaluator = evaluator or evaluate
        self._inputs = inputs
        self.card: Scorecard | None = None

    def compose(self) -> ComposeResult:
        yield Static("Readiness checklist: checking…", id="checklist-title", markup=False)
        table: DataTable[str | Text] = DataTable(id="checklist-table", cursor_type="row")
        for key, label in COLUMNS[:3]:
            table.add_column(label, key=key)
        yield table
        yield Static("", id="checklist-detail", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()
        # After the first frame: the evaluation starts with ~70 ms of work on the event
        # loop (building inputs, the first checks), and `C` waited behind it for the screen.
        self.call_after_refresh(self.action_recheck)

    async def _build_inputs(self) -> Inputs:
        if self._inputs is not None:
            return self._inputs()
        from console.factory import compose_path

        ctx = host(self).ctx
        status = host(self).status
        if status is None:  # opened before the console's first refresh: ask once now
            status = await ctx.monitor.refresh()
        state_dir = ctx.journal.path.parent if ctx.journal is not None else None
        return Inputs(ctx.stack, status, ctx.clock, compose_path(ctx), state_dir,
                      usage=host(self).usage)

    def action_recheck(self) -> None:
        self.query_one("#checklist-title", Static).update("Readiness checklist: checking…")
        self._evaluate()

    @work(exclusive=True, group="checklist", exit_on_error=False)
    async def _evaluate(self) -> None:
        inputs = await self._build_inputs()
        self.post_message(ChecklistEvaluated(await self._evaluator(inputs)))

    def on_checklist_evaluated(self, message: ChecklistEvaluated) -> None:
        self.card = message.card
        host(self).checklist = message.card  # the header's score follows
        self.query_one("#checklist-title", Static).update(
            f"Readiness checklist · {summary(message.card)}")
        self._fill(message.card)

    def _fill(self, card: Scorecard) -> None:
        """The rows, under columns as wide as their widest cell.

        The widths are measured here, before any row is drawn: DataTable's own auto width
        is measured when the table next idles, and a frame drawn before that stays in its
        line cache (the widths are not in its keys), so the table could keep showing
        header-wide columns and no marks until the cursor moved.
        """
        table = self.query_one(DataTable)
        row = table.cursor_row
        palette = StatusPalette.for_app(self.app)
        wide = self.size.width >= WIDE  # room for the evidence beside the item
        rows: list[list[str | Text]] = []
        for v in card.verdicts:
            style = palette.tone(MARK_TONES[v.mark])
            cells: list[str | Text] = [
                Text(f"{CLI_MARK[v.mark]} {v.mark.value}", style=style),
                SHORT_SECTION.get(v.item.section, v.item.section), v.item.title]
            if wide:
                cells.append(safe_text(v.evidence, 200))
            rows.append(cells)
        table.clear(columns=True)
        console = self.app.console
        for index, (key, label) in enumerate(COLUMNS[:4 if wide else 3]):
            width = max([measure(console, Text(label), 1)]
                        + [measure(console, Text(c) if isinstance(c, str) else c, 1)
                           for c in (cells[index] for cells in rows)])
            table.add_column(label, key=key, width=width)
        for v, cells in zip(card.verdicts, rows, strict=True):
            table.add_row(*cells, key=v.item.id)
        table.move_cursor(row=min(row, table.row_count - 1))
        self._show_detail()

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def _selected(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count or self.card is None:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def _show_detail(self) -> None:
        item_id = self._selected()
        if item_id is None or self.card is None:
            return
        v = self.card.get(item_id)
        when = f"{v.at:%H:%M:%S}" if isinstance(v.at, datetime) else "-"
        text = Text(f"{v.item.title}: {v.mark.value}\n", style="bold")
        text.append_text(safe_text(v.evidence, 600))
        text.append(f"\nasked: {v.asked or '-'} · at {when}")
        fix = v.fix or (FIX_ACTIONS.get(item_id, ""))
        runnable = item_id in FIX_ACTIONS and v.mark is not Mark.PASS
        text.append(f"\nfix: {fix or 'none the console can run'}"
                    + ("  (press enter)" if runnable else ""))
        self.query_one("#checklist-detail", Static).update(text)

    def action_cursor(self, direction: str) -> None:
        table = self.query_one(DataTable)
        table.action_cursor_down() if direction == "down" else table.action_cursor_up()

    def on_data_table_row_selected(self, _event: DataTable.RowSelected) -> None:
        """enter on a row: the focused table turns it into RowSelected before the screen's
        binding sees it, so both paths run the same fix."""
        self.action_fix()

    def action_fix(self) -> None:
        item_id = self._selected()
        action = FIX_ACTIONS.get(item_id or "")
        if action is None:
            self.notify("no guided fix for this item: see its evidence", severity="warning")
            return
        self.run_worker(self.app.run_action(action), group="checklist-fix")

    def action_export(self) -> None:
        if self.card is None:
            return
        ctx = host(self).ctx
        path = Path.cwd() / f"vextrus-checklist-{self.card.taken_at:%Y%m%d-%H%M%S}.md"
        from console.fileio import write_text_atomic
        from console.masking import safe_str

        write_text_atomic(path, safe_str(markdown(self.card, ctx.stack.name), multiline=True))
        self.notify(f"saved {path.name}")

    def action_back(self) -> None:
        self.app.pop_screen()
