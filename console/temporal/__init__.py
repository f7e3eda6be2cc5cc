"""Temporal workflows for the console: a small backend interface and its temporalio client.

Nothing here imports temporalio at module level: the SDK costs ~0.4 s to import, which the
console's cold start must not pay. `console.temporal.client` imports it on first use.
"""
