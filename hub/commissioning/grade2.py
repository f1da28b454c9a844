"""The EN 50131 grade 2 practice the checklist holds the hub to (docs/architecture.md section 7).

The hub accepts values outside it (installers shorten delays to test); the report marks them failed.
"""

from __future__ import annotations

MAX_ENTRY_DELAY = 45.0
SIREN_MIN, SIREN_MAX = 120.0, 900.0
MIN_CODE_DIGITS = 5
MAX_WRONG_CODES = 3
MIN_LOCKOUT = 90.0
MIN_EVENTS_KEPT = 1000
