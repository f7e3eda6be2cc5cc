"""The App on top of a context: what the CLI opens and every UI test builds.

`console.factory.build_context` picks and injects the backends; this adds the Textual App.
Textual is imported here, lazily, so headless commands never load it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from console.factory import AppContext, Options, build_context

if TYPE_CHECKING:
    from ui.app import VextrusApp

# How long a lone `esc` waits for the rest of a possible escape sequence (an arrow key is
# `esc [ A`). Textual waits 100 ms, so every `esc` (back, cancel, clear) answered 100 ms after
# any other key: in the operator's story bench it reached the App 105-125 ms after tmux sent
# it, the others within 5 ms. A terminal writes a sequence in one piece, and SSH carries it
# in one packet: 25 ms is the value ncurses programs are commonly run with. The operator's
# own ESCDELAY (curses' variable, which Textual reads) wins.
ESCAPE_DELAY_MS = 25


def build_app(ctx: AppContext) -> VextrusApp:
    """The Textual App for `ctx` (the same one for `vextrus-console` and the tests)."""
    from textual import constants

    from ui.app import VextrusApp

    if "ESCDELAY" not in os.environ:
        setattr(constants, "ESCAPE_DELAY", ESCAPE_DELAY_MS / 1000)  # noqa: B010 (a Final)
    return VextrusApp(ctx)


__all__ = ["AppContext", "Options", "build_app", "build_context"]
