"""`portproxy diagnose | fix`: classification rules, /proc reading, plans, CLI, and the real
faults on loopback (and in Docker, for the container cases).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import sys
from pathlib import Path

import pytest

from actions.base import CancelToken, ReadOnlyRefused, execute
from actions.portproxy.diagnose import (
    Finding,
    Owner,
    PortFacts,
    PortSpec,
    ProbeSettings,
    classify,
    decode_address,
    judge_inside,
    parse_proc_net_tcp,
    port_specs,
    read_snapshot,
)
from actions.portproxy.fix import (
    ForwarderFix,
    NetshApply,
    PortProxyDiagnose,
    plan_forwards,
    plan_script,
    render_table,
)
from actions.portproxy.netsh import ProxyRule, render_script
from console.forwarder import ExecTarget, ForwarderManager, TcpTarget
from console.model import HealthCheck, Service, Stack
from console.runtime.base import ContainerState
from tests.conftest import require
from tests.fixtures_services import free_port as any_free_port

CID = "3f4e5d6c7b8a" + "0" * 52
ALL_LOOPBACK = ("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4")


def free_port(*hosts: str) -> int:
    """A port nobody listens on at any of the given loopback addresses, below the kernel's
    ephemeral range (tests.fixtures_services.free_port says why)."""
    for _ in range(200):
        port = any_free_port()
        if all(_bindable(h, port) for h in hosts):
            return port
    raise RuntimeError("no free port")


def _bindable(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


async def http_server(host: str, port: int, body: bytes) -> asyncio.Server:
    """A tiny HTTP/1.0 server bound to one address: reads the head, answers, closes."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:  # a bare connect (a probe): nothing to answer
            writer.close()
            return
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
AUTH = PortSpec("auth", 3001, "127.0.0.1", "/health")


def running(**kw) -> ContainerState:
    return ContainerState(**{"service": "auth", "present": True, "container_id": CID,
                             "state": "running", **kw})


def python_owner(pid: int = 4242, cgroup: str = "0::/user.slice") -> Owner:
    return Owner(pid, "python3", cgroup, ("python3", "-m", "http.server"))


# --- which ports -----------------------------------------------------------------------------


def test_port_specs_take_address_and_path_from_host_checks():
    svc = Service(
        "auth", ports=(3001, 9229),
        checks=(HealthCheck("tcp", port=3001),
                HealthCheck("http", port=3001, host="127.0.0.2", path="/api/v1/health"),
                HealthCheck("http", port=3001, path="/health", where="inside"),
                HealthCheck("exec", command=("true",))),
    )
    pg = Service("postgres", ports=(5432,), checks=(HealthCheck("postgres", port=5432),))
    stack = Stack("t", (svc, pg))
    assert port_specs(stack) == [
        PortSpec("auth", 3001, "127.0.0.2", "/api/v1/health"),
        PortSpec("auth", 9229, "127.0.0.1", None),
        PortSpec("postgres", 5432, "127.0.0.1", None),
    ]
    assert [s.service for s in port_specs(stack, only="postgres")] == ["postgres"]


# --- /proc -----------------------------------------------------------------------------------

PROC_TCP_X86 = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0BB9 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 81234 1 0 100 0 0 10 0
   1: 0200007F:0BBA 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 81235 1 0 100 0 0 10 0
   2: 00000000:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 7001 1 0 100 0 0 10 0
   3: 0100007F:0BB9 0100007F:D4C2 01 00000000:00000000 00:00000000 00000000  1000        0 81299 1 0 20 4 30 10 -1
"""  # noqa: E501
PROC_TCP6_X86 = """\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 23456 1 0 100 0 0 10 0
   1: 00000000000000000000000001000000:0FA0 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 23457 1 0 100 0 0 10 0
   2: 0000000000000000FFFF00000300007F:0BBB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 23458 1 0 100 0 0 10 0
"""  # noqa: E501

ADDRESS_WORDS = re.compile(r"\b((?:[0-9A-F]{8})+):([0-9A-F]{4})\b")


def in_host_order(sample: str) -> str:
    """The samples as this host's /proc would write them: x86 writes each 32-bit word of an
    address little-endian, a big-endian host the other way round (the port is always
    big-endian). On x86 the samples are unchanged; nowhere is the test skipped."""
    if sys.byteorder == "little":
        return sample

    def swap(match: re.Match[str]) -> str:
        words = re.findall("........", match.group(1))
        return "".join(w[6:8] + w[4:6] + w[2:4] + w[0:2] for w in words) + ":" + match.group(2)

    return ADDRESS_WORDS.sub(swap, sample)


PROC_TCP = in_host_order(PROC_TCP_X86)
PROC_TCP6 = in_host_order(PROC_TCP6_X86)


def test_proc_net_tcp_listeners_are_decoded():
    rows = [(item.address, item.port, item.inode) for item in parse_proc_net_tcp(PROC_TCP)]
    assert rows == [("127.0.0.1", 3001, 81234), ("127.0.0.2", 3002, 81235),
                    ("0.0.0.0", 5432, 7001)]  # the ESTABLISHED row is not a listener
    rows6 = [(item.address, item.port) for item in parse_proc_net_tcp(PROC_TCP6)]
    assert rows6 == [("::", 8080), ("::1", 4000), ("127.0.0.3", 3003)]
    assert decode_address(in_host_order("0100007F:0000").split(":")[0]) == "127.0.0.1"


async def test_the_real_proc_names_this_process_as_the_listener():
    port = free_port("127.0.0.1")
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", port)
    try:
        snap = await asyncio.to_thread(read_snapshot, [port])
    finally:
        server.close()
    # Linux is where the console diagnoses ports from /proc: missing there, it fails in CI.
    require(snap.available, "no /proc/net/tcp here")
    listeners = snap.on_port(port)
    assert [item.address for item in listeners] == ["127.0.0.1"]
    owners = snap.owners_of(listeners)
    assert [o.pid for o in owners] == [os.getpid()]
    # The local runtime names a service's "container" by its process group.
    assert owners[0].pgid == os.getpgrp()
    assert owners[0].in_container(f"pgid:{os.getpgrp()}")
    assert not owners[0].in_container(f"pgid:{os.getpgrp() + 1}")


def test_a_fake_proc_tree_is_read_the_same_way(tmp_path: Path):
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "tcp").write_text(PROC_TCP)
    proc = tmp_path / "777"
    (proc / "fd").mkdir(parents=True)
    os.symlink("socket:[81234]", proc / "fd" / "5")
    os.symlink("/dev/null", proc / "fd" / "0")
    (proc / "comm").write_text("node\n")
    (proc / "cgroup").write_text(f"0::/docker/{CID}\n")
    (proc / "cmdline").write_text("node\0dist/main.js\0")
    snap = read_snapshot([3001], root=tmp_path)
    owners = snap.owners_of(snap.on_port(3001))
    assert owners == [Owner(777, "node", f"0::/docker/{CID}\n", ("node", "dist/main.js"))]
    assert owners[0].in_container(CID) and not owners[0].in_container("other")
    assert read_snapshot([3001], root=tmp_path / "missing").available is False


# --- inside probe output --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "output", "verdict"),
    [
        (0, '{"status":"ok"}', (True, 'answers inside: {"status":"ok"}')),
        (1, "wget: can't connect to remote host (127.0.0.1): Connection refused",
         (False, "connection refused inside")),
        (8, "wget: server returned error: HTTP/1.1 503 Service Unavailable",
         (True, "answers inside: server returned error: HTTP/1.1 503 Service Unavailable")),
        (126, 'OCI runtime exec failed: exec failed: unable to start container process: exec: '
              '"wget": executable file not found in $PATH: unknown',
         (None, "missing")),
        (139, "", (None, "wget ended with exit code 139")),
    ],
)
def test_inside_probe_output_is_read_as_listening_or_not(code, output, verdict):
    assert judge_inside(code, output) == verdict


# --- classification on plain data ------------------------------------------------------------


def test_ok_when_the_host_reaches_the_service():
    f = classify(PortFacts(AUTH, running(), host_ok=True))
    assert (f.status, f.detail, f.container_id) == ("ok", "answers on 127.0.0.1:3001", CID)


def test_ok_when_the_listener_is_in_the_container_or_docker_publishes_it():
    mine = Owner(99, "node", f"0::/docker/{CID}")
    assert classify(PortFacts(AUTH, running(), True, owners=(mine,))).status == "ok"
    proxy = Owner(98, "docker-proxy", "0::/system.slice/docker.service")
    assert classify(PortFacts(AUTH, running(), True, owners=(proxy,))).status == "ok"
    fwd = Owner(97, "vextrus-console", "", ("vextrus-console", "portproxy", "fix", "--yes"))
    found = classify(PortFacts(AUTH, running(state="exited"), True, owners=(fwd,)))
    assert (found.status, found.detail) == ("ok", "answers via vextrus forwarder (pid 97 "
                                                  "(vextrus-console))")


def test_forwarding_broken_when_only_inside_answers():
    f = classify(PortFacts(AUTH, running(), False, "connection refused", True,
                           'answers inside: {"status":"ok"}'))
    assert f.status == "forwarding broken"
    assert f.detail == ('answers inside: {"status":"ok"}; host 127.0.0.1:3001: '
                        "connection refused")


def test_service_down_says_why():
    exited = running(state="exited", exit_code=137)
    assert classify(PortFacts(AUTH, exited, False, "connection refused")).detail == (
        "host 127.0.0.1:3001: connection refused; container exited 137")
    missing = ContainerState("auth")
    assert classify(PortFacts(AUTH, missing, False, "connection refused")).detail.endswith(
        "; no container")
    inside = classify(PortFacts(AUTH, running(), False, "connection refused", False,
                                "connection refused inside"))
    assert (inside.status, inside.detail) == (
        "service down", "host 127.0.0.1:3001: connection refused; connection refused inside")


def test_port_taken_when_the_container_is_not_running_but_the_port_answers():
    f = classify(PortFacts(AUTH, running(state="exited"), True, owners=(python_owner(),)))
    assert f.status == "port taken by another process"
    assert f.detail == "127.0.0.1:3001 answers, but auth is exited; pid 4242 (python3)"
    assert f.owner == "pid 4242 (python3)"
    unseen = classify(PortFacts(AUTH, ContainerState("auth"), True))
    assert unseen.detail == "127.0.0.1:3001 answers, but auth is not created; listener not visible"


def test_port_taken_when_the_listener_is_outside_the_running_container():
    f = classify(PortFacts(AUTH, running(), True, owners=(python_owner(),)))
    assert f.status == "port taken by another process"
    assert f.detail == "listener pid 4242 (python3) is not auth's container"


def test_no_runtime_means_no_accusation():
    assert classify(PortFacts(AUTH, None, True, owners=(python_owner(),))).status == "ok"


def test_wrong_address_names_where_it_answers():
    f = classify(PortFacts(AUTH, running(), False, "connection refused",
                           other_addresses=("127.0.0.2",)))
    assert (f.status, f.actual_address) == ("wrong address", "127.0.0.2")
    assert f.detail == "silent on 127.0.0.1:3001, answers on 127.0.0.2:3001"


# --- plans from findings ----------------------------------------------------------------------


def finding(status, service="auth", port=3001, **kw) -> Finding:
    return Finding(service, port, status, f"127.0.0.1:{port}", "d", **kw)


FINDINGS = [
    finding("ok", "postgres", 5432),
    finding("forwarding broken", container_id=CID),
    finding("wrong address", "master-data", 3002, actual_address="127.0.0.2"),
    finding("service down", "configuration", 3004),
    finding("port taken by another process", "audit", 3009, owner="pid 7 (nginx)"),
    finding("stale rule", "crm", 3013,
            rule=ProxyRule("0.0.0.0", 3013, "172.29.96.9", 3013)),
]


def test_forwarders_are_planned_only_for_what_a_forwarder_fixes():
    planned, notes = plan_forwards(FINDINGS, docker_host="unix:///run/docker.sock")
    assert [(p.service, p.describe()) for p in planned] == [
        ("auth", "127.0.0.1:3001 -> exec auth -> 127.0.0.1:3001"),
        ("master-data", "127.0.0.1:3002 -> 127.0.0.2:3002"),
    ]
    assert isinstance(planned[0].target, ExecTarget)
    assert planned[0].target.argv() == ["docker", "exec", "-i", CID, "nc", "127.0.0.1", "3001"]
    assert isinstance(planned[1].target, TcpTarget)
    assert [str(n) for n in notes] == [
        "configuration 3004: service down: start it first "
        "(vextrus-console bringup --only configuration)",
        "audit 3009: port taken by another process: free the port (pid 7 (nginx)) or move "
        "audit to another port",
        "crm 3013: stale rule: remove the rule (netsh 0.0.0.0:3013 -> 172.29.96.9:3013)",
    ]
    planned, notes = plan_forwards(FINDINGS, exec_supported=False, only="auth")
    assert planned == [] and [str(n) for n in notes] == [
        "auth 3001: forwarding broken: forwarding into the container needs the docker runtime"]


def test_script_for_findings_adds_deletes_and_explains():
    existing = [ProxyRule("127.0.0.1", 3002, "127.0.0.7", 3002),
                ProxyRule("0.0.0.0", 3013, "172.29.96.9", 3013)]
    plan = plan_script(FINDINGS, existing, connect_address="172.29.112.5")
    text = render_script(plan)
    body = [ln for ln in text.splitlines() if ln.startswith(("netsh", "# configuration",
                                                             "# audit", "# crm"))]
    assert body == [
        "# configuration 3004: service down: start it first (vextrus-console bringup --only "
        "configuration)",
        "# audit 3009: port taken by another process: free the port (pid 7 (nginx)) or move "
        "audit to another port",
        "netsh interface portproxy delete v4tov4 listenport=3013 listenaddress=0.0.0.0",
        "netsh interface portproxy delete v4tov4 listenport=3002 listenaddress=127.0.0.1",
        "netsh interface portproxy add v4tov4 listenport=3001 listenaddress=127.0.0.1 "
        "connectport=3001 connectaddress=172.29.112.5",
        "netsh interface portproxy add v4tov4 listenport=3002 listenaddress=127.0.0.1 "
        "connectport=3002 connectaddress=127.0.0.2",
        "netsh interface portproxy show v4tov4",
    ]
    exposed = render_script(plan_script(FINDINGS, (), "172.29.112.5", listen_address="0.0.0.0"))
    assert ("    New-NetFirewallRule -DisplayName 'Vextrus auth 3001' -Direction Inbound "
            "-Protocol TCP -LocalPort 3001 -Action Allow | Out-Null") in exposed.splitlines()
    unknown = plan_script(FINDINGS[:2], (), connect_address=None)
    assert unknown.add == () and unknown.notes == (
        "auth 3001: forwarding broken, but the current address is unknown: "
        "pass --connect-address",)


def test_table_has_one_row_per_finding():
    table = render_table(FINDINGS[1:2]).splitlines()
    assert table[0] == "SERVICE   PORT  STATUS                         DETAIL"
    assert table[1] == "auth      3001  forwarding broken              d"


async def test_applying_netsh_is_refused_off_windows_and_without_elevation():
    assert NetshApply("x", "linux").refusal() == (
        "portproxy fix --apply: netsh rules can only be applied on Windows itself (this is "
        "linux); run the printed script in an elevated PowerShell")
    assert "not elevated" in (NetshApply("x", "windows", is_admin=lambda: False).refusal() or "")
    with pytest.raises(Exception, match="only be applied on Windows"):
        async for _ in execute(NetshApply("x", "wsl"), CancelToken()):
            pass


# --- on loopback, for real ---------------------------------------------------------------------


def loopback_stack(ports: dict[str, int]) -> Stack:
    return Stack("lo", tuple(
        Service(name, ports=(port,), checks=(HealthCheck("http", port=port, path="/health"),))
        for name, port in ports.items()))


async def run_diagnose(action: PortProxyDiagnose) -> list:
    return [event async for event in execute(action, CancelToken())]


async def test_diagnose_on_loopback_ok_wrong_address_down_and_stale_rules():
    ok_port, wrong_port, down_port = (free_port(*ALL_LOOPBACK) for _ in range(3))
    live = await http_server("127.0.0.1", ok_port, b"ok")
    elsewhere = await http_server("127.0.0.2", wrong_port, b"ok")
    stack = loopback_stack({"a": ok_port, "b": wrong_port, "c": down_port})
    rules = [ProxyRule("0.0.0.0", down_port, "127.0.0.1", down_port),
             ProxyRule("0.0.0.0", ok_port, "127.0.0.1", ok_port)]
    action = PortProxyDiagnose(stack, None, rules, settings=ProbeSettings(timeout=0.5))
    try:
        events = await run_diagnose(action)
    finally:
        live.close()
        elsewhere.close()
    got = [(f.service, f.port, f.status) for f in action.findings]
    assert got == [("a", ok_port, "ok"), ("b", wrong_port, "wrong address"),
                   ("c", down_port, "service down"), ("c", down_port, "stale rule"),
                   ("a", ok_port, "ok")]
    assert action.findings[1].actual_address == "127.0.0.2"
    assert action.findings[2].detail == (f"host 127.0.0.1:{down_port}: connection refused; "
                                         "no runtime to look inside")
    # What a port fix acts on comes first; service down and ok after (at 80x24 the
    # actionable lines must not scroll behind the rest).
    assert [e.data.get("status") for e in events[1:-1]] == [
        "wrong address", "stale rule", "service down", "ok", "ok"]
    assert [e.kind for e in events] == ["started", "failed", "failed", "failed", "ok", "ok",
                                        "done"]
    assert events[-1].message == "2 ok, 1 service down, 1 wrong address, 1 stale rule"
    assert events[1].line() == (f"✗ b:{wrong_port}: wrong address: silent on 127.0.0.1:"
                                f"{wrong_port}, answers on 127.0.0.2:{wrong_port}")


async def test_fix_forwards_the_wrong_address_and_diagnose_then_says_ok():
    port = free_port(*ALL_LOOPBACK)
    server = await http_server("127.0.0.2", port, b"healthy")
    stack = loopback_stack({"b": port})
    manager = ForwarderManager()
    try:
        diagnose = PortProxyDiagnose(stack, None, settings=ProbeSettings(timeout=0.5))
        await run_diagnose(diagnose)
        fix = ForwarderFix(diagnose.findings, manager)
        events = [e async for e in execute(fix, CancelToken())]
        assert [e.line() for e in events] == [
            f"✓ b:{port}: forwarding 127.0.0.1:{port} -> 127.0.0.2:{port}",
            "■ finished: ok · 1 forwarder(s) running"]
        assert (await http_get("127.0.0.1", port)).endswith(b"healthy")
        again = PortProxyDiagnose(stack, None, forwarders=manager,
                                  settings=ProbeSettings(timeout=0.5))
        await run_diagnose(again)
        assert [(f.status, f.detail) for f in again.findings] == [
            ("ok", f"answers via forwarder -> 127.0.0.2:{port}"),
            ("ok", f"forwarder 127.0.0.1:{port} -> 127.0.0.2:{port}: target answers")]
        server.close()
        await server.wait_closed()
        stale = PortProxyDiagnose(stack, None, forwarders=manager,
                                  settings=ProbeSettings(timeout=0.5))
        await run_diagnose(stale)
        assert stale.findings[-1].status == "stale rule"
    finally:
        await manager.stop_all()
        server.close()


async def test_fix_is_refused_in_read_only_mode_before_anything_starts():
    port = free_port("127.0.0.1")
    manager = ForwarderManager()
    fix = ForwarderFix([finding("wrong address", port=port, actual_address="127.0.0.2")],
                       manager)
    with pytest.raises(ReadOnlyRefused, match=r"^portproxy fix: refused in read-only mode$"):
        async for _ in execute(fix, CancelToken(), read_only=True):
            pass
    assert manager.list() == []
    # diagnose reads only: allowed in read-only mode
    diagnose = PortProxyDiagnose(loopback_stack({"x": port}), None,
                                 settings=ProbeSettings(timeout=0.2))
    events = [e async for e in execute(diagnose, CancelToken(), read_only=True)]
    assert events[-1].kind == "done"


# --- the CLI ------------------------------------------------------------------------------------


def cli_args(*argv: str) -> argparse.Namespace:
    from cli.common import add_common
    from cli.portproxy import add_parser

    parser = argparse.ArgumentParser(prog="vextrus-console")
    add_common(parser)
    sub = parser.add_subparsers(dest="command")
    add_parser(sub, add_common)
    return parser.parse_args(argv)


def cli_context(stack: Stack, read_only: bool = False, runtime=None):
    from console.factory import AppContext

    return AppContext(stack=stack, runtime=runtime, monitor=None, journal=None,  # type: ignore[arg-type]
                      read_only=read_only)


def test_cli_parses_global_options_after_the_action():
    args = cli_args("portproxy", "fix", "--dry-run", "--service", "auth", "--read-only", "--yes")
    assert (args.command, args.portproxy_command, args.service, args.read_only, args.yes) == (
        "portproxy", "fix", "auth", True, True)
    with pytest.raises(SystemExit):
        cli_args("portproxy", "diagnose", "--timeout", "0")


def test_cli_diagnose_json_is_stable(capsys):
    from cli.portproxy import run

    port = free_port(*ALL_LOOPBACK)
    code = run(cli_args("portproxy", "diagnose", "--json", "--timeout", "0.3"),
               cli_context(loopback_stack({"c": port})))
    out = capsys.readouterr().out
    doc = json.loads(out)
    assert code == 1
    assert doc["ok"] is False and doc["stack"] == "lo"
    assert doc["summary"]["service down"] == 1
    assert doc["findings"][0] == {
        "service": "c", "port": port, "status": "service down",
        "expected": f"127.0.0.1:{port}",
        "detail": f"host 127.0.0.1:{port}: connection refused; no runtime to look inside",
        "host_ok": False, "inside_ok": None, "actual_address": None, "owner": None,
        "container_id": None, "rule": None}


def test_cli_fix_in_read_only_mode_is_refused(capsys):
    from cli.portproxy import run

    port = free_port(*ALL_LOOPBACK)

    async def serve_and_fix() -> int:
        server = await http_server("127.0.0.2", port, b"x")
        try:
            return await asyncio.to_thread(
                run, cli_args("portproxy", "fix", "--yes", "--forward", "--timeout", "0.3"),
                cli_context(loopback_stack({"b": port}), read_only=True))
        finally:
            server.close()

    assert asyncio.run(serve_and_fix()) == 2
    captured = capsys.readouterr()
    assert f"forward 127.0.0.1:{port} -> 127.0.0.2:{port}" in captured.out
    assert captured.err.strip() == "vextrus-console: portproxy fix: refused in read-only mode"


def test_cli_fix_forwards_in_the_foreground_for_the_duration(capsys):
    from cli.portproxy import run

    port = free_port(*ALL_LOOPBACK)

    async def scenario() -> tuple[int, bytes]:
        server = await http_server("127.0.0.2", port, b"through the forwarder")
        try:
            fix = asyncio.ensure_future(asyncio.to_thread(
                run, cli_args("portproxy", "fix", "--yes", "--forward", "--duration", "1.5",
                              "--timeout", "0.3"),
                cli_context(loopback_stack({"b": port}))))
            reply = b""
            for _ in range(50):
                await asyncio.sleep(0.05)
                try:
                    reply = await http_get("127.0.0.1", port)
                    break
                except OSError:
                    continue
            return await fix, reply
        finally:
            server.close()

    code, reply = asyncio.run(scenario())
    out = capsys.readouterr().out
    assert code == 0
    assert reply.endswith(b"through the forwarder")
    assert f"forwarding 127.0.0.1:{port} -> 127.0.0.2:{port}  (b)" in out
    assert f"stopped 127.0.0.1:{port} -> 127.0.0.2:{port}  connections 0 active / 1 total" in out


def test_cli_script_prints_powershell_for_the_findings(capsys, tmp_path: Path):
    from cli.portproxy import run

    port = free_port(*ALL_LOOPBACK)
    saved = tmp_path / "show.txt"
    saved.write_text("Listen on ipv4:             Connect to ipv4:\n\n"
                     "Address         Port        Address         Port\n"
                     "--------------- ----------  --------------- ----------\n"
                     f"0.0.0.0         {port}        127.0.0.1       {port}\n")

    async def scenario() -> int:
        server = await http_server("127.0.0.2", port, b"x")
        try:
            return await asyncio.to_thread(
                run, cli_args("portproxy", "script", "--rules-from", str(saved),
                              "--timeout", "0.3", "--listen-address", "0.0.0.0"),
                cli_context(loopback_stack({"b": port})))
        finally:
            server.close()

    assert asyncio.run(scenario()) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0] == "# Vextrus port proxy fix (generated by vextrus-console portproxy script)"
    delete = f"netsh interface portproxy delete v4tov4 listenport={port} listenaddress=0.0.0.0"
    assert delete in lines
    assert (f"netsh interface portproxy add v4tov4 listenport={port} listenaddress=0.0.0.0 "
            f"connectport={port} connectaddress=127.0.0.2") in lines
    assert "wrong address" in captured.err  # progress goes to stderr, the script to stdout


def test_cli_rejects_a_bad_connect_address(capsys):
    from cli.portproxy import run

    port = free_port(*ALL_LOOPBACK)
    code = run(cli_args("portproxy", "script", "--connect-address", "999.1.1.1",
                        "--timeout", "0.2"), cli_context(loopback_stack({"c": port})))
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        "vextrus-console: portproxy: --connect-address: '999.1.1.1' is not an IP address")
    code = run(cli_args("portproxy", "script", "--listen-address", "::1"),
               cli_context(loopback_stack({"c": port})))
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        "vextrus-console: portproxy: --listen-address: '::1' is not an IPv4 address "
        "(netsh v4tov4)")


# --- in Docker: the container cases ------------------------------------------------------------
#
# The port-forwarding fault is a container with network_mode="none": its httpd answers inside
# on 127.0.0.1:PORT, the host cannot reach it. Every container belongs to the session's lab
# project and is removed with it; service names carry a "pp-" prefix to stay apart from
# other modules' containers.

docker = pytest.mark.docker


async def get_until(host: str, port: int, tries: int = 60) -> bytes:
    """The first successful GET (a CLI in another thread may still be starting)."""
    for _ in range(tries):
        try:
            return await http_get(host, port)
        except OSError:
            await asyncio.sleep(0.05)
    raise AssertionError(f"nothing answered on {host}:{port}")


def test_cli_fix_on_wsl_prints_the_script_and_refuses_to_apply(monkeypatch, capsys):
    import cli.portproxy as cli

    monkeypatch.setattr(cli, "detect_platform", lambda: "wsl")  # what cannot run here
    port = free_port(*ALL_LOOPBACK)
    stack = loopback_stack({"b": port})

    async def fix(*extra: str) -> int:
        server = await http_server("127.0.0.2", port, b"x")
        try:
            return await asyncio.to_thread(
                cli.run, cli_args("portproxy", "fix", "--timeout", "0.3", *extra),
                cli_context(stack))
        finally:
            server.close()

    assert asyncio.run(fix("--connect-address", "172.29.112.5")) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("# Vextrus port proxy fix")
    assert (f"netsh interface portproxy add v4tov4 listenport={port} listenaddress=127.0.0.1 "
            f"connectport={port} connectaddress=127.0.0.2") in captured.out.splitlines()
    assert captured.err.rstrip().endswith(
        "vextrus-console: portproxy fix: dry run: review the script above and run it in an "
        "elevated PowerShell")

    assert asyncio.run(fix("--apply", "--yes")) == 2
    assert capsys.readouterr().err.rstrip().endswith(
        "vextrus-console: portproxy fix --apply: netsh rules can only be applied on Windows "
        "itself (this is wsl); run the printed script in an elevated PowerShell")


def test_cli_unknown_service_is_one_line(capsys):
    from cli.portproxy import run

    code = run(cli_args("portproxy", "diagnose", "--service", "nope"),
               cli_context(loopback_stack({"c": free_port("127.0.0.1")})))
    assert code == 2
    assert capsys.readouterr().err == "vextrus-console: portproxy: unknown service 'nope'\n"
