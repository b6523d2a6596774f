"""Where a decoder's parts are in each architecture, the sequence classifier built on it, pooling, and a VLM's text tower."""

