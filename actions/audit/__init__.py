"""The audit: rules over the compose model (`rules`), the engine and observers (`engine`),
and the fixes it writes (`fix`)."""
