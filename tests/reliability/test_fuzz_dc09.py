"""The DC-09 reply decoder (alarms/dc09.py decode_reply) is fuzzed in tests/unit/test_dc09_codec.py
(random bytes, mutated valid frames with fixed-up CRC and length, arbitrary plaintext behind a
correct AES key: only DC09DecodeError may come out). Not run again here: this only counts its
budget, so that the reliability report lists every fuzz target.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.reliability.fuzz_helpers import report
from tests.unit import test_dc09_codec


def test_fuzz_dc09_decode_reply_is_counted(
    record_property: Callable[[str, object], None], capsys: pytest.CaptureFixture[str]
) -> None:
    budgets = {
        name: getattr(test_dc09_codec, name)._hypothesis_internal_use_settings.max_examples
        for name in dir(test_dc09_codec)
        if name.startswith("test_fuzz_") and hasattr(getattr(test_dc09_codec, name), "hypothesis")
    }
    assert budgets, "tests/unit/test_dc09_codec.py has no hypothesis fuzz tests any more"
    report(
        "alarms.dc09.decode_reply",
        sum(budgets.values()),
        record_property,
        capsys,
        f"max_examples of tests/unit/test_dc09_codec.py, run there: {budgets}",
    )
