"""What a model scores: classification metrics, intervals, LM loss, costs (FLOPs, bytes), latency and zero-shot accuracy."""
