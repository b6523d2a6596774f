"""Analysis of a model's structure: per-parameter statistics and importance scores."""

