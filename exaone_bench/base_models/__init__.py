"""Where a base model comes from: a hub id, a local directory, or a built-in (SmolLM2 converted from GGUF, exaone-tiny)."""
