"""The fixed split, the pretraining corpus, and encoding into batches."""
