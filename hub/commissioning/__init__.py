"""The commissioning report (`casahub pair report`): what the installer hands over to the
homeowner and the insurer, and the test messages that prove each channel works.

`gather()` (gather.py) reads the running hub into `Facts` (facts.py); `build_report()` (checks.py,
pure) turns them into the JSON form with the EN 50131 grade 2 checklist (grade2.py);
`to_markdown()` / `to_html()` (render.py) render it in the words of texts.py, with phone numbers
and email addresses masked (masking.py). `send_test_messages()` (test_messages.py) sends one test
per channel in use (channels.py). What the report knows of driver types is in driver_traits.py.
Import from `hub.commissioning`: the modules are how the report is kept, not an API.
"""

from __future__ import annotations

from hub.commissioning.channels import CHANNEL_ORDER, channels_in_use
from hub.commissioning.checks import build_report, checklist
from hub.commissioning.facts import ChannelTestResult, DeviceFacts, Facts, UserFacts
from hub.commissioning.gather import gather, latest_tests
from hub.commissioning.grade2 import (
    MAX_ENTRY_DELAY,
    MAX_WRONG_CODES,
    MIN_CODE_DIGITS,
    MIN_EVENTS_KEPT,
    MIN_LOCKOUT,
    SIREN_MAX,
    SIREN_MIN,
)
from hub.commissioning.masking import mask_address, mask_email, mask_phone
from hub.commissioning.render import STYLE_SOURCE, Row, to_html, to_markdown
from hub.commissioning.test_messages import (
    DEFAULT_TEST_TIMEOUT,
    TEST_TIMEOUT_RANGE,
    make_test_message,
    result_json,
    send_test_messages,
)
from hub.commissioning.texts import LANGUAGES, Language, text

__all__ = [
    "CHANNEL_ORDER",
    "DEFAULT_TEST_TIMEOUT",
    "LANGUAGES",
    "MAX_ENTRY_DELAY",
    "MAX_WRONG_CODES",
    "MIN_CODE_DIGITS",
    "MIN_EVENTS_KEPT",
    "MIN_LOCKOUT",
    "SIREN_MAX",
    "SIREN_MIN",
    "STYLE_SOURCE",
    "TEST_TIMEOUT_RANGE",
    "ChannelTestResult",
    "DeviceFacts",
    "Facts",
    "Language",
    "Row",
    "UserFacts",
    "build_report",
    "channels_in_use",
    "checklist",
    "gather",
    "latest_tests",
    "make_test_message",
    "mask_address",
    "mask_email",
    "mask_phone",
    "result_json",
    "send_test_messages",
    "text",
    "to_html",
    "to_markdown",
]
