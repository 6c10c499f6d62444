"""The Chinese calendar a night needs: festival dates and the solar date of a lunar birthday.

Both come from maintained libraries rather than a table written here, so they stay right for any
year without an edit:
- ``holidays`` (China) names the public holidays of any year; 春节 (the first day of the lunar
  year), 中秋节 (lunar 8/15) and 国庆节 are computed by its Chinese lunisolar calendar for years
  the State Council has not announced yet. ``chinese-calendar`` only knows announced years.
- ``lunardate`` converts lunar dates to solar ones (lunar years 1900-2099), including leap months.
The shopping days 618 (JD.com's anniversary sale) and 双11 (Singles' Day) are not holidays, so no
holiday library lists them: they are fixed solar dates (June 18, November 11) by the retailers'
convention, written once in SHOPPING_DAYS.

A lunar birthday (lunar month, day, and whether the person was born in a leap month 闰月) falls in
a given lunar year on:
- the leap month, when the person was born in one and that year has the same leap month; otherwise
  the ordinary month of that number (the common custom: a 闰四月 birthday is kept in 四月 in years
  without a 闰四月);
- the last day of that month when it is shorter than the day (a birthday on the 30th, 三十, is kept
  on the 29th in a month of 29 days: lunar months have 29 or 30 days).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import holidays
from lunardate import LunarDate

# festival id -> (Chinese name, the name the `holidays` China calendar gives its first day, in zh_CN)
PUBLIC_FESTIVALS: dict[str, tuple[str, str]] = {
    "spring_festival": ("春节", "春节"),
    "mid_autumn": ("中秋节", "中秋节"),
    "national_day": ("国庆节", "国庆节"),
}
# shopping day id -> (Chinese name, month, day): retailers' fixed solar dates, not public holidays.
SHOPPING_DAYS: dict[str, tuple[str, int, int]] = {
    "shopping_618": ("618", 6, 18),
    "double_11": ("双11", 11, 11),
}
FESTIVALS: tuple[str, ...] = (*PUBLIC_FESTIVALS, *SHOPPING_DAYS)
HOLIDAYS_SOURCE = f"holidays {holidays.__version__} (CN)"


def festival_dates(years: Iterable[int]) -> list[dict]:
    """One row per festival and year: festival id, Chinese name, year, its (first) day, and its source.

    A public festival is the first day the holiday calendar gives that name (春节 is three days
    off; the first is the lunar new year). A year in which the library does not name a festival is
    an error, not a gap: a calendar that silently lacks 春节 would send no greeting.
    """
    rows = []
    for year in sorted(set(years)):
        named = holidays.country_holidays("CN", years=year, language="zh_CN")
        for fid, (name, holiday_name) in PUBLIC_FESTIVALS.items():
            days = sorted(d for d, n in named.items() if holiday_name in n.split("; ") and d.year == year)
            if not days:
                raise ValueError(f"the holidays library names no {holiday_name} in {year}")
            rows.append({"festival": fid, "festival_name": name, "year": year, "event_date": days[0],
                         "source": HOLIDAYS_SOURCE})
        for fid, (name, month, day) in SHOPPING_DAYS.items():
            rows.append({"festival": fid, "festival_name": name, "year": year, "event_date": date(year, month, day),
                         "source": "fixed solar date"})
    return rows


def lunar_month_days(lunar_year: int, month: int, leap: bool = False) -> int:
    """Days in a lunar month (29 or 30): the 30th exists only in a long month."""
    try:
        LunarDate(lunar_year, month, 30, leap).to_solar_date()
        return 30
    except ValueError:
        return 29


def lunar_birthday(lunar_year: int, month: int, day: int, leap: bool = False) -> date:
    """The solar date of a birthday on lunar ``month``/``day`` (born in a leap month: ``leap``) in ``lunar_year``.

    Leap month kept only in years that have the same leap month, else the ordinary month; a day past
    the month's end (the 30th of a 29-day month) is kept on its last day (see the module docstring).
    """
    if not (1 <= month <= 12 and 1 <= day <= 30):
        raise ValueError(f"no lunar month/day {month}/{day}")
    use_leap = leap and LunarDate.leap_month_for_year(lunar_year) == month
    return LunarDate(lunar_year, month, min(day, lunar_month_days(lunar_year, month, use_leap)),
                     use_leap).to_solar_date()


def lunar_birthday_dates(lunar_years: Iterable[int]) -> list[dict]:
    """Every lunar birthday (month 1-12, day 1-30, leap or not) and its solar date in each lunar year.

    A lookup the trigger model joins a person's lunar birthday to: 720 rows a year.
    """
    return [{"lunar_year": y, "lunar_month": m, "lunar_day": d, "is_leap_month": leap,
             "solar_date": lunar_birthday(y, m, d, leap)}
            for y in sorted(set(lunar_years)) for m in range(1, 13) for d in range(1, 31) for leap in (False, True)]


def years_needed(run: date, horizon_days: int) -> range:
    """The years a night's calendar models cover: from the year before the run date (a lookback) to the year
    the trigger horizon ends in, with a month to spare. One rule for int_calendar__festivals and
    int_calendar__lunar_birthdays."""
    last = run + timedelta(days=horizon_days + 31)
    return range(run.year - 1, last.year + 1)
