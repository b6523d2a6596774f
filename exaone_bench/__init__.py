"""exaone-bench: structural compression experiments for EXAONE 4 models."""

__version__ = "0.1.0"
