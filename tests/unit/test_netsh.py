"""Windows port proxy support as text: netsh output in, PowerShell out (nothing runs netsh)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from actions.portproxy.netsh import (
    NetshInputError,
    ProxyRule,
    RuleToAdd,
    ScriptPlan,
    current_wsl_address,
    detect_platform,
    merge_deletions,
    netsh_add,
    netsh_delete,
    parse_show_output,
    render_script,
)
from console.forwarder import local_ipv4_from_fib_trie

ROOT = Path(__file__).resolve().parents[2]

# What `netsh interface portproxy show v4tov4` prints on an English Windows 11, CRLF and all.
SHOW_V4TOV4 = (
    "\r\n"
    "Listen on ipv4:             Connect to ipv4:\r\n"
    "\r\n"
    "Address         Port        Address         Port\r\n"
    "--------------- ----------  --------------- ----------\r\n"
    "0.0.0.0         3001        172.29.112.5    3001\r\n"
    "127.0.0.1       4000        localhost       4000\r\n"
    "*               3002        172.29.96.1     3002\r\n"
    "\r\n"
)

SHOW_ALL = """
Listen on ipv4:             Connect to ipv4:

Address         Port        Address         Port
--------------- ----------  --------------- ----------
0.0.0.0         3001        172.29.112.5    3001

Listen on ipv4:             Connect to ipv6:

Address         Port        Address         Port
--------------- ----------  --------------- ----------
127.0.0.1       8080        ::1             80
"""

SHOW_GERMAN = """
Abfragen auf ipv4:          Verbinden mit ipv4:

Adresse         Anschluss   Adresse         Anschluss
--------------- ----------  --------------- ----------
0.0.0.0         3009        172.20.0.4      3009
"""

FIB_TRIE = """Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
     +-- 172.29.112.0/20 2 0 2
        |-- 172.29.112.5
           /32 host LOCAL
Local:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
     +-- 172.29.112.0/20 2 0 2
        +-- 172.29.112.0/28 2 0 2
           |-- 172.29.112.0
              /20 link UNICAST
           |-- 172.29.112.5
              /32 host LOCAL
        |-- 172.29.127.255
           /32 link BROADCAST
"""


def test_show_v4tov4_rows_are_parsed_and_headers_ignored():
    assert parse_show_output(SHOW_V4TOV4) == [
        ProxyRule("0.0.0.0", 3001, "172.29.112.5", 3001),
        ProxyRule("127.0.0.1", 4000, "localhost", 4000),
        ProxyRule("*", 3002, "172.29.96.1", 3002),
    ]


def test_show_all_keeps_the_kind_of_each_section():
    rules = parse_show_output(SHOW_ALL)
    assert [(r.kind, r.listen_port, r.connect_address) for r in rules] == [
        ("v4tov4", 3001, "172.29.112.5"),
        ("v4tov6", 8080, "::1"),
    ]


def test_localized_output_still_yields_the_rows():
    assert parse_show_output(SHOW_GERMAN) == [ProxyRule("0.0.0.0", 3009, "172.20.0.4", 3009)]


def test_empty_and_garbage_output_yield_no_rules():
    assert parse_show_output("") == []
    assert parse_show_output("\r\n\r\n") == []
    text = "The following command was not found: interface portproxy show v4tov4.\n"
    assert parse_show_output(text + "a 1 b 2 3\nAddress Port Address Port\n") == []


@pytest.mark.parametrize(("row", "problem"), [
    ('127.0.0.1;Start-Process("calc") 3001 172.29.112.5 3001',
     "rules.txt:6: address '127.0.0.1;Start-Process(\"calc\")' is not an IP address"),
    ("0.0.0.0 3001 $(Invoke-Expression) 3001", "rules.txt:6: address '$(Invoke-Expression)'"),
    ("0.0.0.0 3001 `calc` 3001", "rules.txt:6: address '`calc`'"),
    ("0.0.0.0 99999 172.29.112.5 3001", "rules.txt:6: port '99999' is not a TCP port"),
    ("0.0.0.0 0 172.29.112.5 3001", "rules.txt:6: port '0' is not a TCP port"),
    ("0.0.0.0 3001;calc 172.29.112.5 3001", "rules.txt:6: port '3001;calc'"),
])
def test_a_row_with_anything_but_addresses_and_ports_is_refused(row: str, problem: str):
    """These addresses reach a script for an elevated shell: refused, never pasted."""
    text = SHOW_V4TOV4.replace("0.0.0.0         3001        172.29.112.5    3001", row)
    with pytest.raises(NetshInputError) as caught:
        parse_show_output(text, "rules.txt")
    assert problem in str(caught.value)


@pytest.mark.parametrize("plan", [
    ScriptPlan(add=(RuleToAdd("auth", "127.0.0.1;calc", 3001, "172.29.112.5", 3001),)),
    ScriptPlan(add=(RuleToAdd("auth", "0.0.0.0", 3001, "localhost", 3001),)),
    ScriptPlan(add=(RuleToAdd("auth", "0.0.0.0", 70000, "172.29.112.5", 3001),)),
    ScriptPlan(add=(RuleToAdd('a"$(calc)', "0.0.0.0", 3001, "172.29.112.5", 3001),)),
    ScriptPlan(delete=(ProxyRule("0.0.0.0;calc", 3001, "172.29.96.9", 3001),)),
])
def test_render_refuses_a_plan_that_is_not_addresses_and_ports(plan: ScriptPlan):
    with pytest.raises(NetshInputError):
        render_script(plan)


def test_notes_stay_comments():
    text = render_script(ScriptPlan(notes=("svc 1: down\nStart-Process calc",)))
    assert "\nStart-Process calc" not in text
    assert "# svc 1: down Start-Process calc" in text


def test_add_and_delete_commands_are_exact():
    rule = RuleToAdd("auth", "0.0.0.0", 3001, "172.29.112.5", 3001)
    assert netsh_add(rule) == (
        "netsh interface portproxy add v4tov4 listenport=3001 listenaddress=0.0.0.0 "
        "connectport=3001 connectaddress=172.29.112.5"
    )
    assert netsh_delete(3001, "0.0.0.0") == (
        "netsh interface portproxy delete v4tov4 listenport=3001 listenaddress=0.0.0.0"
    )
    # a rule added without listenaddress shows as `*` and is deleted without one
    assert netsh_delete(3002, "*") == "netsh interface portproxy delete v4tov4 listenport=3002"


EXPECTED_SCRIPT = """\
# Vextrus port proxy fix (generated by vextrus-console portproxy script)
# Run in an elevated PowerShell (Run as Administrator). Review before running.
$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
    Write-Error 'Run this script in an elevated PowerShell (Run as Administrator).'
    exit 1
}

# The IP Helper service (iphlpsvc) carries the port proxy rules: it must be running.
$iphlp = Get-Service iphlpsvc
if ($iphlp.Status -ne 'Running') {
    Set-Service iphlpsvc -StartupType Automatic
    Start-Service iphlpsvc
}

# configuration 3004: service down: start it first (vextrus-console bringup --only configuration)

# Remove stale rules (their targets no longer answer).
netsh interface portproxy delete v4tov4 listenport=3001 listenaddress=0.0.0.0

# Forward each port to the address where the service answers now.
netsh interface portproxy add v4tov4 listenport=3001 listenaddress=0.0.0.0 connectport=3001 connectaddress=172.29.112.5
netsh interface portproxy add v4tov4 listenport=3002 listenaddress=127.0.0.1 connectport=3002 connectaddress=127.0.0.2

# Allow the forwarded ports through Windows Defender Firewall.
if (-not (Get-NetFirewallRule -DisplayName 'Vextrus auth 3001' -ErrorAction SilentlyContinue)) {
    New-NetFirewallRule -DisplayName 'Vextrus auth 3001' -Direction Inbound -Protocol TCP -LocalPort 3001 -Action Allow | Out-Null
}

netsh interface portproxy show v4tov4
"""  # noqa: E501


def test_script_text_for_given_inputs():
    plan = ScriptPlan(
        add=(
            RuleToAdd("auth", "0.0.0.0", 3001, "172.29.112.5", 3001),
            RuleToAdd("master-data", "127.0.0.1", 3002, "127.0.0.2", 3002),
        ),
        delete=(ProxyRule("0.0.0.0", 3001, "172.29.96.9", 3001),),
        notes=("configuration 3004: service down: start it first "
               "(vextrus-console bringup --only configuration)",),
    )
    assert render_script(plan) == EXPECTED_SCRIPT


def test_script_elevation_check_comes_before_any_netsh_command():
    text = render_script(ScriptPlan(add=(RuleToAdd("a", "127.0.0.1", 1, "127.0.0.2", 1),)))
    lines = text.splitlines()
    elevation = next(i for i, ln in enumerate(lines) if "IsInRole" in ln)
    first_netsh = next(i for i, ln in enumerate(lines) if ln.startswith("netsh "))
    assert elevation < first_netsh
    # loopback listeners are not reachable from outside: no firewall rule is opened
    assert "New-NetFirewallRule" not in text


def test_nothing_to_do_is_still_a_valid_script():
    text = render_script(ScriptPlan())
    assert "portproxy add" not in text and "portproxy delete" not in text
    assert text.rstrip().endswith("netsh interface portproxy show v4tov4")


def test_deletions_merge_stale_rules_and_rules_about_to_be_replaced():
    stale = ProxyRule("0.0.0.0", 3001, "172.29.96.9", 3001)
    existing = [stale, ProxyRule("127.0.0.1", 3002, "127.0.0.9", 3002),
                ProxyRule("127.0.0.1", 5000, "127.0.0.9", 5000)]
    add = [RuleToAdd("md", "127.0.0.1", 3002, "127.0.0.2", 3002),
           RuleToAdd("auth", "0.0.0.0", 3001, "172.29.112.5", 3001)]
    deleted = merge_deletions(add, [stale], existing)
    assert [(r.listen_address, r.listen_port) for r in deleted] == [
        ("0.0.0.0", 3001), ("127.0.0.1", 3002)]
    # our own forwarders are never deleted with netsh
    mine = ProxyRule("127.0.0.1", 3003, "127.0.0.2", 3003, source="forwarder")
    assert merge_deletions([], [mine], []) == ()


def test_platform_detection():
    assert detect_platform("Windows", "") == "windows"
    assert detect_platform("Darwin", "") == "macos"
    wsl = "Linux version 5.15.153.1-microsoft-standard-WSL2 (root@941d701f84f1) (gcc (GCC) 12.2.0)"
    assert detect_platform("Linux", wsl) == "wsl"
    assert detect_platform("Linux", "Linux version 4.4.0-19041-Microsoft") == "wsl"
    assert detect_platform("Linux", "Linux version 6.1.0-18-amd64 (debian-kernel@lists)") == "linux"


def test_current_address_comes_from_the_local_table():
    assert local_ipv4_from_fib_trie(FIB_TRIE) == ["127.0.0.1", "172.29.112.5"]
    assert current_wsl_address(FIB_TRIE) == "172.29.112.5"
    loopback_only = "\n".join(ln for ln in FIB_TRIE.splitlines() if "172.29" not in ln)
    assert local_ipv4_from_fib_trie(loopback_only) == ["127.0.0.1"]
    assert current_wsl_address(loopback_only) is None


def test_cli_refuses_a_hostile_rules_file_before_writing_any_script(tmp_path: Path):
    """`portproxy script --rules-from FILE`: one line naming FILE:LINE, exit 2, no script."""
    saved = tmp_path / "rules.txt"
    saved.write_text(SHOW_V4TOV4.replace("0.0.0.0         3001        172.29.112.5    3001",
                                         '127.0.0.1;Start-Process("calc") 3001 1.2.3.4 3001'))
    done = subprocess.run(
        [sys.executable, "-m", "cli", "--state-dir", str(tmp_path / "state"),
         "portproxy", "script", "--rules-from", str(saved)],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert f"{saved}:6: address '127.0.0.1;Start-Process(\"calc\")'" in done.stderr
