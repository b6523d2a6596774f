"""exaone-tiny, the embedded default: its recipe, its resumable pretraining and the store of shipped checkpoints."""
