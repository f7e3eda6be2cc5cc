"""The Docker runtime: the Engine API (`wire`), exec and probes inside (`exec`), stats."""
