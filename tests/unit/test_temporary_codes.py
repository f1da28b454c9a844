"""Temporary codes in the accounts (hub/store/accounts.py) and the throttle (hub/core/throttle.py):
a match says whether the code is inside its user's window, an owner always keeps a code that
always works, and an owner's code outside its window costs the caller no lockout."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hub.core.throttle import CODE_RUN, CodeThrottle
from hub.store.accounts import Accounts, OwnerWindowError
from hub.store.code_window import CodeWindow, parse_window
from hub.store.db import open_sync

ROME = ZoneInfo("Europe/Rome")
TUESDAY_10 = datetime(2026, 12, 8, 10, 0, tzinfo=ROME).timestamp()
TUESDAY_13 = datetime(2026, 12, 8, 13, 0, tzinfo=ROME).timestamp()
CLEANER = parse_window({"weekdays": ["tue"], "hours": "09:00-12:00"}, ROME)


@pytest.fixture
def accounts(tmp_path: Path) -> Iterator[Accounts]:
    found = Accounts(open_sync(tmp_path / "casahub.db"))
    try:
        found.add_user("anna", "owner-pass", "owner", code="12345")
        yield found
    finally:
        found.conn.close()


def test_a_match_says_whether_the_code_is_inside_its_window(accounts: Accounts) -> None:
    accounts.add_user("pulizie", "cleaner-pass", "member", code="24680", duress_code="24689", window=CLEANER)
    assert accounts.get_user("pulizie") == accounts.list_users()[1]
    assert accounts.list_users()[1].window == CLEANER and accounts.list_users()[0].window is None
    inside = accounts.match_code("24680", TUESDAY_10, ROME)
    assert inside is not None and (inside.username, inside.inside, inside.duress) == ("pulizie", True, False)
    outside = accounts.match_code("24680", TUESDAY_13, ROME)
    assert outside is not None and (outside.role, outside.inside) == ("member", False)
    duress = accounts.match_code("24689", TUESDAY_13, ROME)  # a duress code follows the same window
    assert duress is not None and duress.duress and not duress.inside
    owner = accounts.match_code("12345", TUESDAY_13, ROME)
    assert owner is not None and owner.inside and owner.role == "owner"
    assert accounts.match_code("99999", TUESDAY_10, ROME) is None
    no_clock = accounts.match_code("24680")  # without a time nothing is judged (the CLI's tests)
    assert no_clock is not None and no_clock.inside


def test_the_window_changes_and_goes(accounts: Accounts) -> None:
    accounts.add_user("ospite", "guest-pass", "member", code="13579")
    week = CodeWindow(datetime(2026, 12, 7, tzinfo=ROME), datetime(2026, 12, 14, tzinfo=ROME))
    assert accounts.update_user("ospite", window=week).window == week
    assert accounts.update_user("ospite", language="en").window == week  # other changes keep it
    assert accounts.update_user("ospite", window=None).window is None


def test_an_owner_always_keeps_a_code_that_always_works(accounts: Accounts) -> None:
    with pytest.raises(OwnerWindowError):
        accounts.update_user("anna", window=CLEANER)  # the only owner
    accounts.add_user("bruno", "owner-pass", "owner", code="11223", window=CLEANER)  # anna's always works
    # ...so anna may not lose it, nor stop being an owner, nor get a window, nor be removed
    for change in ({"code": ""}, {"role": "member"}, {"window": CLEANER}):
        with pytest.raises(OwnerWindowError):
            accounts.update_user("anna", **change)
    with pytest.raises(OwnerWindowError):
        accounts.remove_user("anna", keep_an_owner=True)
    accounts.add_user("carla", "owner-pass", "owner", code="55667")
    accounts.update_user("anna", window=CLEANER)  # carla's code always works now
    assert [u.window is None for u in accounts.list_users()] == [False, False, True]
    accounts.update_user("bruno", code="")  # an owner without a code needs no window rule
    # a member's window never matters to the rule
    accounts.add_user("ospite", "guest-pass", "member", code="13579", window=CLEANER)


async def test_forgive_takes_back_one_attempt_and_keeps_the_earlier_ones() -> None:
    throttle = CodeThrottle()
    now = 1_000_000.0
    for i in range(CODE_RUN - 1):  # two wrong codes
        assert await throttle.begin("anna", now + i) is None
        await throttle.wrong("anna", now + i)
    assert await throttle.begin("anna", now + 5) is None  # the third locks...
    assert throttle.retry_after("anna", now + 5) is not None
    throttle.forgive("anna", now + 5)  # ...unless it was an owner's code outside its window
    assert throttle.retry_after("anna", now + 5) is None
    assert await throttle.begin("anna", now + 6) is None  # the two earlier wrong codes still count
    assert throttle.retry_after("anna", now + 6) is not None
    fresh = CodeThrottle()
    assert await fresh.begin("mqtt", now) is None
    fresh.forgive("mqtt", now)
    for i in range(CODE_RUN - 1):
        assert await fresh.begin("mqtt", now + i) is None
        fresh.forgive("mqtt", now + i)
    assert fresh.retry_after("mqtt", now + 10) is None
