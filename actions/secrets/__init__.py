"""Secrets: the policy (`policy`), the scanner (`scan`), generation and apply."""
