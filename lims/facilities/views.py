"""Facilities and environmental conditions: rooms, readings, logger imports, charts."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from lims import charts, tabular
from lims.db import get_session
from lims.methods import services as methods
from lims.security import has_permission, requires

from . import services
from .forms import FilterForm, ImportForm, PeriodForm, ReadingForm, RoomForm
from lims.dates import centre_today, local

bp = Blueprint("facilities", __name__, url_prefix="/facilities")

DEFAULT_PERIOD_DAYS = 7
MAX_PERIOD_DAYS = 92


@bp.context_processor
def helpers():
    return {"room_kinds": services.ROOM_KINDS, "reading_sources": services.SOURCES, "plain": _plain}


def _plain(value) -> str:
    """A stored decimal with the digits it was given, at least one decimal ("23.40" -> "23.4", "22.00" -> "22.0");
    the ``num`` filter then localises it."""
    if value is None:
        return ""
    text = format(value.normalize(), "f")
    return text if "." in text else f"{text}.0"


def _show_error(form, exc: services.FacilitiesError, form_errors: list[str]) -> None:
    field = getattr(form, exc.field, None)
    if field is not None and isinstance(getattr(field, "errors", None), list):
        field.errors.append(str(exc))
    else:
        form_errors.append(str(exc))


def _room_or_404(room_id: int):
    return services.get_room(get_session(), room_id) or abort(404)


class Period:
    """The period a room page, its charts and its export show: whole local days, and an optional method version."""

    def __init__(self, args):
        self.form = PeriodForm(args)
        self.form.method_version_id.choices = []
        self.error = ""
        today = centre_today()
        valid = self.form.validate()
        end = self.form.end_date.data if valid and self.form.end_date.data else today
        start = (self.form.start_date.data if valid and self.form.start_date.data
                 else end - dt.timedelta(days=DEFAULT_PERIOD_DAYS - 1))
        if not valid:
            self.error = _("Ngày không hợp lệ; đang hiển thị %(n)d ngày gần nhất.", n=DEFAULT_PERIOD_DAYS)
        elif start > end:
            self.error = _("Ngày bắt đầu sau ngày kết thúc; đã đổi chỗ hai ngày.")
            start, end = end, start
        if (end - start).days + 1 > MAX_PERIOD_DAYS:
            self.error = _("Mỗi lần xem tối đa %(n)d ngày.", n=MAX_PERIOD_DAYS)
            start = end - dt.timedelta(days=MAX_PERIOD_DAYS - 1)
        self.start_date, self.end_date = start, end
        self.form.start_date.data, self.form.end_date.data = start, end
        self.start, self.end = services.day_bounds(start, end)
        self.version = None
        raw = self.form.method_version_id.data
        if raw and str(raw).isdigit():
            self.version = methods.get_version(get_session(), int(raw))

    @property
    def args(self) -> dict:
        args = {"start_date": self.start_date.isoformat(), "end_date": self.end_date.isoformat()}
        if self.version is not None:
            args["method_version_id"] = self.version.id
        return args

    def offer_versions(self) -> None:
        versions = [v for v in methods.list_versions(get_session()) if v.environment_limits]
        self.form.method_version_id.choices = [SelectChoice("", _("— Không đối chiếu —"))] + [
            SelectChoice(str(v.id), f"{v.designation} · {methods.limits_text(v.environment_limits)}")
            for v in versions]
        self.form.method_version_id.data = str(self.version.id) if self.version else ""


@bp.route("/")
@requires("lab.view")
def index():
    """List rooms and sites with their latest reading."""
    form = FilterForm(request.args)
    session = get_session()
    rooms = services.list_rooms(session, q=form.q.data or "", kind=form.kind.data or "")
    return render_template("facilities/index.html", form=form, rooms=rooms,
                           latest=services.latest_readings(session, [r.id for r in rooms]))


@bp.route("/new", methods=["GET", "POST"])
@requires("facilities.edit")
def create():
    """Add a room or on-site location."""
    form = RoomForm()
    form_errors: list[str] = []
    if form.validate_on_submit():
        session = get_session()
        try:
            room = services.create_room(session, **form.service_args())
        except services.FacilitiesError as exc:
            session.rollback()
            _show_error(form, exc, form_errors)
        else:
            session.commit()
            flash(_("Đã thêm %(code)s — %(name)s.", code=room.code, name=room.name), "success")
            return redirect(url_for(".detail", room_id=room.id))
    return render_template("facilities/create.html", form=form, form_errors=form_errors)


@bp.route("/<int:room_id>")
@requires("lab.view")
def detail(room_id: int):
    """Show a room: its charts, the conditions check against a method, and its readings."""
    session = get_session()
    room = _room_or_404(room_id)
    period = Period(request.args)
    period.offer_versions()
    check = None
    if period.version is not None:
        check = services.check_conditions(session, room_id=room.id, start=period.start, end=period.end,
                                          limits=period.version.environment_limits)
    page = services.page_readings(session, room_id=room.id, start=period.start, end=period.end,
                                  page=request.args.get("page", 1, type=int))
    return render_template("facilities/detail.html", room=room, period=period, check=check, page=page,
                           names=services.user_names(session, [r.recorded_by_id for r in page.items]),
                           total=services.count_readings(session, room_id=room.id),
                           can_edit=has_permission("facilities.edit"), can_record=has_permission("conditions.record"),
                           quantities=services.QUANTITIES)


@bp.route("/<int:room_id>/edit", methods=["GET", "POST"])
@requires("facilities.edit")
def edit(room_id: int):
    """Edit a room (with a reason once it has readings)."""
    session = get_session()
    room = _room_or_404(room_id)
    form = RoomForm(obj=room)
    form_errors: list[str] = []
    if form.validate_on_submit():
        try:
            services.update_room(session, room_id=room.id, reason=form.reason.data, **form.service_args())
        except services.FacilitiesError as exc:
            session.rollback()
            _show_error(form, exc, form_errors)
        else:
            session.commit()
            flash(_("Đã lưu %(code)s.", code=room.code), "success")
            return redirect(url_for(".detail", room_id=room.id))
    return render_template("facilities/edit.html", form=form, form_errors=form_errors, room=room,
                           in_use=services.room_in_use(session, room))


@bp.route("/<int:room_id>/readings/new", methods=["GET", "POST"])
@requires("conditions.record")
def record(room_id: int):
    """Record a reading by hand."""
    room = _room_or_404(room_id)
    form = ReadingForm()
    if request.method == "GET":
        form.taken_at.data = local(services.utcnow()).replace(tzinfo=None, second=0, microsecond=0)
    form_errors: list[str] = []
    if form.validate_on_submit():
        session = get_session()
        try:
            reading = services.record_reading(session, room_id=room.id, recorded_by_id=current_user.id,
                                              **form.service_args())
        except services.FacilitiesError as exc:
            session.rollback()
            _show_error(form, exc, form_errors)
        else:
            session.commit()
            flash(_("Đã ghi số đo của %(code)s lúc %(time)s.", code=room.code,
                    time=services.time_text(reading.taken_at)), "success")
            return redirect(url_for(".detail", room_id=room.id))
    return render_template("facilities/record.html", form=form, form_errors=form_errors, room=room)


@bp.route("/<int:room_id>/readings/import", methods=["GET", "POST"])
@requires("conditions.record")
def import_readings(room_id: int):
    """Import readings from a data-logger CSV file (all or nothing)."""
    room = _room_or_404(room_id)
    form = ImportForm()
    errors: list[str] = []
    if form.validate_on_submit():
        session = get_session()
        upload = form.file.data
        try:
            result = services.import_logger_csv(session, room_id=room.id, content=upload.read(),
                                                filename=upload.filename or "", recorded_by_id=current_user.id)
        except services.LoggerImportError as exc:
            session.rollback()
            errors = exc.errors
        except services.FacilitiesError as exc:
            session.rollback()
            errors = [str(exc)]
        else:
            session.commit()
            flash(_("Đã nhập %(added)d số đo (%(first)s – %(last)s); bỏ qua %(skipped)d số đo đã có.",
                    added=result.added, skipped=result.skipped, first=services.time_text(result.first_at),
                    last=services.time_text(result.last_at)), "success")
            return redirect(url_for(".detail", room_id=room.id))
    return render_template("facilities/import_readings.html", form=form, errors=errors, room=room)


@bp.route("/<int:room_id>/chart/<quantity>.png")
@requires("lab.view")
def chart(room_id: int, quantity: str):
    """Draw a room's temperature, humidity or pressure over the period, with the chosen method's limits."""
    if quantity not in services.QUANTITIES:
        abort(404)
    session = get_session()
    room = _room_or_404(room_id)
    period = Period(request.args)
    name, unit = services.QUANTITIES[quantity][:2]
    readings = services.readings_between(session, room_id=room.id, start=period.start, end=period.end)
    points = [(local(r.taken_at).replace(tzinfo=None), getattr(r, quantity)) for r in readings]
    limits = []
    if period.version is not None:
        items = period.version.environment_limits.get(quantity, {})
        if "max" in items:
            limits.append(charts.Limit(items["max"], _("Giới hạn trên %(value)s %(unit)s (%(method)s)",
                                                       value=items["max"], unit=unit,
                                                       method=period.version.designation)))
        if "min" in items:
            limits.append(charts.Limit(items["min"], _("Giới hạn dưới %(value)s %(unit)s (%(method)s)",
                                                       value=items["min"], unit=unit,
                                                       method=period.version.designation), color="#0d6efd"))
    title = _("%(name)s — %(code)s, %(start)s – %(end)s", name=name, code=room.code,
              start=period.start_date.strftime("%d/%m/%Y"), end=period.end_date.strftime("%d/%m/%Y"))
    png = charts.render_png(charts.LineChart(title=title, y_label=unit,
                                             series=[charts.Series(f"{name} ({unit})", points)], limits=limits))
    return Response(png, mimetype="image/png", headers={"Cache-Control": "no-store"})


@bp.route("/<int:room_id>/readings.<fmt>")
@requires("lab.view")
def export(room_id: int, fmt: str):
    """Download a room's readings over the period as CSV or XLSX."""
    if fmt not in tabular.FORMATS:
        abort(404)
    session = get_session()
    room = _room_or_404(room_id)
    period = Period(request.args)
    readings = services.readings_between(session, room_id=room.id, start=period.start, end=period.end)
    readings = [r for r in readings if r.taken_at < period.end]
    names = services.user_names(session, [r.recorded_by_id for r in readings])
    columns = [
        tabular.Column(_("Mã phòng"), lambda r: room.code),
        tabular.Column(_("Thời điểm (giờ Việt Nam)"),
                       lambda r: local(r.taken_at).strftime("%d/%m/%Y %H:%M:%S")),
        tabular.Column(_("Thời điểm (UTC, ISO 8601)"), lambda r: r.taken_at.isoformat()),
        tabular.Column(_("Nhiệt độ (°C)"), lambda r: r.temperature_c),
        tabular.Column(_("Độ ẩm (%RH)"), lambda r: r.humidity_pct),
        tabular.Column(_("Áp suất (hPa)"), lambda r: r.pressure_hpa),
        tabular.Column(_("Nguồn"), lambda r: str(services.SOURCES[r.source])),
        tabular.Column(_("Tệp"), lambda r: r.source_file),
        tabular.Column(_("Người ghi"), lambda r: names.get(r.recorded_by_id, "")),
    ]
    filename = f"dieu-kien-{room.code.lower().replace('/', '-')}-{period.start_date}-{period.end_date}"
    return tabular.export_response(fmt, filename=filename, columns=columns, rows=readings,
                                   sheet=_("Điều kiện môi trường"))
