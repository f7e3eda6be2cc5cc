"""Chaos drills: the engine, the faults (kill, latency; oom, disk in `resources`), the
report and the undo book that survives a crash."""
