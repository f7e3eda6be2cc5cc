"""The screens' modules imported in the background, before the first key that needs them.

The console starts with the matrix and the modules it needs; each other screen and each
guided action is imported on its first use. Those imports take time on a small machine (the
action screen and the guided launchers pull in `actions/`: ~85 ms each on the 2-core build
box, ~290 ms for all screens), and the first `r` of a session paid it before its question
came up (130-215 ms in bench/keys_pilot.py, 45 ms later on). Importing them in a thread once
the first matrix is out pays it while the operator reads: the event loop keeps answering
keys meanwhile, and a key that needs a module being imported waits only for the rest of it.
"""

from __future__ import annotations

import importlib
import pkgutil

import ui.screens


def screen_modules() -> list[str]:
    """Every module under ui/screens, by its dotted name."""
    return [f"{ui.screens.__name__}.{m.name}" for m in pkgutil.iter_modules(ui.screens.__path__)]


def import_screen_modules() -> list[str]:
    """Import the screens' modules not imported yet; returns the ones this call imported."""
    import sys

    new = [name for name in screen_modules() if name not in sys.modules]
    for name in new:
        importlib.import_module(name)
    return new
