"""What the commissioning test messages accept, importable without the report code.

POST /api/v1/pairing/test-messages checks its body against these when hub/web/report_api.py is
imported, at every start; the report code itself (hub/commissioning/) is imported at the first
report or test (issue 15: the hub's footprint). hub.commissioning re-exports both names.
"""

from __future__ import annotations

DEFAULT_TEST_TIMEOUT = 20.0
# What POST /api/v1/pairing/test-messages and `casahub pair report --timeout` accept.
TEST_TIMEOUT_RANGE = (1.0, 120.0)
