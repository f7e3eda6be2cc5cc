"""The App on top of a context: what the CLI opens and every UI test builds.

`console.factory.build_context` picks and injects the backends; this adds the Textual App.
Textual is imported here, lazily, so headless commands never load it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from console.factory import AppContext, Options, build_context

if TYPE_CHECKING:
    from ui.app import VextrusApp


def build_app(ctx: AppContext) -> VextrusApp:
    """The Textual App for `ctx` (the same one for `vextrus-console` and the tests)."""
    from ui.app import VextrusApp

    return VextrusApp(ctx)


__all__ = ["AppContext", "Options", "build_app", "build_context"]
