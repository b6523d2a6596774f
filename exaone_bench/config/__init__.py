"""The YAML the user writes, typed: setup, experiment files, expectations with their verdict words, metric declarations (a leaf: imports only core)."""
