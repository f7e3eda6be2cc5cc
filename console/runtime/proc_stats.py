"""Resource figures of local process groups, read from /proc (Linux).

A local service is one process group (the local runtime starts each in its own session),
so its usage is the sum over the group's processes: CPU time (utime + stime), resident
memory, and the bytes it made the storage layer read and write (/proc/PID/io). One pass
over /proc per round serves every service. Processes have no own network interface (and
no memory limit), so those figures are None: the screens say "—", not 0.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path

from console.runtime.usage import ReplicaUsage, UsageReport

PROC = Path("/proc")
TICK_NS = 1_000_000_000 // os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def sample_groups(groups: Mapping[str, int], proc: Path = PROC) -> UsageReport:
    """service -> process group id in; one ReplicaUsage per service out."""
    if not proc.joinpath("self", "stat").exists():
        return UsageReport(unavailable="resource figures need Linux /proc", source="/proc")
    wanted = {pgid: name for name, pgid in groups.items()}
    totals: dict[int, list[int]] = {pgid: [0, 0, 0, 0, 0] for pgid in wanted}
    clock = time.monotonic_ns()
    for entry in os.scandir(proc):
        if entry.name.isdigit():
            _add_process(proc / entry.name, wanted, totals)
    replicas: dict[str, tuple[ReplicaUsage, ...]] = {
        wanted[pgid]: (ReplicaUsage(
            name=f"process group {pgid}", cpu_ns=ticks * TICK_NS, clock_ns=clock,
            memory=rss, block_read=read, block_write=write,
        ),)
        for pgid, (ticks, rss, read, write, count) in totals.items() if count
    }
    return UsageReport(replicas, host_memory=host_memory(proc), source="/proc")


def _add_process(path: Path, wanted: Mapping[int, str], totals: dict[int, list[int]]) -> None:
    """Add one process's figures to its group's, if the group is one of ours."""
    try:
        stat = (path / "stat").read_text()
    except OSError:
        return  # gone between the listing and the read
    fields = stat[stat.rfind(")") + 2:].split()  # the command name may contain spaces
    pgid = int(fields[2])
    if pgid not in wanted:
        return
    row = totals[pgid]
    row[0] += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
    row[1] += int(fields[21]) * PAGE  # rss in pages
    read, write = _io(path)
    row[2] += read
    row[3] += write
    row[4] += 1


def _io(path: Path) -> tuple[int, int]:
    try:
        lines = (path / "io").read_text().splitlines()
    except OSError:
        return 0, 0  # another user's process: no access
    values = dict(line.split(": ", 1) for line in lines if ": " in line)
    return int(values.get("read_bytes", 0)), int(values.get("write_bytes", 0))


def host_memory(proc: Path = PROC) -> int | None:
    try:
        for line in (proc / "meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def describe_group(facts: dict, proc: Path = PROC) -> str:
    """The local runtime's facts, then each process of the group as /proc has it."""
    lines = [f"{key}: {value}" for key, value in facts.items() if key != "environment"]
    lines.append("environment:")
    lines += [f"  {key}={value}" for key, value in sorted(facts["environment"].items())]
    pgid = facts.get("pgid")
    if pgid:
        lines.append("processes:")
        for entry in sorted(os.scandir(proc), key=lambda e: int(e.name) if e.name.isdigit()
                            else 0):
            if entry.name.isdigit():
                line = _process_line(proc / entry.name, int(pgid))
                if line:
                    lines.append(line)
    return "\n".join(lines) + "\n"


def _process_line(path: Path, pgid: int) -> str:
    try:
        stat = (path / "stat").read_text()
        cmdline = (path / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""
    fields = stat[stat.rfind(")") + 2:].split()
    if int(fields[2]) != pgid:
        return ""
    rss = int(fields[21]) * PAGE
    return f"  pid {path.name} state {fields[0]} rss {rss // 1024}K: {cmdline.strip()}"
