"""The footer of every screen: Textual's Footer, rebuilt only when its keys change.

Textual's Footer builds all its key widgets again whenever its screen says its bindings
changed, and a screen says so each time it comes back to the top (`esc` from details to the
matrix), each time focus moves, and once more after the footer's first build. At 80x24
each rebuild cost the matrix about 50 ms of styling and layout, and it ran after `esc`,
where the operator's next key waited behind it (`r` after `esc`: 380 ms to the dialog in
bench/keys_pilot.py). The keys on show rarely change between those moments: this footer
keeps what it drew while the shown keys (key, action, description, enabled, tooltip, group)
are the same.
"""

from __future__ import annotations

from collections.abc import Hashable

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer


class KeyFooter(Footer):
    """A Footer that skips rebuilds which would draw the same keys."""

    def __init__(self, *, show_command_palette: bool = False) -> None:
        super().__init__(show_command_palette=show_command_palette)
        self._drawn: Hashable | None = None

    def keys_shown(self) -> Hashable:
        """What the footer would draw now: the shown bindings in order, as plain values."""
        shown = tuple(
            (binding.key, binding.action, binding.description, enabled, tooltip,
             binding.group.description if binding.group else None)
            for (_, binding, enabled, tooltip) in self.screen.active_bindings.values()
            if binding.show
        )
        return (self.show_command_palette, self.compact, shown)

    def compose(self) -> ComposeResult:
        if self._bindings_ready:
            self._drawn = self.keys_shown()
        yield from super().compose()

    def bindings_changed(self, screen: Screen[object]) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen:
            self.call_after_refresh(self._rebuild_if_changed)

    async def _rebuild_if_changed(self) -> None:
        """Decided after the refresh, as Textual's own rebuild is: the bindings are final."""
        if self.is_attached and self.keys_shown() != self._drawn:
            await self.recompose()
