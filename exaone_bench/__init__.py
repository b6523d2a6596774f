"""exaone-bench: structural compression experiments for EXAONE 4 models."""
