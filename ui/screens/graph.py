"""Graph screen: the dependency graph with a panel describing the selected service.

For incident triage: move to a failing service and its chain to the root cause lights up;
the panel says which dependencies are unmet, who depends on it, and how far a failure
spreads (blast radius). Enter opens the service's detail, L its logs.
"""

from __future__ import annotations

import inspect

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.screen import Screen
from textual.suggester import SuggestFromList
from textual.widgets import Input, Static

from console.masking import sanitize
from console.model import Stack, dependents_map
from console.status.engine import blast_radius
from console.status.types import ServiceStatus, StackStatus, State
from ui.app_hooks import release_app_hooks
from ui.host import host
from ui.widgets.dependency_graph import DependencyGraph, node_glyph, state_class
from ui.widgets.key_footer import KeyFooter
from ui.widgets.status_style import ROOT_CAUSE_TEXT

MODE_NAMES = {"phase": "phases", "topo": "dependency layers"}


class GraphScreen(Screen[None]):
    """Dependency graph of the whole stack, navigable with cursor keys and hjkl."""

    CSS_PATH = "graph.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]

    BINDINGS = [
        Binding("escape", "back", "Back", id="graph.back"),
        Binding("enter", "open_detail", "Details", id="graph.open_detail"),
        Binding("slash", "open_jump", "Jump to", id="graph.open_jump"),
        Binding("c", "root_cause", "Root cause", id="graph.root_cause"),
        Binding("l", "open_logs", "Logs", id="graph.open_logs"),
        Binding("v", "toggle_mode", "View: phases/layers", id="graph.toggle_mode"),
    ]

    def compose(self) -> ComposeResult:
        stack = self._stack
        yield Static("", id="graph-title", markup=False)
        with Container(id="graph-body"):
            yield DependencyGraph(stack, self._status, id="graph")
            yield Static("", id="graph-panel")
        yield Input(
            id="graph-jump",
            classes="-hidden",
            placeholder="jump to service: type a name, tab completes, enter goes, esc cancels",
            suggester=SuggestFromList(stack.names(), case_sensitive=False),
        )
        yield KeyFooter()

    @property
    def _stack(self) -> Stack:
        return host(self).ctx.stack

    @property
    def _status(self) -> StackStatus | None:
        return host(self).status

    @property
    def graph(self) -> DependencyGraph:
        return self.query_one(DependencyGraph)

    def on_mount(self) -> None:
        self.graph.focus()
        self.watch(self.app, "status", self._status_changed)
        self._describe()

    def on_unmount(self) -> None:
        release_app_hooks(self)

    def _status_changed(self, status: StackStatus | None) -> None:
        self.graph.set_status(status)
        self._describe()

    @on(DependencyGraph.Selected)
    def _selected(self) -> None:
        self._describe()

    def _describe(self) -> None:
        graph = self.graph
        count = len(self._stack.services)
        title = f"Dependency graph · {MODE_NAMES[graph.mode]} · {count} services"
        status = self._status
        if status is not None:
            title += f" · {status.operational}/{status.total} operational"
        self.query_one("#graph-title", Static).update(title)
        panel = describe_service(self._stack, status, graph.selected)
        self.query_one("#graph-panel", Static).update(panel)

    # --- actions -----------------------------------------------------------------------

    def action_back(self) -> None:
        """Esc: close the jump prompt if open, else go back."""
        prompt = self.query_one("#graph-jump", Input)
        if not prompt.has_class("-hidden"):
            self._close_jump()
            return
        self.dismiss()

    async def action_open_detail(self) -> None:
        """Enter: the selected service's detail (the app's own handler when it has one)."""
        name = self.graph.selected
        if name is None:
            return
        handler = getattr(self.app, "action_show_detail", None)
        if handler is not None:
            result = handler(name)
            if inspect.isawaitable(result):
                await result
            return
        try:
            from ui.screens.detail import DetailScreen
        except ImportError:
            self.notify("Service details are not available", timeout=3)
            return
        self.app.push_screen(DetailScreen(name))

    def action_open_logs(self) -> None:
        """l: the selected service's logs, as on the matrix (arrows move; j/k too)."""
        from ui.screens.logs import LogsScreen

        if self.graph.selected is not None:
            self.app.push_screen(LogsScreen([self.graph.selected]))

    def action_root_cause(self) -> None:
        """c: jump to the root cause of the selected service's failure."""
        name = self.graph.selected
        status = self.graph.service_status(name) if name else None
        if status is None or not status.blocked_by:
            reason = "is itself a root cause" if status and status.root_cause else "is not blocked"
            self.notify(f"{name} {reason}", timeout=3, markup=False)
            return
        self.graph.select(status.blocked_by[-1])

    def action_toggle_mode(self) -> None:
        """v: columns by bring-up phase, or by dependency depth."""
        self.graph.mode = "topo" if self.graph.mode == "phase" else "phase"
        self._describe()

    def action_open_jump(self) -> None:
        prompt = self.query_one("#graph-jump", Input)
        prompt.value = ""
        prompt.remove_class("-hidden")
        prompt.focus()

    def _close_jump(self) -> None:
        self.query_one("#graph-jump", Input).add_class("-hidden")
        self.graph.focus()

    @on(Input.Submitted, "#graph-jump")
    def _jump(self, event: Input.Submitted) -> None:
        self._close_jump()
        name = match_service(self._stack.names(), event.value)
        if name is None:
            self.notify(f"No service matches {event.value!r}", timeout=3, markup=False)
            return
        self.graph.select(name)


def match_service(names: list[str], query: str) -> str | None:
    """Exact name first, then the first name starting with the query, then containing it."""
    query = query.strip().lower()
    if not query:
        return None
    lowered = {n.lower(): n for n in names}
    if query in lowered:
        return lowered[query]
    for test in (str.startswith, str.__contains__):
        for low, name in lowered.items():
            if test(low, query):
                return name
    return None


# --- the panel -----------------------------------------------------------------------------


def describe_service(stack: Stack, status: StackStatus | None, name: str | None) -> Text:
    """The panel: state, dependencies met or not, dependents, blast radius, cause, issues.

    One short paragraph per topic, so the first lines say the most even in the 7-row
    panel of an 80x24 terminal.
    """
    if name is None or name not in stack:
        return Text("No service selected")
    service = stack.service(name)
    svc = _get(status, name)
    dependents = dependents_map(stack.services)
    text = Text()
    text.append(name, style="bold")
    text.append(f"  {_state_line(svc)}\n")
    if svc is not None and svc.blocked_by:
        _line(text, "Blocked by", " ← ".join(svc.blocked_by) + " (root cause)", "bold")
    deps = service.depends_on
    _line(text, _needs_title(deps, svc, status), _needs(deps, status, svc))
    needed_by = dependents.get(name, [])
    _line(text, f"Needed by ({len(needed_by)})", ", ".join(needed_by) or "nothing")
    _blast(text, name, svc, stack)
    issues = [i for i in svc.issues if not i.startswith("blocked by ")] if svc else []
    if issues:  # the blocked-by chain has its own line above; probe output is masked
        _line(text, "Issues", "; ".join(sanitize(i, 300) for i in issues))
    phase = stack.phases.get(service.phase, "")
    _line(text, "Where", f"{service.tier} tier, phase {service.phase} {phase}".rstrip())
    text.append("\n" + legend(), style="dim")
    return text


def _get(status: StackStatus | None, name: str) -> ServiceStatus | None:
    if status is None:
        return None
    try:
        return status.get(name)
    except KeyError:
        return None


def _state_line(svc: ServiceStatus | None) -> str:
    if svc is None:
        return "· no status yet"
    root = f" · {ROOT_CAUSE_TEXT}" if svc.root_cause else ""
    words = svc.label
    if words.lower() != svc.state.value.replace("-", " ") and svc.health != "completed":
        words += f" ({svc.state.value})"  # "Running (degraded)" says more than "Running"
    return f"{node_glyph(svc)} {words}{root}"


def _needs_title(
    deps: tuple[str, ...], svc: ServiceStatus | None, status: StackStatus | None
) -> str:
    if not deps or status is None:
        return "Needs"
    unmet = len(svc.unmet_deps) if svc is not None else 0
    return f"Needs ({len(deps) - unmet}/{len(deps)} met)"


def _needs(deps: tuple[str, ...], status: StackStatus | None, svc: ServiceStatus | None) -> str:
    """Each dependency with ✔ (operational), ✖ (unmet) or · (not known yet)."""
    if not deps:
        return "nothing"
    marks = []
    for dep in deps:
        dep_status = _get(status, dep)
        if svc is not None and dep in svc.unmet_deps:
            marks.append(f"✖ {dep}")
        elif dep_status is not None and (svc is not None or dep_status.state is State.OPERATIONAL):
            # known and not unmet: the edge's condition (started, healthy, completed) holds
            marks.append(f"✔ {dep}")
        else:
            marks.append(f"· {dep}")
    return ", ".join(marks)


def _blast(text: Text, name: str, svc: ServiceStatus | None, stack: Stack) -> None:
    """Failing: the dependents it takes down now. Healthy: what would go if it failed
    (the engine's `blast_radius`: each service once, in stack order)."""
    if svc is not None and svc.blast_radius:
        radius, title = list(svc.blast_radius), "Blast radius, now"
    else:
        radius, title = list(blast_radius(stack, name)), "Blast radius if it fails"
    _line(text, f"{title} ({len(radius)})", ", ".join(radius) or "nothing")


def _line(text: Text, title: str, body: str, style: str = "") -> None:
    text.append(f"{title}: ", style="bold")
    text.append(body + "\n", style=style)


def legend() -> str:
    """What the glyphs and lines mean (glyphs carry the state without colour: NO_COLOR)."""
    return (
        "● running  ▲ degraded/blocked  ✘ failing  ○ not started  ◆ root cause  · no status\n"
        "━ heavy lines: what it needs / what needs it; the path to the root cause is red"
    )


__all__ = ["GraphScreen", "describe_service", "match_service", "state_class"]
