"""One meaning per key across the console.

An operator who learnt `r` on the matrix (restart) must not refresh a list with it elsewhere,
nor restart a service when they meant to refresh. This walks every binding the console
declares (the App, each screen, each widget) and requires each key to mean one thing
wherever it is bound. The rules it allows are few and written here:

- `escape` goes back and `enter` opens or runs what is selected: what they act on depends
  on the screen by nature;
- `/` is find: filter a list, search a text, jump on the graph;
- digits are quick filters (log levels, workflow statuses), the same digit again shows all;
- a dialog's own answers (y/n, skip/abort) are printed in the dialog that takes them.

A meaning is the description up to its first " (" or ":", so "Save (Markdown)" is "Save"
and "Stop (cancel)" is "Stop".
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections import defaultdict

from textual.binding import Binding
from textual.dom import DOMNode
from textual.screen import ModalScreen

from ui import screens, widgets
from ui.app import VextrusApp

CONTEXTUAL = {"escape", "enter", "slash"}
DIALOG_ANSWERS = {"y", "n", "s", "a"}


def _declaring_classes() -> list[type[DOMNode]]:
    found: list[type[DOMNode]] = [VextrusApp]
    for package in (screens, widgets):
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if (cls.__module__ == module.__name__ and issubclass(cls, DOMNode)
                        and "BINDINGS" in cls.__dict__):
                    found.append(cls)
    return found


def meaning(key: str, description: str) -> str:
    if key.isdigit():
        return "quick filter"
    return description.split(" (")[0].split(":")[0].strip().lower()


def key_meanings() -> dict[str, dict[str, set[str]]]:
    """key -> meaning -> the classes that bind it so."""
    table: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for cls in _declaring_classes():
        for binding in cls.__dict__["BINDINGS"]:
            assert isinstance(binding, Binding), f"{cls.__name__}: bindings carry an id"
            for key in (k.strip() for k in binding.key.split(",")):
                if key in CONTEXTUAL:
                    continue
                if issubclass(cls, ModalScreen) and key in DIALOG_ANSWERS:
                    continue
                table[key][meaning(key, binding.description)].add(cls.__name__)
    return table


def test_every_key_means_one_thing_wherever_it_is_bound() -> None:
    clashes = {key: {m: sorted(where) for m, where in meanings.items()}
               for key, meanings in key_meanings().items() if len(meanings) > 1}
    assert clashes == {}


def test_the_keys_an_operator_learns_first_keep_their_meaning() -> None:
    """The clashes this replaced: r was restart and refresh, s sort/status/signal, p pause/
    page/phases, w workflows/wrap, c root cause/cancel, x scale/export, f follow/fix."""
    table = key_meanings()
    expected = {"r": "restart", "s": "sort", "p": "pause restarts", "w": "workflows",
                "c": "root cause", "x": "scale", "f": "follow", "l": "logs",
                "ctrl+r": "refresh", "ctrl+s": "save", "ctrl+k": "kill", "D": "stop"}
    assert {key: set(table[key]) for key in expected} == {k: {v} for k, v in expected.items()}
    # refresh and save are bound where there is something to refresh or save
    assert {"WorkflowsScreen", "WorkflowDetailScreen", "ChecklistScreen"} <= \
        table["ctrl+r"]["refresh"]
    assert {"LogsScreen", "ChecklistScreen", "TimelineScreen"} <= table["ctrl+s"]["save"]


def test_the_check_catches_a_clash() -> None:
    """The rule itself can fail: the old `r` on the workflow list is a second meaning."""
    table = key_meanings()
    table["r"][meaning("r", "Refresh")].add("WorkflowsScreen")
    assert len(table["r"]) == 2


async def test_the_bringup_diagnosis_answers_r_with_restart_and_enter_with_retry() -> None:
    """In the dialog a failed bring-up step opens, `r` restarts the service as it does on
    the matrix; the safe retry of the check is the default (enter)."""
    from actions.bringup import Diagnosis
    from tests.pilot_wait import settle
    from tests.ui_data import make_context
    from ui.factory import build_app
    from ui.screens.confirm import DiagnosisScreen

    app = build_app(make_context())
    answers: list[str] = []
    async with app.run_test(size=(100, 30)) as pilot:
        for key in ("r", "enter", "s", "escape"):
            diagnosis = Diagnosis("auth", "HTTP 503", 3, ("boom",), (), ())
            app.push_screen(DiagnosisScreen(diagnosis), answers.append)
            await settle(pilot, lambda: isinstance(app.screen, DiagnosisScreen), "the dialog")
            await pilot.press(key)
            await settle(pilot, lambda: not isinstance(app.screen, DiagnosisScreen), "closed")
    assert answers == ["restart", "retry", "skip", "abort"]


def test_j_and_k_move_in_every_list() -> None:
    """Where a list or a text scrolls, j/k move down/up (Pilot tests press them on the
    matrix, the checklist, the timeline, the logs, the describe view and the graph)."""
    table = key_meanings()
    lists = {"ServiceTable", "WorkflowTable", "LogView", "TimelineScreen", "ChecklistScreen",
             "ResourcesTable", "DescribeScreen", "DependencyGraph"}
    assert lists <= table["j"]["down"] and lists <= table["k"]["up"]


def test_service_verbs_come_from_one_table() -> None:
    """The matrix, the details screen and the palette name the same key for a verb."""
    from ui.screens.detail import DetailScreen
    from ui.screens.matrix import MatrixScreen
    from ui.verbs import VERBS, palette_verbs

    for screen, prefix in ((MatrixScreen, "matrix"), (DetailScreen, "detail")):
        for binding in screen.BINDINGS:
            assert isinstance(binding, Binding)
            verb = VERBS.get((binding.id or "").removeprefix(f"{prefix}."))
            if verb is not None:
                assert (binding.key, binding.action) == (verb.keys, verb.action), binding.id
    assert {v.id for v in palette_verbs()} <= {
        (b.id or "").removeprefix("matrix.") for b in MatrixScreen.BINDINGS
        if isinstance(b, Binding)}


async def test_every_palette_verb_does_what_its_key_does() -> None:
    """`details kafka` from the palette opens kafka's details, as enter on its row."""
    from tests.pilot_wait import settle
    from tests.ui_data import make_context
    from ui.factory import build_app
    from ui.screens.detail import DetailScreen
    from ui.screens.service_ops import palette_entries

    app = build_app(make_context())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: app.status is not None, "the first refresh")
        entries = {title: run for title, _, run in palette_entries(app)}
        assert "restart kafka" in entries and "shell kafka" in entries
        entries["details kafka"]()
        await settle(pilot, lambda: isinstance(app.screen, DetailScreen), "kafka's details")
        assert app.screen.service == "kafka"
        entries["logs kafka"]()
        await settle(pilot, lambda: type(app.screen).__name__ == "LogsScreen", "kafka's logs")
