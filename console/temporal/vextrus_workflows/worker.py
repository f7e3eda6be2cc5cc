"""Run a worker for the Vextrus workflows until interrupted.

    python -m console.temporal.vextrus_workflows.worker \
        --address 127.0.0.1:7233 --namespace vextrus --task-queue vextrus-workflows

Prints `worker ready: ADDRESS NAMESPACE TASK_QUEUE` on stdout once it polls (a parent
process can wait for that line), and exits 0 on SIGINT/SIGTERM, 1 if it cannot connect.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from console.temporal.vextrus_workflows import TASK_QUEUE

if TYPE_CHECKING:
    from temporalio.client import Client
    from temporalio.worker import Worker


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m console.temporal.vextrus_workflows.worker",
                                     description="Worker for the Vextrus workflows.")
    parser.add_argument("--address", default="127.0.0.1:7233", help="host:port of Temporal")
    parser.add_argument("--namespace", default="vextrus")
    parser.add_argument("--task-queue", default=TASK_QUEUE)
    return parser


def make_worker(client: Client, task_queue: str = TASK_QUEUE) -> Worker:
    """A worker for every Vextrus workflow and activity (the caller runs it)."""
    from temporalio.worker import Worker

    from console.temporal.vextrus_workflows import activities, workflows

    return Worker(client, task_queue=task_queue, workflows=workflows.ALL,
                  activities=activities.ALL)


async def serve(address: str, namespace: str, task_queue: str,
                stop: asyncio.Event | None = None) -> None:
    """Connect, poll until `stop` is set (or forever), then shut the worker down cleanly."""
    from temporalio.client import Client

    client = await Client.connect(address, namespace=namespace)
    stop = stop or asyncio.Event()
    async with make_worker(client, task_queue):
        print(f"worker ready: {address} {namespace} {task_queue}", flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(args.address, args.namespace, args.task_queue, stop)

    try:
        asyncio.run(run())
    except RuntimeError as exc:  # temporalio's connect failure
        print(f"worker: cannot connect to {args.address}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
