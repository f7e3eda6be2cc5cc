"""A loopback HTTP/1.1 server with a known delay and error rate, to measure the load generator.

Every request is answered after `delay` seconds (each on its own timer, so concurrent
requests do not queue behind each other: the true latency is the delay), or after a delay
spread evenly over `delay..delay+spread` (known percentiles); every
`error_every`-th request gets a 500. Keep-alive, Content-Length bodies. Runs in a thread of
the test process (`serving()`) or as its own process for benchmarks:
`python -m tests.loadserver --port 24180 --delay-ms 20`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import threading
from collections.abc import Iterator

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Type: text/plain\r\n\r\nok\n"
ERROR = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\nboom\n"


class _Handler(asyncio.Protocol):
    def __init__(self, server: LoadServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buf = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while (end := self.buf.find(b"\r\n\r\n")) >= 0:
            self.buf = self.buf[end + 4 :]
            self.server.count += 1
            n = self.server.count
            reply = ERROR if self.server.error_every and n % self.server.error_every == 0 else OK
            delay = self.server.delay_of(n)
            if delay > 0:
                asyncio.get_running_loop().call_later(delay, self._write, reply)
            else:
                self._write(reply)

    def _write(self, reply: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(reply)


class LoadServer:
    """Serves on host:port with the given delay (seconds) and one 500 every `error_every`."""

    def __init__(self, host: str, port: int, delay: float = 0.0, error_every: int = 0,
                 spread: float = 0.0) -> None:
        self.host, self.port, self.delay, self.error_every = host, port, delay, error_every
        self.spread = spread
        self.count = 0

    def delay_of(self, n: int) -> float:
        """`delay`, plus with a spread a uniform share of it: request n gets
        delay + spread * ((37 n) mod 100) / 100, so every 100 requests cover 0-99% once, in
        an order unrelated to time. The true p-th percentile is delay + spread * p / 100."""
        if not self.spread:
            return self.delay
        return self.delay + self.spread * ((37 * n) % 100) / 100

    async def serve(self, ready: threading.Event | None = None,
                    stop: asyncio.Event | None = None) -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _Handler(self), self.host, self.port,
                                          reuse_address=True, backlog=1024)
        if ready is not None:
            ready.set()
        async with server:
            await (stop or asyncio.Event()).wait()


@contextlib.contextmanager
def serving(port: int, delay: float = 0.0, error_every: int = 0,
            host: str = "127.0.0.1") -> Iterator[LoadServer]:
    """The server in a background thread with its own event loop, for one test."""
    server = LoadServer(host, port, delay, error_every)
    ready = threading.Event()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def run() -> None:
        loop.run_until_complete(server.serve(ready, stop))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    if not ready.wait(10):
        raise AssertionError(f"load server did not start on {host}:{port}")
    try:
        yield server
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--error-every", type=int, default=0)
    parser.add_argument("--spread-ms", type=float, default=0.0,
                        help="delays spread uniformly over delay..delay+spread")
    args = parser.parse_args()
    server = LoadServer(args.host, args.port, args.delay_ms / 1000, args.error_every,
                        args.spread_ms / 1000)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(server.serve())


if __name__ == "__main__":
    main()
