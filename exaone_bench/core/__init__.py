"""Paths, on-disk cache primitives and the usage-error type: imports nothing of ours."""
