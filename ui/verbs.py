"""The verbs on one service, in one table: key, title, palette entry, what they launch.

The matrix, the details screen and the command palette used to list them each on their own
(and a key changed in one was stale in the others). Here each verb is written once; the
screens generate their bindings from it (`bindings`), the palette its `<verb> <service>`
entries (`palette_verbs`), and the help overlay groups them by these ids.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.binding import Binding

if TYPE_CHECKING:
    from ui.host import HostApp


@dataclass(frozen=True)
class Verb:
    id: str  # the binding id after the screen's prefix (`matrix.restart`): keymaps name it
    keys: str  # default key(s), Textual's comma-separated form
    action: str  # the screen action the key runs
    title: str  # footer and help
    palette: str = ""  # the palette's `<palette> <service>`; "" when not in the palette
    palette_help: str = ""
    launch: Callable[[HostApp, str], None] | None = None  # what the palette entry does


VERBS: dict[str, Verb] = {v.id: v for v in (
    Verb("details", "enter", "details", "Details", "details",
         "probes, container, dependencies, resources",
         lambda app, s: app.open_screen("detail", service=s)),
    Verb("logs", "l", "logs", "Logs", "logs", "its log, followed",
         lambda app, s: app.open_screen("logs", services=[s])),
    Verb("restart", "r", "restart", "Restart", "restart", "restart it, blast radius first",
         lambda app, s: app.request_restart(s, False)),
    Verb("restart_dependents", "R", "restart(True)", "Restart + dependents",
         "restart with dependents", "restart it, then its dependents in order",
         lambda app, s: app.request_restart(s, True)),
    Verb("pause_restarts", "p", "pause_restarts", "Pause restarts", "pause restarts",
         "keep a crash loop's evidence", lambda app, s: app.request_pause_restarts(s)),
    Verb("bringup_one", "u", "bringup_one", "Bring up with deps", "bring up",
         "start it with its dependencies, phased", lambda app, s: app.request_bringup(only=s)),
    Verb("blast", "b", "blast", "Blast radius"),
    # k9s's describe (d, y), lazydocker's shell (E); D/U stop and start (down/up), and
    # k9s's ctrl+k kill: one service, blast radius first, refused read-only
    Verb("describe", "d,y", "service_op('describe')", "Describe", "describe",
         "the runtime's object: inspect JSON or YAML", lambda app, s: app.request_describe(s)),
    Verb("shell", "E", "service_op('shell')", "Shell", "shell", "an interactive shell inside it",
         lambda app, s: app.request_shell(s)),
    Verb("stop", "D", "service_op('stop')", "Stop", "stop",
         "stop it (graceful), blast radius first",
         lambda app, s: app.request_lifecycle(s, "stop")),
    Verb("kill", "ctrl+k", "service_op('kill')", "Kill", "kill",
         "SIGKILL it now, blast radius first", lambda app, s: app.request_lifecycle(s, "kill")),
    Verb("start", "U", "service_op('start')", "Start", "start", "start it",
         lambda app, s: app.request_lifecycle(s, "start")),
    # Kubernetes only (check_action hides them elsewhere): k9s' verbs on a workload.
    Verb("scale", "x", "cluster('scale')", "Scale"),
    Verb("delete_pod", "ctrl+d", "cluster('delete_pod')", "Delete pod"),
    Verb("previous_logs", "o", "cluster('previous_logs')", "Previous logs"),
    Verb("probe_inside", "i", "cluster('probe_inside')", "Probe inside"),
)}


def bindings(screen: str, ids: Iterable[str], shown: Iterable[str] = ()) -> list[Binding]:
    """The screen's bindings for these verbs, ids `<screen>.<verb>`, in the order given."""
    visible = set(shown)
    return [Binding(VERBS[i].keys, VERBS[i].action, VERBS[i].title, id=f"{screen}.{i}",
                    show=i in visible) for i in ids]


def palette_verbs() -> list[Verb]:
    """The verbs the palette offers per service, in the table's order."""
    order = ("restart", "restart_dependents", "logs", "details", "describe", "shell", "stop",
             "kill", "start", "bringup_one", "pause_restarts")
    return [VERBS[i] for i in order]
