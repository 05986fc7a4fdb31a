"""Calendar helpers shared by the features: the centre's today, and month arithmetic for due dates."""

from __future__ import annotations

import calendar
import datetime as dt
import zoneinfo

#: The centre's time zone: due dates and "today" are calendar days there, not in UTC.
CENTRE_TZ = zoneinfo.ZoneInfo("Asia/Ho_Chi_Minh")


def centre_today() -> dt.date:
    """Today's date at the centre."""
    return dt.datetime.now(CENTRE_TZ).date()


def local(moment: dt.datetime) -> dt.datetime:
    """``moment`` on the centre's clock."""
    return moment.astimezone(CENTRE_TZ)


def from_local(naive: dt.datetime) -> dt.datetime:
    """A wall-clock time at the centre, as an aware UTC datetime."""
    return naive.replace(tzinfo=CENTRE_TZ).astimezone(dt.timezone.utc)


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus ``months`` calendar months, clamped to the month's last day.

    >>> add_months(dt.date(2025, 1, 31), 1)
    datetime.date(2025, 2, 28)
    >>> add_months(dt.date(2024, 10, 15), 18)
    datetime.date(2026, 4, 15)
    """
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))
