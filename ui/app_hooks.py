"""A closed screen or widget lets go of the App at once: its watchers and signal callbacks.

Screens follow the App's reactive values (`status`, `usage`, ...) with Textual's
`self.watch(self.app, name, callback)`, which keeps `(node, callback)` in the App's watcher
list, and some follow the theme with `app.theme_changed_signal.subscribe(node, callback)`.
Textual drops a closed node's watchers only when that value next changes, and its signal
callbacks only when the signal is next published: the signal's subscriptions are a weak-keyed
dictionary, but the callback Textual wraps around ours holds the node, so the key never dies.
Until then the node stays in memory with its whole widget tree: ~5,000 objects for each
details screen opened and closed while the stack stays put (a quiet stack between polls, and
the theme practically never changes). Full garbage collections then walked them all;
bench/keys_pilot.py met one of 1.1 s in the middle of a key.

Every node that watches or subscribes to the App calls `release_app_hooks(self)` when it
unmounts (Textual's own Footer does the same for the signal it uses).
"""

from __future__ import annotations

from typing import Any

# Where Textual keeps an object's watchers ({name: [(node, callback), ...]}, reactive.py).
WATCHERS_ATTRIBUTE = "__watchers"


def release_app_hooks(node: Any) -> None:
    """Remove NODE's watchers on its App and its theme subscription."""
    app = node.app
    app.theme_changed_signal.unsubscribe(node)
    watchers: dict[str, list[tuple[Any, Any]]] = getattr(app, WATCHERS_ATTRIBUTE, {})
    for entries in watchers.values():
        entries[:] = [(owner, callback) for owner, callback in entries if owner is not node]
