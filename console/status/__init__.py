"""The status engine: runtime facts and probe results in, one operator state per service
out (`engine`), the types it speaks (`types`), workload rules (`workload`)."""
