"""Kubernetes actions in the console: scale, delete a pod, the previous container's logs,
and the probes run inside a pod; what the CLI's `scale`, `delete-pod`, `logs --previous`
and `probe-inside` do, the k9s way, from the matrix or a service's detail.

The writes are the CLI's own actions (`actions.kubernetes`) on an ActionScreen, so they are
journaled, refused read-only and, on a production context with writes allowed, confirmed
by typing the context's name. The questions asked first (how many replicas, which pod)
show the facts the answer depends on: replicas ready and desired, the autoscaler's range
and what it will do to a manual scale, each pod's state and restarts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.validation import Integer
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from actions.base import Action, ActionError, read_only_refusal
from actions.kubernetes import MAX_REPLICAS, DeletePod, ProbeInside, Scale, autoscaler_note
from console.masking import safe_str, safe_text, sanitize
from console.runtime.base import PodSummary, Workload
from console.runtime.capabilities import ClusterVerbs, ContainerChoice
from ui.screens.action import ActionScreen, open_action_screen

if TYPE_CHECKING:
    from ui.host import HostApp

# verb (the key's action parameter) -> what notices call it
NAMES = {"scale": "scale", "delete_pod": "delete pod", "previous_logs": "previous logs",
         "probe_inside": "probe inside", "container": "choose container"}


def on_cluster(app: HostApp) -> bool:
    runtime = app.ctx.runtime
    return isinstance(runtime, ClusterVerbs)


def open_cluster_action(app: HostApp, verb: str, service: str | None) -> None:
    """One entry point for the keys and the command palette; refusals are notices."""
    what = NAMES.get(verb, verb)
    if not on_cluster(app):
        runtime = app.ctx.runtime.name if app.ctx.runtime is not None else "no"
        app.notify(f"{what}: the {runtime} runtime cannot do this (Kubernetes only)",
                   severity="warning")
        return
    if service is None:
        app.notify(f"{what}: select a service row first", severity="warning")
        return
    LAUNCHERS[verb](app, service)


def selected_service(app: HostApp) -> str | None:
    """The service the operator is looking at: the detail's, or the matrix's cursor row."""
    from ui.screens.detail import DetailScreen
    from ui.screens.matrix import MatrixScreen

    screen = app.screen
    if isinstance(screen, DetailScreen):
        return screen.service
    if isinstance(screen, MatrixScreen):
        return screen.table.selected_service
    return None


def _refused(app: HostApp, what: str) -> bool:
    """Read-only: say so before asking anything (ActionScreen and execute() refuse too)."""
    ctx = app.ctx
    if not ctx.read_only:
        return False
    app.notify(f"{read_only_refusal(what, ctx.read_only_reason)}; nothing was done",
               severity="warning")
    return True


def _workload(app: HostApp, service: str, what: str) -> Workload | None:
    """The service's workload from the latest status, or a notice saying why there is none."""
    status = app.status
    if status is None:
        app.notify(f"{what}: no status yet, try again in a moment", severity="warning")
        return None
    try:
        container = status.get(service).container
    except KeyError:
        app.notify(f"{what}: unknown service {service!r}", severity="error")
        return None
    if container is None or container.workload is None:
        why = container.error if container is not None and container.error else \
            "no workload found in the cluster"
        app.notify(f"{what} {service}: {why}", severity="warning")
        return None
    return container.workload


def _run(app: HostApp, build: Callable[[], Action], details: list[str]) -> None:
    try:
        action = build()
    except ActionError as exc:
        app.notify(str(exc), severity="error")
        return
    open_action_screen(app, ActionScreen(action, details=details))


# --- the four actions -------------------------------------------------------------------


def open_scale(app: HostApp, service: str) -> None:
    if _refused(app, "scale") or (workload := _workload(app, service, "scale")) is None:
        return
    ctx = app.ctx
    assert ctx.runtime is not None
    runtime = ctx.runtime

    def chosen(replicas: int | None) -> None:
        if replicas is None:
            return
        note = autoscaler_note(workload.autoscaler, replicas)
        details = replica_lines(workload) + ([f"! {note}"] if note else [])
        _run(app, lambda: Scale(ctx.stack, runtime, service, replicas), details)

    app.push_screen(ScaleScreen(service, workload), chosen)


def open_delete_pod(app: HostApp, service: str) -> None:
    if _refused(app, "delete pod") or (workload := _workload(app, service, "delete pod")) is None:
        return
    if not workload.pods:
        app.notify(f"delete pod: {service} has no pods", severity="warning")
        return
    ctx = app.ctx
    assert ctx.runtime is not None
    runtime = ctx.runtime
    pods = {p.name: p for p in workload.pods}

    def chosen(pod: str | None) -> None:
        if pod is None:
            return
        details = [f"pod: {pod_line(pods[pod])}",
                   f"the controller of {workload.kind.lower()}/{workload.name} "
                   "creates a replacement"]
        _run(app, lambda: DeletePod(ctx.stack, runtime, service, pod), details)

    app.push_screen(PodPickerScreen(service, workload), chosen)


def open_previous_logs(app: HostApp, service: str) -> None:
    with_container(app, service, "previous logs",
                   lambda: app.open_screen("logs", services=[service], previous=True))


def open_probe_inside(app: HostApp, service: str) -> None:
    ctx = app.ctx
    assert ctx.runtime is not None
    runtime = ctx.runtime
    with_container(app, service, "probe inside",
                   lambda: _run(app, lambda: ProbeInside(ctx.stack, runtime, service), []))


def open_container_choice(app: HostApp, service: str) -> None:
    with_container(app, service, "container", lambda: None, always=True)


def with_container(app: HostApp, service: str, what: str, then: Callable[[], None],
                   always: bool = False) -> None:
    """Pods of several containers (a mesh sidecar, a log shipper): ask which one first, the
    default (annotation, else first) on top; the runtime keeps the choice for the
    service's logs, exec and probes. One container: straight on."""
    workload = _workload(app, service, what)
    if workload is None:
        return
    runtime = app.ctx.runtime
    if not isinstance(runtime, ContainerChoice) or (len(workload.containers) < 2
                                                    and not always):
        then()
        return
    current = runtime.chosen_containers.get(service, "")

    def chosen(container: str | None) -> None:
        if container is None:
            return
        runtime.choose_container(service, container)
        if always:
            app.notify(f"{service}: logs, exec and probes use container {container}")
        then()

    app.push_screen(ContainerPickerScreen(service, workload, current), chosen)


LAUNCHERS: dict[str, Callable[[HostApp, str], None]] = {
    "scale": open_scale,
    "delete_pod": open_delete_pod,
    "previous_logs": open_previous_logs,
    "probe_inside": open_probe_inside,
    "container": open_container_choice,
}


# --- texts ------------------------------------------------------------------------------


def replica_lines(w: Workload) -> list[str]:
    """`deployment/auth: 2/2 ready, 2 desired` and the autoscaler's range, if any."""
    lines = [f"{w.kind.lower()}/{w.name}: {w.ready}/{w.desired} ready, {w.desired} desired"]
    hpa = w.autoscaler
    if hpa is not None:
        metrics = f" · {', '.join(hpa.metrics)}" if hpa.metrics else ""
        lines.append(f"autoscaler {hpa.name}: {hpa.current} → {hpa.desired} replicas "
                     f"(min {hpa.min_replicas}, max {hpa.max_replicas}){metrics}")
    return lines


def pod_line(pod: PodSummary) -> str:
    """`configuration-c0 · CrashLoopBackOff · not ready · 9 restarts · last exit 1 Error`."""
    parts = [pod.name, pod.reason or pod.phase, "ready" if pod.ready else "not ready",
             f"{pod.restarts} restarts"]
    if pod.last_exit_code is not None:
        parts.append(f"last exit {pod.last_exit_code} {pod.last_reason}".rstrip())
    return sanitize(" · ".join(parts))


def worst_first(pods: tuple[PodSummary, ...]) -> list[PodSummary]:
    """The pod an operator most likely wants gone on top: not ready, then most restarts."""
    return sorted(pods, key=lambda p: (p.ready, -p.restarts, p.name))


# --- the questions ----------------------------------------------------------------------


class ScaleScreen(ModalScreen[int | None]):
    """How many replicas: the current count filled in, checked 0..MAX_REPLICAS as typed,
    with what the autoscaler will do to the number shown under it."""

    CSS_PATH = "kubernetes.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="scale.cancel")]

    def __init__(self, service: str, workload: Workload) -> None:
        super().__init__()
        self.service = service
        self.workload = workload

    def compose(self) -> ComposeResult:
        with Vertical(id="k8s-box"):
            yield Static(f"Scale {self.service}", id="k8s-question")
            yield Static(safe_str("\n".join(replica_lines(self.workload)), multiline=True),
                         id="k8s-facts", markup=False)
            yield Input(str(self.workload.desired), type="integer", id="scale-input",
                        placeholder=f"replicas, 0 to {MAX_REPLICAS}",
                        validators=[Integer(0, MAX_REPLICAS)])
            yield Static(id="k8s-note", markup=False)
            yield Static("enter  scale to this many replicas    esc  cancel", id="k8s-hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        self._explain(self.query_one(Input).value)

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        self._explain(event.value)

    def _explain(self, value: str) -> None:
        """The error, or what the autoscaler will do to this number, under the input."""
        replicas = self._valid(value)
        note = self.query_one("#k8s-note", Static)
        if replicas is None:
            note.update(f"replicas: a whole number from 0 to {MAX_REPLICAS}")
            note.set_classes("-error")
            return
        text = autoscaler_note(self.workload.autoscaler, replicas)
        if replicas == self.workload.desired:
            text = f"already {replicas} desired" + (f"; {text}" if text else "")
        note.update(safe_str(f"! {text}" if text else ""))  # markup=False: plain text
        note.set_classes("-warn" if text else "")

    @staticmethod
    def _valid(value: str) -> int | None:
        text = value.strip()
        if not text.isdigit():
            return None
        number = int(text)
        return number if number <= MAX_REPLICAS else None

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        replicas = self._valid(event.value)
        if replicas is not None:
            self.dismiss(replicas)

    def action_cancel(self) -> None:
        self.dismiss(None)


class PodPickerScreen(ModalScreen[str | None]):
    """Which pod to delete: every pod of the workload with its state, worst first."""

    CSS_PATH = "kubernetes.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="pods.cancel")]

    def __init__(self, service: str, workload: Workload) -> None:
        super().__init__()
        self.service = service
        self.workload = workload

    def compose(self) -> ComposeResult:
        w = self.workload
        with Vertical(id="k8s-box"):
            yield Static(f"Delete which pod of {self.service}?", id="k8s-question")
            yield Static(f"{w.kind.lower()}/{w.name}: {w.ready}/{w.desired} ready · its "
                         "controller replaces the pod deleted", id="k8s-facts", markup=False)
            yield OptionList(*(Option(safe_text(pod_line(p)), id=p.name)  # str: markup
                               for p in worst_first(w.pods)), id="pods-list")
            yield Static("enter  choose (asks before deleting)    esc  cancel", id="k8s-hint")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


def container_line(name: str, workload: Workload, current: str) -> str:
    """`auth · default (annotation)` / `istio-proxy · chosen`: why each is where it is."""
    notes = []
    if name == workload.default_container:
        annotated = workload.containers and name != workload.containers[0]
        notes.append("default (kubectl.kubernetes.io/default-container)" if annotated
                     else "default (first)")
    if name == current:
        notes.append("chosen")
    return sanitize(" · ".join([name, *notes]))


class ContainerPickerScreen(ModalScreen[str | None]):
    """Which container of the pods: logs, exec and probes go there (kubectl's -c)."""

    CSS_PATH = "kubernetes.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="containers.cancel")]

    def __init__(self, service: str, workload: Workload, current: str = "") -> None:
        super().__init__()
        self.service, self.workload, self.current = service, workload, current

    def ordered(self) -> list[str]:
        """The one in use first (chosen, else default), then the pod's order."""
        first = self.current or self.workload.default_container
        return sorted(self.workload.containers, key=lambda c: c != first)

    def compose(self) -> ComposeResult:
        w = self.workload
        with Vertical(id="k8s-box"):
            yield Static(f"Which container of {self.service}?", id="k8s-question")
            yield Static(f"{w.kind.lower()}/{w.name}: {len(w.containers)} containers per pod · "
                         "logs, exec and probes use the one chosen", id="k8s-facts",
                         markup=False)
            yield OptionList(*(Option(container_line(c, w, self.current), id=c)
                               for c in self.ordered()), id="pods-list")
            yield Static("enter  use this container    esc  cancel", id="k8s-hint")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
