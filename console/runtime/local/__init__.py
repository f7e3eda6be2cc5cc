"""The local-process runtime: services as processes of this host (`runtime`), the reaper
that outlives the console, and the small tools run as `python -m`."""
