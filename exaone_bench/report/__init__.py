"""The markdown report, rebuilt from the result records alone: render, tables, plots, the best-model choice, one file per section."""
