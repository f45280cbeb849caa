"""Day-2 operations against a running proxy: smoke tests, keys, backups, benchmarks."""
