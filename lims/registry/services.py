"""Registry services (customers and instruments). Services flush; callers commit."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import Customer, Instrument


def dashboard_summary(session: Session, *, today: dt.date | None = None) -> dict:
    today = today or dt.date.today()
    soon = today + dt.timedelta(days=30)
    return {
        "customers": session.scalar(select(func.count()).select_from(Customer)),
        "instruments": session.scalar(select(func.count()).select_from(Instrument)),
        "overdue": session.scalar(select(func.count()).select_from(Instrument).where(
            Instrument.status == "active", Instrument.next_due_date < today)),
        "due_soon": session.scalar(select(func.count()).select_from(Instrument).where(
            Instrument.status == "active", Instrument.next_due_date >= today, Instrument.next_due_date <= soon)),
    }
