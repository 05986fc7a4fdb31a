"""Factories for the facilities register's tests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from lims.facilities import services
from lims.facilities.models import ConditionReading
from lims.dates import from_local

M1_LIMITS = {"temperature_c": {"min": "18", "max": "27", "max_rate_per_h": "3", "max_change_12h": "5"},
             "humidity_pct": {"min": "30", "max": "80"}}


def at(text: str) -> dt.datetime:
    """A local (Asia/Ho_Chi_Minh) wall-clock time "2026-11-23 09:40" as aware UTC."""
    return from_local(dt.datetime.fromisoformat(text))


@pytest.fixture
def mass_lab(session):
    return services.create_room(session, code="p-kl", name="Phòng khối lượng", building="Nhà A")


@pytest.fixture
def add_readings(session):
    """Store readings as a logger would: ``[("2026-11-23 09:40", "28.1", "55"), …]`` (local times)."""

    def add(room, rows, source_file="logger.csv"):
        readings = []
        for row in rows:
            text, temperature, *rest = row
            humidity = rest[0] if rest else None
            readings.append(ConditionReading(
                room_id=room.id, taken_at=at(text), source="logger", source_file=source_file,
                temperature_c=None if temperature is None else Decimal(temperature),
                humidity_pct=None if humidity is None else Decimal(humidity)))
        session.add_all(readings)
        session.flush()
        return readings

    return add


@pytest.fixture
def steady_morning(mass_lab, add_readings):
    """22–23 °C and 55 %RH every 30 minutes from 21:00 the evening before to 12:00 on 23/11/2026."""
    start = dt.datetime(2026, 11, 22, 21, 0)
    rows = []
    for step in range(31):
        moment = start + dt.timedelta(minutes=30 * step)
        rows.append((moment.isoformat(sep=" "), f"{22 + (step % 3) * Decimal('0.4')}", "55"))
    return add_readings(mass_lab, rows)
