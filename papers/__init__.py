"""The write-up and its build: ``python -m papers`` regenerates every figure and table."""
