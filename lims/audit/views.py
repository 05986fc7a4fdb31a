"""The audit trail viewer: every event, each record's history, and the chain's verification."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from lims.db import get_session
from lims.security import requires

from . import services
from .models import AuditEvent

bp = Blueprint("audit", __name__, url_prefix="/audit")

PAGE_SIZE = 100


def _day(text: str | None) -> dt.date | None:
    try:
        return dt.datetime.strptime(text, "%Y-%m-%d").date() if text else None
    except ValueError:
        return None


@bp.route("/")
@requires("audit.view")
def index():
    """List audit events, newest first, with filters."""
    args = request.args
    query = select(AuditEvent)
    if actor := args.get("actor", "").strip():
        query = query.where(AuditEvent.actor_name == actor.lower())
    if entity := args.get("entity_type", "").strip():
        query = query.where(AuditEvent.entity_type == entity)
    if action := args.get("action", "").strip():
        query = query.where(AuditEvent.action == action)
    if start := _day(args.get("from")):
        query = query.where(AuditEvent.occurred_at >= dt.datetime.combine(start, dt.time(), dt.timezone.utc))
    if end := _day(args.get("to")):
        query = query.where(AuditEvent.occurred_at < dt.datetime.combine(end + dt.timedelta(days=1), dt.time(),
                                                                          dt.timezone.utc))
    before = args.get("before", type=int)
    if before:
        query = query.where(AuditEvent.seq < before)
    events = get_session().scalars(query.order_by(AuditEvent.seq.desc()).limit(PAGE_SIZE + 1)).all()
    has_more = len(events) > PAGE_SIZE
    events = events[:PAGE_SIZE]
    filters = {k: v for k, v in args.items() if k != "before" and v}
    return render_template("audit/index.html", events=events, has_more=has_more, filters=filters,
                           last_check=services.last_check(get_session()))


@bp.route("/<entity_type>/<entity_id>")
@requires("audit.view")
def history(entity_type: str, entity_id: str):
    """Show who changed what in one record, when and why."""
    events = services.history(get_session(), entity_type=entity_type, entity_id=entity_id)
    return render_template("audit/history.html", events=events, entity_type=entity_type, entity_id=entity_id)


@bp.route("/verify", methods=["POST"])
@requires("audit.verify")
def verify():
    """Verify the hash chain now."""
    session = get_session()
    report = services.verify_chain(session)
    services.record_check(session, report)
    session.commit()
    if report.ok:
        flash(_("Chuỗi nhật ký nguyên vẹn: đã kiểm tra %(n)d sự kiện.", n=report.checked), "success")
    else:
        flash(_("Chuỗi nhật ký bị phá vỡ tại %(n)d vị trí. Xem chi tiết bên dưới.", n=len(report.problems)), "danger")
    return redirect(url_for(".index"))
