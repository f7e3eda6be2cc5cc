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

from actions.base import ActionError
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


class NetshInputError(ActionError):
    """An address or port that must not reach a script for an elevated shell; one line
    naming where it came from (`FILE:LINE`)."""


_HOST_NAME_RE = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
    r"[A-Za-z0-9])?)*")
_PORT_RE = re.compile(r"[0-9]{1,5}")


def parse_show_output(text: str, source: str = "netsh output") -> list[ProxyRule]:
    """Rules from `netsh interface portproxy show v4tov4` (or `show all`) output.

    netsh prints a fixed-width table under a "Listen on ipv4: Connect to ipv4:" header; `show
    all` repeats it per kind. A data row is four fields whose second and fourth are ports,
    which also holds for localized Windows (the headers are translated, the rows are not);
    rows seen before any recognised header are taken as v4tov4, the kind `show v4tov4` lists.

    These addresses end up in a script for an elevated PowerShell (a stale rule is deleted
    by its listen address), so a row is taken only when each address is `*`, an IP literal
    or a plain host name and each port is 1-65535; any other row that has the shape of one
    (`127.0.0.1;Start-Process("calc") 80 ...`) raises NetshInputError naming `source:LINE`.
    """
    rules: list[ProxyRule] = []
    kind = "v4tov4"
    for number, line in enumerate(text.splitlines(), start=1):
        section = _SECTION.search(line)
        if section:
            kind = f"v{section.group(1)[-1]}tov{section.group(2)[-1]}"
            continue
        rule = _parse_row(line, kind, f"{source}:{number}")
        if rule is not None:
            rules.append(rule)
    return rules


def read_rules_file(path: str) -> list[ProxyRule]:
    """`--rules-from FILE`: a saved `show v4tov4` output; every problem is one line."""
    try:
        data = Path(path).read_bytes()
    except IsADirectoryError:
        raise NetshInputError(f"--rules-from: {path}: is a directory, not a file") from None
    except OSError as exc:
        raise NetshInputError(f"--rules-from: {path}: {exc.strerror or exc}") from None
    return parse_show_output(data.decode("utf-8", errors="replace"), path)


def _parse_row(line: str, kind: str, where: str) -> ProxyRule | None:
    fields = line.split()
    if len(fields) != 4 or not (_PORT_RE.fullmatch(fields[1]) or _PORT_RE.fullmatch(fields[3])):
        return None  # a header, a rule of dashes, a blank line: not a row
    for port in (fields[1], fields[3]):
        if not (_PORT_RE.fullmatch(port) and 1 <= int(port) <= 65535):
            raise NetshInputError(f"{where}: port {port!r} is not a TCP port (1-65535)")
    for address in (fields[0], fields[2]):
        if not valid_rule_address(address):
            raise NetshInputError(f"{where}: address {address!r} is not an IP address, `*` "
                                  "or a host name; refusing to put it in a script")
    return ProxyRule(fields[0], int(fields[1]), fields[2], int(fields[3]), kind=kind)


def valid_rule_address(address: str) -> bool:
    """`*`, an IPv4 or IPv6 literal, or a host name of letters, digits, '-' and '.'."""
    if address == "*":
        return True
    try:
        ipaddress.ip_address(address)
        return True
    except ValueError:
        return len(address) <= 253 and bool(_HOST_NAME_RE.fullmatch(address))


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
    """An inbound allow rule, created once (re-running the script must not duplicate it).

    The name is a single-quoted PowerShell string: nothing inside it is expanded.
    """
    name = _ps_literal(f"Vextrus {rule.service} {rule.listen_port}")
    return [
        f"if (-not (Get-NetFirewallRule -DisplayName {name} -ErrorAction SilentlyContinue)) {{",
        f"    New-NetFirewallRule -DisplayName {name} -Direction Inbound -Protocol TCP "
        f"-LocalPort {rule.listen_port} -Action Allow | Out-Null",
        "}",
    ]


def _ps_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_SERVICE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def _comment(note: str) -> str:
    """A note stays on its comment line: no line breaks or control characters inside."""
    return _CONTROL_RE.sub(" ", note)


def check_plan(plan: ScriptPlan) -> None:
    """Refuse a plan whose rules would put anything but addresses, ports and names into the
    script: additions are v4tov4 (IPv4 literals, ports 1-65535), a deletion names a listen
    address netsh printed (`*`, an IP literal or a host name)."""
    for add in plan.add:
        for what, address in (("listen", add.listen_address), ("connect", add.connect_address)):
            try:
                ipaddress.IPv4Address(address)
            except ValueError:
                raise NetshInputError(f"{add.service}: {what} address {address!r} is not an "
                                      "IPv4 address (netsh v4tov4)") from None
        _check_ports(add.service, add.listen_port, add.connect_port)
        if not _SERVICE_RE.fullmatch(add.service):
            raise NetshInputError(f"service name {add.service!r}: letters, digits, '.', '_' "
                                  "and '-' only in a script")
    for rule in plan.delete:
        if not valid_rule_address(rule.listen_address):
            raise NetshInputError(f"rule {rule.describe()!r}: listen address is not an IP "
                                  "address, `*` or a host name")
        _check_ports(rule.describe(), rule.listen_port, rule.connect_port)


def _check_ports(what: str, *ports: int) -> None:
    for port in ports:
        if not (isinstance(port, int) and 1 <= port <= 65535):
            raise NetshInputError(f"{what}: port {port!r} is not a TCP port (1-65535)")


def needs_firewall(listen_address: str) -> bool:
    """Loopback listeners are not reachable from other hosts: no inbound rule, no exposure."""
    try:
        return not ipaddress.ip_address(listen_address).is_loopback
    except ValueError:
        return listen_address != "localhost"


def render_script(plan: ScriptPlan, title: str = "Vextrus port proxy fix") -> str:
    """The whole script: elevation check, IP Helper, deletions, additions, firewall, show.

    Deletions come first so a changed rule is replaced, never doubled; the final `show`
    lets the operator see the result in the same window. Every address, port and name is
    checked again here, whatever produced the plan (NetshInputError, nothing rendered).
    """
    check_plan(plan)
    lines = [
        f"# {title} (generated by vextrus-console portproxy script)",
        "# Run in an elevated PowerShell (Run as Administrator). Review before running.",
        *ELEVATION_CHECK,
        "",
        *IPHLPSVC_CHECK,
    ]
    if plan.notes:
        lines += ["", *(f"# {_comment(note)}" for note in plan.notes)]
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
