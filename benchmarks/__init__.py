"""Benchmarks: scripts that print medians and ratios against baselines measured in the same run."""
