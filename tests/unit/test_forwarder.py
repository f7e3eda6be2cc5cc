"""The built-in TCP forwarder on loopback: real sockets, real servers, no Docker.

The wrong-address fault: a service answers only on 127.0.0.2 while clients use 127.0.0.1.
A forwarder on 127.0.0.1 makes it reachable where clients look.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from console.forwarder import (
    ExecTarget,
    Forwarder,
    ForwarderError,
    ForwarderManager,
    TcpTarget,
    validate_listen_address,
    validate_port,
    validate_target_address,
)


def free_port(*hosts: str) -> int:
    """A port free on every given loopback address (bound and released at once)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind((hosts[0], 0))
            port = probe.getsockname()[1]
        if all(_bindable(h, port) for h in hosts):
            return port
    raise RuntimeError("no free port")


def _bindable(host: str, port: int) -> bool:
    """Whether nobody listens there (TIME_WAIT leftovers of closed connections are fine)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


async def http_server(host: str, port: int, body: bytes) -> asyncio.Server:
    """A tiny HTTP/1.0 server: reads the request head, answers `body`, closes."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, host, port)


async def http_get(host: str, port: int, path: str = "/health") -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return data


async def echo_until_eof_server(host: str, port: int) -> asyncio.Server:
    """Reads everything until the client half-closes, then answers and closes."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read()
        writer.write(b"got %d bytes:" % len(data) + data[:16])
        await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, host, port)


async def echo_server(host: str, port: int) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, host, port)


async def test_forwarder_makes_a_127_0_0_2_service_reachable_on_127_0_0_1():
    port = free_port("127.0.0.1", "127.0.0.2")
    server = await http_server("127.0.0.2", port, b"ok from 127.0.0.2")
    forwarder = Forwarder("127.0.0.1", port, TcpTarget("127.0.0.2", port))
    try:
        with pytest.raises(OSError):
            await http_get("127.0.0.1", port)  # the fault: nothing where clients look
        await forwarder.start()
        reply = await http_get("127.0.0.1", port)
        assert reply.startswith(b"HTTP/1.0 200 OK")
        assert reply.endswith(b"ok from 127.0.0.2")
        await asyncio.sleep(0.05)
        stats = forwarder.stats
        assert stats.connections_total == 1 and stats.connections_active == 0
        assert stats.bytes_in == len(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        assert stats.bytes_out == len(reply)
        assert stats.listen == f"127.0.0.1:{port}" and stats.target == f"127.0.0.2:{port}"
    finally:
        await forwarder.stop()
        server.close()


async def test_half_close_reaches_the_target_and_the_answer_comes_back():
    target_port, listen_port = free_port("127.0.0.2"), free_port("127.0.0.1")
    server = await echo_until_eof_server("127.0.0.2", target_port)
    forwarder = Forwarder("127.0.0.1", listen_port, TcpTarget("127.0.0.2", target_port))
    await forwarder.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", listen_port)
        writer.write(b"x" * 100_000)
        writer.write_eof()  # the server answers only after it sees our EOF
        answer = await asyncio.wait_for(reader.read(), 5)
        assert answer == b"got 100000 bytes:" + b"x" * 16
        writer.close()
    finally:
        await forwarder.stop()
        server.close()


async def test_many_concurrent_connections_each_get_their_own_bytes():
    target_port, listen_port = free_port("127.0.0.2"), free_port("127.0.0.1")
    server = await echo_server("127.0.0.2", target_port)
    forwarder = Forwarder("127.0.0.1", listen_port, TcpTarget("127.0.0.2", target_port))
    await forwarder.start()

    async def client(i: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", listen_port)
        payload = (b"%03d-" % i) * 5000
        writer.write(payload)
        await writer.drain()
        writer.write_eof()
        data = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        assert data == payload
        return data

    try:
        results = await asyncio.gather(*(client(i) for i in range(25)))
        await asyncio.sleep(0.05)
        total = sum(len(r) for r in results)
        assert forwarder.stats.connections_total == 25
        assert forwarder.stats.bytes_in == total == forwarder.stats.bytes_out
        assert forwarder.stats.errors == 0
    finally:
        await forwarder.stop()
        server.close()


async def test_stop_cuts_open_connections_and_frees_the_port():
    target_port, listen_port = free_port("127.0.0.2"), free_port("127.0.0.1")
    server = await echo_server("127.0.0.2", target_port)
    forwarder = Forwarder("127.0.0.1", listen_port, TcpTarget("127.0.0.2", target_port))
    await forwarder.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", listen_port)
    writer.write(b"ping")
    assert await asyncio.wait_for(reader.readexactly(4), 5) == b"ping"
    await asyncio.wait_for(forwarder.stop(), 5)  # an idle open connection must not block it
    assert await asyncio.wait_for(reader.read(), 5) == b""  # the client sees the end
    assert forwarder.stats.connections_active == 0 and not forwarder.stats.running
    assert _bindable("127.0.0.1", listen_port)
    writer.close()
    server.close()


async def test_a_dead_target_closes_the_client_and_is_counted():
    target_port, listen_port = free_port("127.0.0.2"), free_port("127.0.0.1")
    forwarder = Forwarder("127.0.0.1", listen_port, TcpTarget("127.0.0.2", target_port))
    await forwarder.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", listen_port)
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
        await asyncio.sleep(0.05)
        assert forwarder.stats.errors == 1
        assert forwarder.stats.last_error == f"target 127.0.0.2:{target_port}: connection refused"
    finally:
        await forwarder.stop()


async def test_a_taken_listen_port_is_reported_at_start():
    port = free_port("127.0.0.1")
    blocker = await asyncio.start_server(lambda r, w: None, "127.0.0.1", port)
    try:
        forwarder = Forwarder("127.0.0.1", port, TcpTarget("127.0.0.2", port))
        with pytest.raises(ForwarderError, match=rf"^cannot listen on 127\.0\.0\.1:{port}: "):
            await forwarder.start()
    finally:
        blocker.close()


async def test_target_answers_is_the_stale_check():
    port = free_port("127.0.0.2")
    assert not await TcpTarget("127.0.0.2", port).answers(1)
    server = await echo_server("127.0.0.2", port)
    try:
        assert await TcpTarget("127.0.0.2", port).answers(1)
    finally:
        server.close()


async def test_manager_runs_lists_and_stops_several():
    p1, p2, tp = free_port("127.0.0.1"), free_port("127.0.0.1"), free_port("127.0.0.2")
    server = await http_server("127.0.0.2", tp, b"hi")
    manager = ForwarderManager()
    try:
        await manager.add(Forwarder("127.0.0.1", p1, TcpTarget("127.0.0.2", tp), label="a"))
        await manager.add(Forwarder("127.0.0.1", p2, TcpTarget("127.0.0.2", tp), label="b"))
        with pytest.raises(ForwarderError, match="already listens there"):
            await manager.add(Forwarder("127.0.0.1", p1, TcpTarget("127.0.0.2", tp)))
        assert (await http_get("127.0.0.1", p2)).endswith(b"hi")
        await asyncio.sleep(0.05)
        listing = manager.list()
        assert [(s.listen, s.label, s.connections_total) for s in listing] == [
            (f"127.0.0.1:{p1}", "a", 0), (f"127.0.0.1:{p2}", "b", 1)]
        assert listing[1].line().startswith(f"127.0.0.1:{p2} -> 127.0.0.2:{tp}  connections 0 "
                                            "active / 1 total  bytes in ")
        assert await manager.stop("127.0.0.1", p1)
        assert not await manager.stop("127.0.0.1", p1)
        assert len(manager) == 1
    finally:
        await manager.stop_all()
        server.close()
    assert len(manager) == 0 and _bindable("127.0.0.1", p2)


# --- validation: one-line errors ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "listen port: 0 is out of range (1-65535)"),
        (65536, "listen port: 65536 is out of range (1-65535)"),
        (-1, "listen port: -1 is out of range (1-65535)"),
        ("http", "listen port: 'http' is not a port number"),
        (True, "listen port: True is not a port number"),
        (80.0, "listen port: 80.0 is not a port number"),
        (None, "listen port: None is not a port number"),
    ],
)
def test_invalid_ports_are_refused(value, message):
    with pytest.raises(ForwarderError) as err:
        validate_port(value, "listen port")
    assert str(err.value) == message


def test_valid_ports_pass():
    assert validate_port(1) == 1 and validate_port(65535) == 65535 and validate_port(" 80") == 80


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0.0.0.0", "listen address: 0.0.0.0 would expose the forwarder on every interface; "
                    "use a loopback address such as 127.0.0.1"),
        ("::", "listen address: :: would expose the forwarder on every interface; "
               "use a loopback address such as 127.0.0.1"),
        ("10.1.2.3", "listen address: 10.1.2.3 is not an address of this machine"),
        ("8.8.8.8", "listen address: 8.8.8.8 is not an address of this machine"),
        ("localhost", "listen address: 'localhost' is not an IP address"),
        ("127.0.0.1; rm -rf /", "listen address: '127.0.0.1; rm -rf /' is not an IP address"),
        ("", "listen address: '' is not an IP address"),
    ],
)
def test_invalid_listen_addresses_are_refused(value, message):
    with pytest.raises(ForwarderError) as err:
        validate_listen_address(value, local=("192.0.2.2",))
    assert str(err.value) == message
    assert "\n" not in str(err.value)


def test_loopback_and_own_addresses_may_listen():
    assert validate_listen_address("127.0.0.2", local=()) == "127.0.0.2"
    assert validate_listen_address("::1", local=()) == "::1"
    assert validate_listen_address("192.0.2.2", local=("192.0.2.2",)) == "192.0.2.2"


def test_forwarder_validates_on_construction():
    with pytest.raises(ForwarderError, match="listen port: 70000 is out of range"):
        Forwarder("127.0.0.1", 70000, TcpTarget("127.0.0.2", 80))
    with pytest.raises(ForwarderError, match=r"listen address: 0\.0\.0\.0 would expose"):
        Forwarder("0.0.0.0", 8080, TcpTarget("127.0.0.2", 80))
    with pytest.raises(ForwarderError, match=r"^target port: 0 is out of range \(1-65535\)$"):
        TcpTarget("127.0.0.2", 0)
    with pytest.raises(ForwarderError, match=r"^target address: 0\.0\.0\.0 cannot be"):
        TcpTarget("0.0.0.0", 80)
    with pytest.raises(ForwarderError, match=r"^target address: 'db\.internal' is not an IP"):
        validate_target_address("db.internal")
    with pytest.raises(ForwarderError, match="is not a container name or id"):
        ExecTarget("--privileged", 80)


def test_exec_target_is_an_argv_list_never_a_shell():
    target = ExecTarget("abc123; reboot", 3001, label="auth")
    assert target.argv() == ["docker", "exec", "-i", "abc123; reboot", "nc", "127.0.0.1", "3001"]
    assert target.describe() == "exec auth -> 127.0.0.1:3001"
