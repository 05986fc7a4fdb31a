"""Demo rooms and a month of condition logs (``lims demo``).

Four rooms logged every 30 minutes for the last 30 days up to now, with daily cycles (air conditioning, the
afternoon heat, the semidiurnal pressure tide), and an on-site location with readings typed by hand on three
working mornings. The mass laboratory has one short air-conditioning failure five days ago, above 27 °C and faster
than 3 °C/h, so that the check against ĐLVN 286 (M1 weights) has something to find. Deterministic (seeded), and
idempotent: a room whose code exists is left alone.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.models import utcnow

from . import services
from .models import ConditionReading, Room
from lims.dates import from_local, local

DAYS = 30
STEP = dt.timedelta(minutes=30)
#: The air-conditioning failure in the mass laboratory: local times on the day five days ago, and temperatures.
EXCURSION_DAYS_AGO = 5
EXCURSION = [("13:00", "23.4"), ("13:30", "25.3"), ("14:00", "27.0"), ("14:30", "27.9"), ("15:00", "28.1"),
             ("15:30", "27.0"), ("16:00", "25.2"), ("16:30", "23.9")]

ROOMS = [
    {"code": "P-KL", "name": "Phòng kiểm định – hiệu chuẩn khối lượng", "building": "Nhà A, tầng 2",
     "kind": "laboratory", "notes": "Điều hoà và máy hút ẩm chạy liên tục. Data-logger nhiệt độ – độ ẩm – áp suất "
                                    "RC-4HC số EL2309-1147, ghi 30 phút một lần."},
    {"code": "P-CT", "name": "Phòng kiểm định công tơ điện", "building": "Nhà A, tầng 1",
     "kind": "laboratory", "notes": "Giàn kiểm định công tơ 1 pha 5 vị trí. Data-logger ghi 30 phút một lần."},
    {"code": "P-CAN", "name": "Phòng kiểm định cân", "building": "Nhà A, tầng 1",
     "kind": "laboratory", "notes": "Điều hoà bật trong giờ làm việc (7:00–17:00)."},
    {"code": "KV-TX", "name": "Khu kiểm định taximet (băng thử con lăn)", "building": "Nhà xưởng B",
     "kind": "laboratory", "notes": "Nhà xưởng thông gió tự nhiên; nhiệt độ theo thời tiết."},
    {"code": "HT-CHO", "name": "Chợ trung tâm thành phố – điểm kiểm định cân tại chỗ",
     "building": "Đường Trần Hưng Đạo, phường Quyết Thắng", "kind": "on_site",
     "notes": "Nhiệt kế – ẩm kế cầm tay; ghi tay khi làm việc tại chỗ."},
]


def _cycle(hours: float, peak_hour: float) -> float:
    """A daily sine, 1 at ``peak_hour`` and -1 twelve hours later."""
    return math.cos((hours - peak_hour) / 24 * 2 * math.pi)


def _climate(code: str, moment_local: dt.datetime, day: int, rnd: random.Random) -> tuple[float, float, float | None]:
    hours = moment_local.hour + moment_local.minute / 60
    outdoor = 23 + 5 * _cycle(hours, 14.5) + 1.2 * math.sin(day / 4)
    weekday = moment_local.weekday() < 5
    if code == "P-KL":
        temperature = 22.2 + 0.9 * _cycle(hours, 15) + 0.3 * math.sin(day / 5) + rnd.gauss(0, 0.12)
        humidity = 58 - 3 * _cycle(hours, 15) + 2 * math.sin(day / 3) + rnd.gauss(0, 0.6)
    elif code == "P-CT":
        temperature = 23.1 + 0.8 * _cycle(hours, 15) + rnd.gauss(0, 0.15)
        humidity = 60 - 3 * _cycle(hours, 15) + 2.5 * math.sin(day / 3) + rnd.gauss(0, 0.8)
    elif code == "P-CAN":
        conditioned = weekday and 7 <= hours < 17
        temperature = (23.5 + 0.6 * _cycle(hours, 14) if conditioned else 0.6 * outdoor + 10.5) + rnd.gauss(0, 0.15)
        humidity = (60 if conditioned else 72 - 6 * _cycle(hours, 14)) + rnd.gauss(0, 1)
    else:  # KV-TX and the on-site location follow the weather
        temperature = outdoor + rnd.gauss(0, 0.3)
        humidity = 75 - 14 * _cycle(hours, 14.5) + rnd.gauss(0, 1.5)
    pressure = None
    if code == "P-KL":
        pressure = 1009 + 1.1 * math.cos((hours - 10) / 12 * 2 * math.pi) + 2 * math.sin(day / 4) + rnd.gauss(0, 0.1)
    return temperature, min(humidity, 98.0), pressure


def _reading(room: Room, at: dt.datetime, values: tuple[float, float, float | None], *, source: str,
             source_file: str) -> ConditionReading:
    temperature, humidity, pressure = values
    return ConditionReading(room_id=room.id, taken_at=at, temperature_c=Decimal(f"{temperature:.1f}"),
                            humidity_pct=Decimal(f"{humidity:.1f}"),
                            pressure_hpa=None if pressure is None else Decimal(f"{pressure:.1f}"),
                            source=source, source_file=source_file)


def seed(session: Session, *, now: dt.datetime | None = None) -> list[str]:
    """Add the demo rooms that are missing with their readings; returns one line per room. Callers commit."""
    now = now or utcnow()
    existing = set(session.scalars(select(Room.code)))
    end = now.replace(minute=0 if now.minute < 30 else 30, second=0, microsecond=0)
    start = end - dt.timedelta(days=DAYS)
    excursion_day = local(now).date() - dt.timedelta(days=EXCURSION_DAYS_AGO)
    excursion = {from_local(dt.datetime.combine(excursion_day, dt.time.fromisoformat(t))): Decimal(v)
                 for t, v in EXCURSION}
    lines = []
    for spec in ROOMS:
        if spec["code"] in existing:
            continue
        room = services.create_room(session, **spec)
        rnd = random.Random(spec["code"])
        readings = []
        if room.kind == "laboratory":
            at = start
            wander = 0.0  # a slow random drift (doors, people, weather) on top of the daily cycle
            while at <= end:
                moment = local(at)
                wander = 0.9 * wander + rnd.gauss(0, 0.08)
                temperature, humidity, pressure = _climate(room.code, moment, (at - start).days, rnd)
                values = (temperature + wander, humidity - 2 * wander, pressure)
                source_file = f"{room.code}_{moment:%Y-%m}.csv"
                reading = _reading(room, at, values, source="logger", source_file=source_file)
                if room.code == "P-KL" and at in excursion:
                    # The air warms at constant moisture, so the relative humidity falls (a dehumidifier keeps
                    # running): about 2 %RH per °C.
                    rise = excursion[at] - reading.temperature_c
                    reading.temperature_c = excursion[at]
                    reading.humidity_pct = (reading.humidity_pct - 2 * rise).quantize(Decimal("0.1"))
                readings.append(reading)
                at += STEP
        else:
            today = local(now).date()
            for days_ago in (20, 13, 6):
                day = today - dt.timedelta(days=days_ago)
                for minutes in range(7 * 60 + 30, 11 * 60 + 1, 30):
                    at = from_local(dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60)))
                    values = _climate(room.code, local(at), DAYS - days_ago, rnd)
                    readings.append(_reading(room, at, values, source="manual", source_file=""))
        session.add_all(readings)
        session.flush()
        first, last = readings[0].taken_at, readings[-1].taken_at
        lines.append(f"Phòng {room.code} — {room.name}: {len(readings)} số đo "
                     f"({services.time_text(first)} – {services.time_text(last)})")
    return lines
