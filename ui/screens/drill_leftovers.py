"""At console start: undo what a crashed drill left behind (its undo file says what).

Cheap when there is nothing to do (one directory listing, no Docker client); otherwise the
undo runs in a thread worker and the operator is told what was put back.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from actions.drill.undo import UndoBook

if TYPE_CHECKING:
    from ui.host import HostApp


def undo_drill_leftovers(app: HostApp) -> None:
    journal = app.ctx.journal
    if journal is None or not UndoBook(journal.path.parent).leftovers():
        return

    def undo() -> None:
        from actions.drill.undo import undo_leftovers_for

        for line in undo_leftovers_for(app.ctx):
            app.call_from_thread(partial(app.notify, line, title="Drill leftovers undone",
                                         severity="warning", markup=False))

    app.run_worker(undo, thread=True, group="drill-leftovers", exit_on_error=False)
