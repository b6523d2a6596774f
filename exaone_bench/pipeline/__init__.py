"""One item end to end: the baseline, a structural variant, a post-training row, a comparison model; seed parts shared between processes."""
