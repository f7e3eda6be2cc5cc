"""Which fault each drill kind is: `make_drill` builds the drill the CLI and the screen run.

Apart from the engine so the engine never imports the faults (they import it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actions.base import ActionError
from actions.drill import faults as drill_faults
from actions.drill import resources as drill_resources
from actions.drill.engine import KINDS, Drill, DrillOptions, Fault
from console.model import Stack

if TYPE_CHECKING:
    from console.runtime.base import Runtime


def make_drill(
    kind: str,
    stack: Stack,
    runtime: Runtime | None,
    service: str,
    options: DrillOptions | None = None,
    **kwargs: Any,
) -> Drill:
    """The drill of a kind on a service; ActionError (one line) for anything wrong."""
    if service not in stack:
        raise ActionError(f"drill: unknown service {service!r}")
    options = (options or DrillOptions()).validate()
    fault: Fault
    if kind == "kill":
        fault = drill_faults.KillFault(service, options, runtime)
    elif kind == "latency":
        fault = drill_faults.LatencyFault(service, options, stack)
    elif kind == "oom":
        fault = drill_resources.OomFault(service, options, runtime, stack.project)
    elif kind == "disk":
        fault = drill_resources.DiskFault(service, options, runtime)
    else:
        raise ActionError(f"drill: unknown kind {kind!r} (choose from {', '.join(KINDS)})")
    return Drill(fault, stack, runtime, options=options, **kwargs)
