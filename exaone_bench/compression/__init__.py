"""What can be cut and how: one registry, the strategy contract, the calibration sample, importance scores, slicing primitives, strategies and post-training transforms."""
