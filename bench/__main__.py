"""`python -m bench`: run every benchmark (for now, the alarm latency)."""

import sys

from bench.latency import main

sys.exit(main(sys.argv[1:]))
