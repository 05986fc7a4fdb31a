"""The standards register: list, due list, detail with traceability and control chart, calibrations, checks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import instruments
from flask import (Blueprint, Response, abort, current_app, flash, redirect, render_template, request, send_file,
                   url_for)
from flask_babel import gettext as _
from flask_login import current_user

from lims import charts
from lims.db import get_session
from lims.security import has_permission, requires
from lims.tabular import FORMATS, Column, export_response

from . import services
from .forms import (AdequacyForm, CalibrationForm, ChosenStandardsForm, CorrectionForm, IntermediateCheckForm,
                    ServiceEventForm, StandardForm, adequate_choices, kind_choices, results_text, standard_choices,
                    status_choices)
from .models import KINDS, Standard, StandardCalibration
from lims.dates import centre_today

bp = Blueprint("standards", __name__, url_prefix="/standards")

MAX_DAYS = 3650


def _files_dir() -> Path:
    return Path(current_app.instance_path) / "standards" / "certificates"


def _today() -> dt.date:
    return centre_today()


def _date_arg(name: str = "on") -> dt.date:
    try:
        return dt.date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return _today()


def _days_arg() -> int:
    try:
        days = int(request.args.get("days", services.DUE_SOON_DAYS))
    except ValueError:
        days = services.DUE_SOON_DAYS
    return min(max(days, 0), MAX_DAYS)


def _filter() -> services.StandardFilter:
    kind = request.args.get("kind", "")
    status = request.args.get("status", "")
    return services.StandardFilter(q=request.args.get("q", "")[:100], kind=kind if kind in KINDS else "",
                                   status=status if status in services.STATUS_LABELS else "")


def _field_error(form, exc: services.StandardError) -> None:
    field = getattr(form, exc.field, None)
    if field is not None and hasattr(field, "errors") and isinstance(field.errors, list):
        field.errors.append(str(exc))
    else:
        form.form_errors.append(str(exc))


def _standard_or_404(standard_id: int) -> Standard:
    return get_session().get(Standard, standard_id) or abort(404)


def _actor() -> dict:
    return {"recorded_by_id": current_user.id}


# --- list, exports ---------------------------------------------------------------------------------------------------

def _columns(on: dt.date) -> list[Column]:
    return [
        Column(_("Mã"), lambda s: s.standard.code),
        Column(_("Tên chuẩn"), lambda s: s.standard.name),
        Column(_("Loại"), lambda s: str(services.KIND_LABELS[s.standard.kind])),
        Column(_("Cấp chính xác"), lambda s: s.standard.accuracy_class),
        Column(_("Hãng sản xuất"), lambda s: s.standard.manufacturer),
        Column(_("Kiểu / model"), lambda s: s.standard.model),
        Column(_("Số sản xuất"), lambda s: s.standard.serial),
        Column(_("Nơi đặt"), lambda s: s.standard.location),
        Column(_("Ngày hiệu chuẩn"), lambda s: s.calibration.calibration_date if s.calibration else None),
        Column(_("Hạn hiệu chuẩn"), lambda s: s.calibration.due_date if s.calibration else None),
        Column(_("Số ngày còn lại"), lambda s: s.days_left),
        Column(_("Số giấy chứng nhận"), lambda s: s.calibration.certificate_number if s.calibration else ""),
        Column(_("Nơi hiệu chuẩn"), lambda s: s.calibration.laboratory_name if s.calibration else ""),
        Column(_("Trạng thái ngày %(date)s", date=on.strftime("%d/%m/%Y")), lambda s: s.label),
        Column(_("Ghi chú trạng thái"), lambda s: s.reason),
    ]


@bp.route("/")
@requires("lab.view")
def index():
    """List the standards, with search and filters."""
    flt = _filter()
    on = _today()
    rows = services.list_standards(get_session(), flt, on=on)
    return render_template("standards/index.html", rows=rows, flt=flt, on=on, kinds=kind_choices(blank=_("Mọi loại")),
                           status_options=status_choices(blank=_("Mọi trạng thái")), kind_labels=services.KIND_LABELS)


@bp.route("/export.<fmt>")
@requires("lab.view")
def export(fmt: str):
    """Download the (filtered) register as CSV or XLSX."""
    if fmt not in FORMATS:
        abort(404)
    on = _today()
    rows = services.list_standards(get_session(), _filter(), on=on)
    return export_response(fmt, filename=f"chuan-do-luong-{on.isoformat()}", columns=_columns(on), rows=rows,
                           sheet=_("Chuẩn đo lường"))


@bp.route("/due")
@requires("lab.view")
def due():
    """List the standards to recalibrate within N days (overdue ones first)."""
    days = _days_arg()
    on = _today()
    rows = services.due_standards(get_session(), within_days=days, on=on)
    return render_template("standards/due.html", rows=rows, days=days, on=on, kind_labels=services.KIND_LABELS)


@bp.route("/due/export.<fmt>")
@requires("lab.view")
def due_export(fmt: str):
    """Download the due list as CSV or XLSX."""
    if fmt not in FORMATS:
        abort(404)
    days = _days_arg()
    on = _today()
    rows = services.due_standards(get_session(), within_days=days, on=on)
    return export_response(fmt, filename=f"chuan-den-han-{days}-ngay-{on.isoformat()}", columns=_columns(on),
                           rows=rows, sheet=_("Đến hạn hiệu chuẩn"))


# --- standards -------------------------------------------------------------------------------------------------------

@bp.route("/new", methods=["GET", "POST"])
@requires("standards.edit")
def create():
    """Add a standard to the register."""
    form = StandardForm()
    del form.reason
    if form.validate_on_submit():
        session = get_session()
        try:
            standard = services.create_standard(session, **form.service_args())
        except services.StandardError as exc:
            _field_error(form, exc)
        else:
            session.commit()
            flash(_("Đã thêm chuẩn %(code)s.", code=standard.code), "success")
            return redirect(url_for(".detail", standard_id=standard.id))
    return render_template("standards/create.html", form=form)


@bp.route("/<int:standard_id>")
@requires("lab.view")
def detail(standard_id: int):
    """Show a standard: status, traceability chain, calibrations, intermediate checks and control chart."""
    session = get_session()
    standard = _standard_or_404(standard_id)
    on = _date_arg()
    status = services.standard_status(session, standard, on=on)
    chain = services.traceability_chain(session, standard, on=on)
    calibrations = services.calibration_history(session, standard)
    superseded = {c.supersedes_id: c for c in calibrations if c.supersedes_id}
    checks = services.intermediate_checks(session, standard)
    events = services.service_events(session, standard)
    files_dir = _files_dir()
    intact = {c.id: services.certificate_intact(files_dir, c) for c in calibrations if c.certificate_sha256}
    types = {t.code: t.name_vi for t in instruments.all_types()}
    return render_template("standards/detail.html", standard=standard, status=status, chain=chain, on=on,
                           today=_today(), calibrations=calibrations, superseded=superseded, checks=checks,
                           points=services.check_points(checks), events=events, intact=intact, types=types,
                           kind_labels=services.KIND_LABELS, source_labels=services.SOURCE_LABELS,
                           action_labels=services.SERVICE_ACTION_LABELS, uncertainty=services.uncertainty_summary,
                           can_edit=has_permission("standards.edit"), can_check=has_permission("standards.check"))


@bp.route("/<int:standard_id>/edit", methods=["GET", "POST"])
@requires("standards.edit")
def edit(standard_id: int):
    """Edit a standard's record (with a reason once it has calibrations)."""
    session = get_session()
    standard = _standard_or_404(standard_id)
    form = StandardForm(obj=standard)
    needs_reason = services.has_calibrations(session, standard)
    if form.validate_on_submit():
        try:
            services.update_standard(session, standard=standard, reason=form.reason.data, **form.service_args())
        except services.StandardError as exc:
            session.rollback()
            _field_error(form, exc)
        else:
            session.commit()
            flash(_("Đã lưu chuẩn %(code)s.", code=standard.code), "success")
            return redirect(url_for(".detail", standard_id=standard.id))
    return render_template("standards/edit.html", form=form, standard=standard, needs_reason=needs_reason)


# --- calibrations ----------------------------------------------------------------------------------------------------

def _reference_choices(session, standard: Standard):
    return standard_choices(services.other_standards(session, standard))


@bp.route("/<int:standard_id>/calibrations/new", methods=["GET", "POST"])
@requires("standards.edit")
def calibration_create(standard_id: int):
    """Record a calibration certificate of a standard."""
    session = get_session()
    standard = _standard_or_404(standard_id)
    form = CalibrationForm()
    form.reference_ids.choices = _reference_choices(session, standard)
    if form.validate_on_submit():
        try:
            calibration = services.record_calibration(session, standard=standard, files_dir=_files_dir(),
                                                      **_actor(), **form.service_args())
        except services.StandardError as exc:
            session.rollback()
            _field_error(form, exc)
        else:
            session.commit()
            flash(_("Đã ghi hiệu chuẩn ngày %(date)s của chuẩn %(code)s.",
                    date=services.day(calibration.calibration_date), code=standard.code), "success")
            return redirect(url_for(".detail", standard_id=standard.id))
    return render_template("standards/calibration_create.html", form=form, standard=standard)


@bp.route("/calibrations/<int:calibration_id>/correct", methods=["GET", "POST"])
@requires("standards.edit")
def calibration_correct(calibration_id: int):
    """Correct a calibration record: a new record supersedes it, the old one is kept."""
    session = get_session()
    calibration = session.get(StandardCalibration, calibration_id) or abort(404)
    standard = calibration.standard
    newer = services.superseded_by(session, calibration)
    form = CorrectionForm()
    form.reference_ids.choices = _reference_choices(session, standard)
    if request.method == "GET":
        for name in ("calibration_date", "due_date", "source", "laboratory_name", "accreditation_number",
                     "certificate_number", "traceable_to", "notes"):
            getattr(form, name).data = getattr(calibration, name)
        form.reference_ids.data = [str(r.reference_id) for r in calibration.references]
        form.results.data = results_text(calibration.results)
    if form.validate_on_submit():
        try:
            correction = services.correct_calibration(session, calibration=calibration, files_dir=_files_dir(),
                                                      **_actor(), **form.service_args())
        except services.StandardError as exc:
            session.rollback()
            _field_error(form, exc)
        else:
            session.commit()
            flash(_("Đã ghi bản sửa #%(new)s thay thế bản ghi #%(old)s.", new=correction.id, old=calibration.id),
                  "success")
            return redirect(url_for(".detail", standard_id=standard.id))
    return render_template("standards/calibration_correct.html", form=form, standard=standard,
                           calibration=calibration, newer=newer)


@bp.route("/calibrations/<int:calibration_id>/certificate")
@requires("lab.view")
def certificate(calibration_id: int):
    """Download a calibration certificate file, after checking its SHA-256."""
    calibration = get_session().get(StandardCalibration, calibration_id) or abort(404)
    path = services.certificate_path(_files_dir(), calibration)
    if path is None or not path.is_file():
        abort(404)
    if not services.certificate_intact(_files_dir(), calibration):
        current_app.logger.error("certificate file of calibration %s does not match its SHA-256", calibration.id)
        abort(409)
    return send_file(path, as_attachment=True, download_name=calibration.certificate_filename or path.name)


# --- intermediate checks, control chart ------------------------------------------------------------------------------

@bp.route("/<int:standard_id>/checks/new", methods=["GET", "POST"])
@requires("standards.check")
def check_create(standard_id: int):
    """Record an intermediate check of a standard."""
    session = get_session()
    standard = _standard_or_404(standard_id)
    form = IntermediateCheckForm()
    previous = services.intermediate_checks(session, standard)
    if request.method == "GET":
        form.check_date.data = _today()
        if previous:
            last = previous[-1]
            for name in ("nominal", "unit", "value_unit", "reference_value", "limit"):
                getattr(form, name).data = getattr(last, name)
    if form.validate_on_submit():
        try:
            check = services.record_intermediate_check(session, standard=standard, performed_by_id=current_user.id,
                                                       performed_by_name=current_user.full_name,
                                                       **form.service_args())
        except services.StandardError as exc:
            session.rollback()
            _field_error(form, exc)
        else:
            session.commit()
            if check.is_passed:
                flash(_("Kiểm tra giữa kỳ đạt: độ lệch %(deviation)s %(unit)s trong giới hạn ±%(limit)s %(unit)s.",
                        deviation=check.deviation, unit=check.value_unit, limit=check.limit), "success")
            else:
                flash(_("Kiểm tra giữa kỳ KHÔNG ĐẠT: độ lệch %(deviation)s %(unit)s vượt giới hạn ±%(limit)s "
                        "%(unit)s. Chuẩn %(code)s đã chuyển sang trạng thái ngừng sử dụng.",
                        deviation=check.deviation, unit=check.value_unit, limit=check.limit, code=standard.code),
                      "danger")
            return redirect(url_for(".detail", standard_id=standard.id))
    return render_template("standards/check_create.html", form=form, standard=standard)


@bp.route("/<int:standard_id>/chart.png")
@requires("lab.view")
def chart(standard_id: int):
    """Draw the control chart of a standard's intermediate checks (one point) as a PNG."""
    session = get_session()
    standard = _standard_or_404(standard_id)
    checks = services.intermediate_checks(session, standard)
    nominal, _sep, unit = request.args.get("point", "").partition("|")
    data = services.control_chart_data(checks, nominal=nominal or None, unit=unit or None)
    # No series without points: charts.render_png would ask matplotlib for a legend of nothing (a warning).
    series = [charts.Series(_("Giá trị trung bình"), data.points, marker="o")] if data.points else []
    if data.failed:
        series.append(charts.Series(_("Không đạt"), data.failed, marker="x"))
    limits = []
    if data.reference is not None:
        limits.append(charts.Limit(data.reference, _("Giá trị quy chiếu"), style="-", color="#198754"))
        limits.append(charts.Limit(data.reference + data.limit, _("Giới hạn trên"), style="--"))
        limits.append(charts.Limit(data.reference - data.limit, _("Giới hạn dưới"), style="--"))
    title = _("Biểu đồ kiểm soát %(code)s tại %(nominal)s %(unit)s", code=standard.code, nominal=data.nominal,
              unit=data.unit) if data.nominal else _("Biểu đồ kiểm soát %(code)s", code=standard.code)
    png = charts.render_png(charts.LineChart(title=title, y_label=data.value_unit, series=series, limits=limits))
    return Response(png, mimetype="image/png", headers={"Cache-Control": "no-store"})


# --- out of service / return -----------------------------------------------------------------------------------------

def _service_event_view(standard_id: int, action: str):
    session = get_session()
    standard = _standard_or_404(standard_id)
    form = ServiceEventForm()
    status = services.standard_status(session, standard, on=_today())
    if request.method == "GET":
        form.event_date.data = _today()
    if form.validate_on_submit():
        call = services.take_out_of_service if action == "out" else services.return_to_service
        try:
            call(session, standard=standard, event_date=form.event_date.data, reason=form.reason.data, **_actor())
        except services.StandardError as exc:
            session.rollback()
            _field_error(form, exc)
        else:
            session.commit()
            flash(_("Đã ngừng sử dụng chuẩn %(code)s.", code=standard.code) if action == "out"
                  else _("Đã đưa chuẩn %(code)s trở lại sử dụng.", code=standard.code), "success")
            return redirect(url_for(".detail", standard_id=standard.id))
    template = "standards/take_out.html" if action == "out" else "standards/return_to_service.html"
    return render_template(template, form=form, standard=standard, status=status)


@bp.route("/<int:standard_id>/out-of-service", methods=["GET", "POST"])
@requires("standards.edit")
def take_out(standard_id: int):
    """Take a standard out of service (damage, suspected fault)."""
    return _service_event_view(standard_id, "out")


@bp.route("/<int:standard_id>/return", methods=["GET", "POST"])
@requires("standards.edit")
def return_to_service(standard_id: int):
    """Return a standard to service, with the reason."""
    return _service_event_view(standard_id, "return")


# --- adequacy --------------------------------------------------------------------------------------------------------

@bp.route("/adequacy")
@requires("lab.view")
def adequacy():
    """Find the standards adequate for an instrument at a load or point (error ≤ MPE / 3)."""
    form = AdequacyForm(request.args)
    rows, chosen, error = None, None, None
    if request.args and form.validate():
        instrument_type, spec, point = form.question()
        on = form.on.data or _today()
        try:
            rows = services.adequacy_table(get_session(), instrument_type=instrument_type, spec=spec,
                                           load_or_point=point, on=on, divisor=form.divisor.data or "3")
        except services.StandardError as exc:
            error = str(exc)
        else:
            usable = sorted((a for s, a in rows if s.usable and a.is_adequate),
                            key=lambda a: (a.standard_error, a.standard.code_key))
            chosen = ChosenStandardsForm()
            chosen.standard_ids.choices = adequate_choices(usable)
    elif not request.args:
        form.on.data = _today()
    return render_template("standards/adequacy.html", form=form, rows=rows, chosen=chosen, error=error,
                           kind_labels=services.KIND_LABELS)
