"""casahub benchmarks (`make bench`): each prints a table and merges its key into bench/results.json."""
