"""API timestamps: the cached formatter says exactly what datetime says, DST changes included."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from hub.core.clock import iso_seconds

ROME, UTC = ZoneInfo("Europe/Rome"), ZoneInfo("UTC")
# Around the 2024 changes in Rome: 31 March 02:00 -> 03:00, 27 October 03:00 -> 02:00.
DST_EDGES = (1711846800.0, 1729990800.0)


@given(
    st.one_of(
        st.floats(min_value=-2e9, max_value=4e9, allow_nan=False),
        st.sampled_from(DST_EDGES).flatmap(lambda edge: st.floats(edge - 3700, edge + 3700)),
    ),
    st.sampled_from([ROME, UTC]),
)
def test_the_same_text_as_datetime(ts: float, tz: ZoneInfo) -> None:
    assert iso_seconds(ts, tz) == datetime.fromtimestamp(ts, tz).isoformat(timespec="seconds")


def test_the_hour_repeated_in_october_shows_both_offsets() -> None:
    edge = DST_EDGES[1]
    assert iso_seconds(edge - 1, ROME) == "2024-10-27T02:59:59+02:00"
    assert iso_seconds(edge, ROME) == "2024-10-27T02:00:00+01:00"
