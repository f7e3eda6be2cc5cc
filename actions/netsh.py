"""Windows port proxy (netsh) support: read existing rules, write the fix as PowerShell.

Nothing here runs netsh. The console cannot execute Windows commands on Linux (and the
tests cannot either), so the rules arrive as the text `netsh interface portproxy show
v4tov4` printed, and the fix leaves as a script the operator reads before running it in an
elevated PowerShell. Both directions are plain text in, plain text out: testable anywhere.

Platform detection lives here too, because it decides between this path (Windows, WSL2)
and the built-in forwarder (Linux, macOS).
"""

from __future__ import annotations

import ipaddress
import platform
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from console.forwarder import local_ipv4_from_fib_trie

PlatformKind = Literal["windows", "wsl", "linux", "macos", "other"]


@dataclass(frozen=True)
class ProxyRule:
    """One port proxy rule: connections to listen address:port go to connect address:port.

    `source` says who owns it: "netsh" (Windows iphlpsvc) or "forwarder" (ours, in-process).
    Addresses are kept as netsh prints them (`*`, `0.0.0.0`, a host name or an IP).
    """

    listen_address: str
    listen_port: int
    connect_address: str
    connect_port: int
    kind: str = "v4tov4"
    source: str = "netsh"

    def describe(self) -> str:
        return (f"{self.source} {self.listen_address}:{self.listen_port} -> "
                f"{self.connect_address}:{self.connect_port}")


@dataclass(frozen=True)
class RuleToAdd:
    """A rule the script creates, with the service it serves (for the firewall rule name)."""

    service: str
    listen_address: str
    listen_port: int
    connect_address: str
    connect_port: int


@dataclass(frozen=True)
class ScriptPlan:
    """Everything the generated script does, decided before any text is written."""

    add: tuple[RuleToAdd, ...] = ()
    delete: tuple[ProxyRule, ...] = ()
    notes: tuple[str, ...] = ()  # why a finding needs no rule (or cannot get one)


# --- platform ---------------------------------------------------------------------------


def detect_platform(system: str | None = None, proc_version: str | None = None) -> PlatformKind:
    """Windows, WSL2 (Linux kernel built by Microsoft), plain Linux or macOS.

    WSL matters because its Linux side cannot fix the Windows side: the port proxy rules
    live in Windows, so on WSL the console prints the script instead of forwarding itself.
    """
    system = platform.system() if system is None else system
    if system == "Windows":
        return "windows"
    if system == "Darwin":
        return "macos"
    if system != "Linux":
        return "other"
    if proc_version is None:
        proc_version = _read_text(Path("/proc/version"))
    lowered = proc_version.lower()
    return "wsl" if "microsoft" in lowered or "wsl" in lowered else "linux"


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def current_wsl_address(fib_trie: str | None = None) -> str | None:
    """The first non-loopback local IPv4 address: WSL2's address as Windows sees it."""
    text = _read_text(Path("/proc/net/fib_trie")) if fib_trie is None else fib_trie
    for addr in local_ipv4_from_fib_trie(text):
        if not ipaddress.ip_address(addr).is_loopback:
            return addr
    return None


# --- parsing `netsh interface portproxy show ...` -------------------------------------------

_SECTION = re.compile(r"listen on (ipv[46]):\s+connect to (ipv[46]):", re.IGNORECASE)


def parse_show_output(text: str) -> list[ProxyRule]:
    """Rules from `netsh interface portproxy show v4tov4` (or `show all`) output.

    netsh prints a fixed-width table under a "Listen on ipv4: Connect to ipv4:" header; `show
    all` repeats it per kind. A data row is four fields whose second and fourth are ports,
    which also holds for localized Windows (the headers are translated, the rows are not);
    rows seen before any recognised header are taken as v4tov4, the kind `show v4tov4` lists.
    """
    rules: list[ProxyRule] = []
    kind = "v4tov4"
    for line in text.splitlines():
        section = _SECTION.search(line)
        if section:
            kind = f"v{section.group(1)[-1]}tov{section.group(2)[-1]}"
            continue
        rule = _parse_row(line, kind)
        if rule is not None:
            rules.append(rule)
    return rules


def _parse_row(line: str, kind: str) -> ProxyRule | None:
    fields = line.split()
    if len(fields) != 4 or not (fields[1].isdigit() and fields[3].isdigit()):
        return None
    listen_port, connect_port = int(fields[1]), int(fields[3])
    if not (1 <= listen_port <= 65535 and 1 <= connect_port <= 65535):
        return None
    return ProxyRule(fields[0], listen_port, fields[2], connect_port, kind=kind)


# --- the PowerShell script ---------------------------------------------------------------

ELEVATION_CHECK = (
    "$principal = New-Object Security.Principal.WindowsPrincipal("
    "[Security.Principal.WindowsIdentity]::GetCurrent())",
    "if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {",
    "    Write-Error 'Run this script in an elevated PowerShell (Run as Administrator).'",
    "    exit 1",
    "}",
)

IPHLPSVC_CHECK = (
    "# The IP Helper service (iphlpsvc) carries the port proxy rules: it must be running.",
    "$iphlp = Get-Service iphlpsvc",
    "if ($iphlp.Status -ne 'Running') {",
    "    Set-Service iphlpsvc -StartupType Automatic",
    "    Start-Service iphlpsvc",
    "}",
)


def netsh_add(rule: RuleToAdd) -> str:
    return (f"netsh interface portproxy add v4tov4 listenport={rule.listen_port} "
            f"listenaddress={rule.listen_address} connectport={rule.connect_port} "
            f"connectaddress={rule.connect_address}")


def netsh_delete(listen_port: int, listen_address: str) -> str:
    """Delete by the listen side, which is what identifies a rule to netsh.

    `*` (a rule added without listenaddress) is deleted by leaving the address out.
    """
    cmd = f"netsh interface portproxy delete v4tov4 listenport={listen_port}"
    return cmd if listen_address == "*" else f"{cmd} listenaddress={listen_address}"


def firewall_rule(rule: RuleToAdd) -> list[str]:
    """An inbound allow rule, created once (re-running the script must not duplicate it)."""
    name = f"Vextrus {rule.service} {rule.listen_port}"
    return [
        f'if (-not (Get-NetFirewallRule -DisplayName "{name}" -ErrorAction SilentlyContinue)) {{',
        f'    New-NetFirewallRule -DisplayName "{name}" -Direction Inbound -Protocol TCP '
        f"-LocalPort {rule.listen_port} -Action Allow | Out-Null",
        "}",
    ]


def needs_firewall(listen_address: str) -> bool:
    """Loopback listeners are not reachable from other hosts: no inbound rule, no exposure."""
    try:
        return not ipaddress.ip_address(listen_address).is_loopback
    except ValueError:
        return listen_address != "localhost"


def render_script(plan: ScriptPlan, title: str = "Vextrus port proxy fix") -> str:
    """The whole script: elevation check, IP Helper, deletions, additions, firewall, show.

    Deletions come first so a changed rule is replaced, never doubled; the final `show`
    lets the operator see the result in the same window.
    """
    lines = [
        f"# {title} (generated by vextrus-console portproxy script)",
        "# Run in an elevated PowerShell (Run as Administrator). Review before running.",
        *ELEVATION_CHECK,
        "",
        *IPHLPSVC_CHECK,
    ]
    if plan.notes:
        lines += ["", *(f"# {note}" for note in plan.notes)]
    if plan.delete:
        lines += ["", "# Remove stale rules (their targets no longer answer)."]
        lines += [netsh_delete(r.listen_port, r.listen_address) for r in plan.delete]
    if plan.add:
        lines += ["", "# Forward each port to the address where the service answers now."]
        lines += [netsh_add(r) for r in plan.add]
    exposed = [r for r in plan.add if needs_firewall(r.listen_address)]
    if exposed:
        lines += ["", "# Allow the forwarded ports through Windows Defender Firewall."]
        for rule in exposed:
            lines += firewall_rule(rule)
    lines += ["", "netsh interface portproxy show v4tov4", ""]
    return "\n".join(lines)


def merge_deletions(
    add: Sequence[RuleToAdd], stale: Iterable[ProxyRule], existing: Iterable[ProxyRule]
) -> tuple[ProxyRule, ...]:
    """Stale rules plus existing rules an addition would overwrite, each once, in order."""
    out: list[ProxyRule] = []
    keys: set[tuple[str, int]] = set()
    targets = {(r.listen_address, r.listen_port) for r in add}
    candidates = [*stale, *(r for r in existing if (r.listen_address, r.listen_port) in targets)]
    for rule in candidates:
        key = (rule.listen_address, rule.listen_port)
        if rule.source == "netsh" and rule.kind == "v4tov4" and key not in keys:
            keys.add(key)
            out.append(rule)
    return tuple(out)
