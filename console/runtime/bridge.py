"""The one way a runtime's thread hands something to the event loop.

docker-py's streams, the Kubernetes watches and the local runtime's reaper thread all read
in threads (their clients block) and deliver to asyncio queues. The handoff is the same
everywhere: `call_soon_threadsafe`, and a closed loop (the console is shutting down) means
nobody listens any more: the item is dropped and the caller told, never an exception in a
daemon thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


def post_to_loop(loop: asyncio.AbstractEventLoop, deliver: Callable[..., Any],
                 *args: Any) -> bool:
    """Run `deliver(*args)` on `loop` soon; False when the loop is closed (dropped)."""
    try:
        loop.call_soon_threadsafe(deliver, *args)
    except RuntimeError:  # the loop is closed: nobody is listening any more
        return False
    return True
