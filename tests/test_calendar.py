"""The Chinese calendar comes from maintained libraries and gives the dates people know.

Known answers (published calendars): 春节 2026 = 2026-02-17, 春节 2027 = 2027-02-06, 中秋节 2026 = 2026-09-25
(八月十五 of lunar 2026), 中秋节 2025 = 2025-10-06, 国庆节 is 10-01; 618 and 双11 are fixed solar days.
Lunar 2025 has a leap sixth month (闰六月 starts 2025-07-25); lunar 2026 has none. In lunar 2026 the eighth
month has 29 days and the ninth 30 (the ninth month starts 2026-10-10, so 八月 ends on 2026-10-09).
"""

from __future__ import annotations

from datetime import date

import pytest

from bullseye.activation.calendar import (
    FESTIVALS,
    festival_dates,
    lunar_birthday,
    lunar_birthday_dates,
    lunar_month_days,
)


def _festivals(years):
    return {(r["festival"], r["year"]): r["event_date"] for r in festival_dates(years)}


def test_festival_dates_are_the_published_ones():
    got = _festivals([2025, 2026, 2027])
    assert got[("spring_festival", 2026)] == date(2026, 2, 17)
    assert got[("spring_festival", 2027)] == date(2027, 2, 6)  # the first day of the lunar year, not 除夕 (02-05)
    assert got[("mid_autumn", 2025)] == date(2025, 10, 6)  # falls inside the 国庆 week: its own row all the same
    assert got[("mid_autumn", 2026)] == date(2026, 9, 25)
    assert got[("national_day", 2027)] == date(2027, 10, 1)
    assert got[("shopping_618", 2027)] == date(2027, 6, 18) and got[("double_11", 2026)] == date(2026, 11, 11)
    assert {f for f, _ in got} == set(FESTIVALS)


@pytest.mark.parametrize("year", [2030, 2040, 2050])
def test_lunar_festivals_beyond_announced_years_agree_with_the_lunar_calendar(year):
    """Years the State Council has not announced: the holiday library computes 春节 and 中秋; they must be the
    lunar calendar's 1/1 and 8/15 (a second library, lunardate, as the check)."""
    got = _festivals([year])
    assert got[("spring_festival", year)] == lunar_birthday(year, 1, 1)
    assert got[("mid_autumn", year)] == lunar_birthday(year, 8, 15)


def test_a_lunar_birthday_is_kept_on_its_solar_date_this_year():
    assert lunar_birthday(2026, 8, 15) == date(2026, 9, 25)  # 八月十五 of lunar 2026 is 中秋 2026
    assert lunar_birthday(2025, 8, 15) == date(2025, 10, 6)


def test_leap_month_birthday_uses_the_leap_month_only_when_the_year_has_it():
    """Born in 闰六月: in lunar 2025 (which has 闰六月) the birthday is in the leap month, a month after the
    ordinary 六月 birthday; in lunar 2026 (no leap month) it is kept in the ordinary 六月."""
    assert lunar_birthday(2025, 6, 10, leap=True) == date(2025, 8, 3)
    assert lunar_birthday(2025, 6, 10, leap=False) == date(2025, 7, 4)
    assert lunar_birthday(2026, 6, 10, leap=True) == lunar_birthday(2026, 6, 10) == date(2026, 7, 23)


def test_a_30th_day_birthday_in_a_29_day_month_is_kept_on_the_29th():
    """Lunar 2026: 八月 has 29 days (九月 starts 2026-10-10), 九月 has 30. A birthday on 八月三十 is kept on
    八月廿九 = 2026-10-09; on 九月三十 it exists and is 2026-11-08."""
    assert (lunar_month_days(2026, 8), lunar_month_days(2026, 9)) == (29, 30)
    assert lunar_birthday(2026, 8, 30) == lunar_birthday(2026, 8, 29) == date(2026, 10, 9)
    assert lunar_birthday(2026, 9, 1) == date(2026, 10, 10)
    assert lunar_birthday(2026, 9, 30) == date(2026, 11, 8)


def test_the_lookup_has_every_lunar_birthday_once_per_year():
    rows = lunar_birthday_dates([2026])
    assert len(rows) == 12 * 30 * 2
    assert len({(r["lunar_month"], r["lunar_day"], r["is_leap_month"]) for r in rows}) == len(rows)
    by = {(r["lunar_month"], r["lunar_day"], r["is_leap_month"]): r["solar_date"] for r in rows}
    assert by[(8, 15, False)] == date(2026, 9, 25)
