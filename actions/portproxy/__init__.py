"""Port access: diagnose (`diagnose`), fix with forwarders or netsh (`fix`, `netsh`)."""
