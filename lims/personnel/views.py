"""Personnel competence: people, qualifications, trainings, authorisations, the matrix and the reports."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _

from lims import tabular
from lims.auth.models import User
from lims.auth.permissions import ROLES
from lims.db import get_session
from lims.security import requires
from lims.tabular import Column

from . import services
from .forms import (AuthorisationEditForm, AuthorisationForm, DeleteForm, QualificationEditForm, QualificationForm,
                    RevokeForm, TrainingEditForm, TrainingForm)
from .models import Authorisation, Qualification, Training
from lims.dates import centre_today

bp = Blueprint("personnel", __name__, url_prefix="/personnel")


def _files_dir() -> Path:
    return Path(current_app.instance_path)


def _day_arg(name: str) -> dt.date:
    """A yyyy-mm-dd query argument, today when absent or malformed."""
    try:
        return dt.date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return centre_today()


def _int_arg(name: str, default: int, *, low: int, high: int) -> int:
    value = request.args.get(name, type=int)
    return default if value is None else max(low, min(high, value))


def _export_format() -> str | None:
    fmt = request.args.get("format", "")
    if fmt and fmt not in tabular.FORMATS:
        abort(404)
    return fmt or None


def _field_error(form, exc: services.PersonnelError) -> None:
    target = getattr(form, exc.field, None)
    if target is None or not hasattr(target, "errors"):
        flash(str(exc), "danger")
    else:
        target.errors = list(target.errors) + [str(exc)]


def _upload(form) -> services.UploadedFile | None:
    storage = form.certificate_file.data
    if storage is None or not getattr(storage, "filename", ""):
        return None
    return services.UploadedFile(filename=storage.filename, data=storage.read())


def _person(user_id: int) -> User:
    return get_session().get(User, user_id) or abort(404)


# --- people -------------------------------------------------------------------------------------------------------

@bp.route("/")
@requires("lab.view")
def index():
    """List the staff with their records."""
    q = request.args.get("q", "").strip()
    role = request.args.get("role", "")
    if role not in services.STAFF_ROLES:
        role = ""
    people = services.list_people(get_session(), q=q, role=role)
    return render_template("personnel/index.html", people=people, q=q, role=role,
                           roles=[(code, ROLES[code]) for code in services.STAFF_ROLES], role_labels=ROLES)


@bp.route("/people/<int:user_id>")
@requires("lab.view")
def detail(user_id: int):
    """Show a person's qualifications, trainings and authorisations."""
    session = get_session()
    user = _person(user_id)
    today = centre_today()
    records = services.person_records(session, user=user)
    states = {a.id: services.status_on(a, today) for a in records.authorisations}
    return render_template("personnel/detail.html", person=user, records=records, states=states, today=today,
                           degrees=services.DEGREES, type_name=services.type_name,
                           activities=services.ACTIVITIES, state_labels=services.STATES)


# --- qualifications -----------------------------------------------------------------------------------------------

@bp.route("/people/<int:user_id>/qualifications/new", methods=["GET", "POST"])
@requires("personnel.edit")
def create_qualification(user_id: int):
    """Record a person's degree or diploma."""
    person = _person(user_id)
    form = QualificationForm()
    if form.validate_on_submit():
        session = get_session()
        try:
            services.add_qualification(session, user_id=person.id, **form.service_args())
        except services.PersonnelError as exc:
            _field_error(form, exc)
        else:
            session.commit()
            flash(_("Đã ghi nhận văn bằng của %(name)s.", name=person.full_name), "success")
            return redirect(url_for(".detail", user_id=person.id))
    return render_template("personnel/create_qualification.html", form=form, person=person)


@bp.route("/qualifications/<int:qualification_id>/edit", methods=["GET", "POST"])
@requires("personnel.edit")
def edit_qualification(qualification_id: int):
    """Correct a qualification (with a reason once it is in use)."""
    session = get_session()
    qualification = session.get(Qualification, qualification_id) or abort(404)
    form = QualificationEditForm(obj=qualification)
    needs_reason = services.recorded_before(qualification, centre_today())
    if form.validate_on_submit():
        try:
            services.update_qualification(session, qualification=qualification, reason=form.reason.data,
                                          **form.service_args())
        except services.PersonnelError as exc:
            _field_error(form, exc)
        else:
            session.commit()
            flash(_("Đã lưu văn bằng."), "success")
            return redirect(url_for(".detail", user_id=qualification.user_id))
    return render_template("personnel/edit_qualification.html", form=form, qualification=qualification,
                           person=qualification.user, needs_reason=needs_reason, delete_form=DeleteForm())


@bp.route("/qualifications/<int:qualification_id>/delete", methods=["POST"])
@requires("personnel.edit")
def delete_qualification(qualification_id: int):
    """Remove a qualification entered by mistake."""
    session = get_session()
    qualification = session.get(Qualification, qualification_id) or abort(404)
    user_id = qualification.user_id
    form = DeleteForm()
    try:
        services.delete_qualification(session, qualification=qualification,
                                      reason=form.reason.data if form.validate_on_submit() else "")
    except services.PersonnelError as exc:
        flash(str(exc), "danger")
        return redirect(url_for(".edit_qualification", qualification_id=qualification_id))
    session.commit()
    flash(_("Đã xoá văn bằng."), "success")
    return redirect(url_for(".detail", user_id=user_id))


# --- trainings ----------------------------------------------------------------------------------------------------

@bp.route("/people/<int:user_id>/trainings/new", methods=["GET", "POST"])
@requires("personnel.edit")
def create_training(user_id: int):
    """Record a course a person attended."""
    person = _person(user_id)
    form = TrainingForm()
    if form.validate_on_submit():
        session = get_session()
        try:
            services.add_training(session, user_id=person.id, files_dir=_files_dir(),
                                  certificate_file=_upload(form), **form.service_args())
        except services.PersonnelError as exc:
            _field_error(form, exc)
        else:
            session.commit()
            flash(_("Đã ghi nhận khoá đào tạo của %(name)s.", name=person.full_name), "success")
            return redirect(url_for(".detail", user_id=person.id))
    return render_template("personnel/create_training.html", form=form, person=person)


@bp.route("/trainings/<int:training_id>/edit", methods=["GET", "POST"])
@requires("personnel.edit")
def edit_training(training_id: int):
    """Correct a training record (with a reason once it is in use)."""
    session = get_session()
    training = session.get(Training, training_id) or abort(404)
    form = TrainingEditForm(obj=training)
    needs_reason = services.recorded_before(training, centre_today())
    if form.validate_on_submit():
        try:
            services.update_training(session, training=training, reason=form.reason.data, files_dir=_files_dir(),
                                     certificate_file=_upload(form), **form.service_args())
        except services.PersonnelError as exc:
            _field_error(form, exc)
        else:
            session.commit()
            flash(_("Đã lưu khoá đào tạo."), "success")
            return redirect(url_for(".detail", user_id=training.user_id))
    return render_template("personnel/edit_training.html", form=form, training=training, person=training.user,
                           needs_reason=needs_reason, delete_form=DeleteForm())


@bp.route("/trainings/<int:training_id>/delete", methods=["POST"])
@requires("personnel.edit")
def delete_training(training_id: int):
    """Remove a training record entered by mistake."""
    session = get_session()
    training = session.get(Training, training_id) or abort(404)
    user_id = training.user_id
    form = DeleteForm()
    try:
        services.delete_training(session, training=training,
                                 reason=form.reason.data if form.validate_on_submit() else "")
    except services.PersonnelError as exc:
        flash(str(exc), "danger")
        return redirect(url_for(".edit_training", training_id=training_id))
    session.commit()
    flash(_("Đã xoá khoá đào tạo."), "success")
    return redirect(url_for(".detail", user_id=user_id))


@bp.route("/trainings/<int:training_id>/certificate")
@requires("lab.view")
def certificate(training_id: int):
    """Download a training certificate file (checked against its SHA-256)."""
    training = get_session().get(Training, training_id) or abort(404)
    if not training.certificate_path:
        abort(404)
    try:
        data, mimetype = services.read_certificate(_files_dir(), training)
    except services.CertificateFileError as exc:
        current_app.logger.error("training %s certificate: %s", training.id, exc)
        return render_template("errors/error.html", code=409, title=_("Tệp chứng chỉ"), message=str(exc)), 409
    return send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=True,
                     download_name=training.certificate_filename or Path(training.certificate_path).name)


@bp.route("/trainings/report")
@requires("lab.view")
def training_report():
    """Report a year's trainees and hours (by the year each course ended)."""
    session = get_session()
    years = services.training_years(session)
    today = centre_today()
    year = _int_arg("year", years[0] if years else today.year, low=services.FIRST_YEAR, high=today.year)
    report = services.training_report(session, year=year)
    fmt = _export_format()
    if fmt:
        total = services.CourseLine(course=_("Tổng cộng"), provider="", start_date=None, end_date=None,
                                    trainees=report.trainees, course_hours=None, trainee_hours=report.trainee_hours)
        columns = [
            Column(_("Khoá đào tạo"), lambda line: line.course),
            Column(_("Đơn vị tổ chức"), lambda line: line.provider),
            Column(_("Từ ngày"), lambda line: line.start_date),
            Column(_("Đến ngày"), lambda line: line.end_date),
            Column(_("Số người"), lambda line: line.trainees),
            Column(_("Số giờ mỗi khoá"), lambda line: line.course_hours),
            Column(_("Tổng số giờ (người × giờ)"), lambda line: line.trainee_hours),
        ]
        return tabular.export_response(fmt, filename=f"dao-tao-{year}", columns=columns,
                                       rows=[*report.courses, total], sheet=_("Đào tạo %(year)d", year=year))
    return render_template("personnel/training_report.html", report=report, years=years or [year], year=year)


# --- authorisations -----------------------------------------------------------------------------------------------

@bp.route("/people/<int:user_id>/authorisations/new", methods=["GET", "POST"])
@requires("personnel.edit")
def create_authorisation(user_id: int):
    """Authorise a person for an instrument type."""
    session = get_session()
    person = _person(user_id)
    form = AuthorisationForm()
    form.set_grantors(services.grantor_choices(session))
    if form.validate_on_submit():
        try:
            authorisation = services.grant_authorisation(session, user_id=person.id, **form.service_args())
        except services.PersonnelError as exc:
            _field_error(form, exc)
        else:
            session.commit()
            flash(_("Đã ghi nhận ủy quyền %(type)s cho %(name)s.", type=services.type_name(
                authorisation.instrument_type), name=person.full_name), "success")
            return redirect(url_for(".detail", user_id=person.id))
    return render_template("personnel/create_authorisation.html", form=form, person=person,
                           authorities=services.ISSUING_AUTHORITIES)


@bp.route("/authorisations/<int:authorisation_id>/edit", methods=["GET", "POST"])
@requires("personnel.edit")
def edit_authorisation(authorisation_id: int):
    """Correct an authorisation (with a reason once it has been valid before today)."""
    session = get_session()
    authorisation = session.get(Authorisation, authorisation_id) or abort(404)
    form = AuthorisationEditForm(obj=authorisation)
    form.set_grantors(services.grantor_choices(session), current=authorisation.granted_by)
    needs_reason = services.authorisation_in_use(authorisation, centre_today())
    if form.validate_on_submit():
        try:
            services.update_authorisation(session, authorisation=authorisation, reason=form.reason.data,
                                          **form.service_args())
        except services.PersonnelError as exc:
            _field_error(form, exc)
        else:
            session.commit()
            flash(_("Đã lưu ủy quyền."), "success")
            return redirect(url_for(".detail", user_id=authorisation.user_id))
    return render_template("personnel/edit_authorisation.html", form=form, authorisation=authorisation,
                           person=authorisation.user, needs_reason=needs_reason,
                           authorities=services.ISSUING_AUTHORITIES)


@bp.route("/authorisations/<int:authorisation_id>/revoke", methods=["GET", "POST"])
@requires("personnel.edit")
def revoke_authorisation(authorisation_id: int):
    """Revoke an authorisation from a date on."""
    session = get_session()
    authorisation = session.get(Authorisation, authorisation_id) or abort(404)
    form = RevokeForm()
    if request.method == "GET":
        form.revoked_date.data = centre_today()
    if form.validate_on_submit():
        try:
            services.revoke_authorisation(session, authorisation=authorisation, revoked_date=form.revoked_date.data,
                                          revocation_reason=form.revocation_reason.data)
        except services.PersonnelError as exc:
            _field_error(form, exc)
        else:
            session.commit()
            flash(_("Đã thu hồi ủy quyền."), "success")
            return redirect(url_for(".detail", user_id=authorisation.user_id))
    return render_template("personnel/revoke_authorisation.html", form=form, authorisation=authorisation,
                           person=authorisation.user, type_name=services.type_name)


def _authorisation_columns(state_of) -> list[Column]:
    return [
        Column(_("Họ và tên"), lambda a: a.user.full_name),
        Column(_("Loại phương tiện đo"), lambda a: services.type_name(a.instrument_type)),
        Column(_("Phạm vi"), lambda a: a.scope),
        Column(_("Thực hiện"), lambda a: a.can_perform),
        Column(_("Soát xét"), lambda a: a.can_review),
        Column(_("Phê duyệt"), lambda a: a.can_approve),
        Column(_("Số thẻ kiểm định viên"), lambda a: a.card_number),
        Column(_("Hiệu lực từ"), lambda a: a.valid_from),
        Column(_("Hiệu lực đến"), lambda a: a.valid_until),
        Column(_("Cấp bởi"), lambda a: a.granted_by.full_name if a.granted_by else a.granted_by_authority),
        Column(_("Ngày thu hồi"), lambda a: a.revoked_date),
        Column(_("Lý do thu hồi"), lambda a: a.revocation_reason),
        Column(_("Trạng thái"), lambda a: str(services.STATES[state_of(a)])),
    ]


@bp.route("/authorisations")
@requires("lab.view")
def authorisations():
    """List authorisations with their state, filtered by person, type and state."""
    on = _day_arg("on")
    q = request.args.get("q", "").strip()
    instrument_type = request.args.get("instrument_type", "")
    if instrument_type not in dict(services.type_choices()):
        instrument_type = ""
    state = request.args.get("state", "")
    if state not in services.STATES or state == "none":
        state = ""
    rows = services.search_authorisations(get_session(), q=q, instrument_type=instrument_type, state=state, on=on)
    fmt = _export_format()
    if fmt:
        states = {a.id: s for a, s in rows}
        return tabular.export_response(fmt, filename=f"uy-quyen-{on.isoformat()}",
                                       columns=_authorisation_columns(lambda a: states[a.id]),
                                       rows=[a for a, _s in rows], sheet=_("Ủy quyền"))
    return render_template("personnel/authorisations.html", rows=rows, q=q, instrument_type=instrument_type,
                           state=state, on=on, types=services.type_choices(), state_labels=services.STATES,
                           type_name=services.type_name)


@bp.route("/authorisations/expiring")
@requires("lab.view")
def expiring():
    """List authorisations that end within N days and are not yet renewed."""
    on = centre_today()
    days = _int_arg("days", services.EXPIRING_DAYS, low=1, high=3660)
    instrument_type = request.args.get("instrument_type", "")
    if instrument_type not in dict(services.type_choices()):
        instrument_type = ""
    rows = services.list_expiring_authorisations(get_session(), within_days=days, on=on,
                                                 instrument_type=instrument_type)
    fmt = _export_format()
    if fmt:
        columns = _authorisation_columns(lambda a: "expiring") + [
            Column(_("Còn lại (ngày)"), lambda a: (a.valid_until - on).days)]
        return tabular.export_response(fmt, filename=f"uy-quyen-sap-het-han-{days}-ngay", columns=columns,
                                       rows=[row.authorisation for row in rows], sheet=_("Sắp hết hạn"))
    return render_template("personnel/expiring.html", rows=rows, days=days, instrument_type=instrument_type,
                           on=on, types=services.type_choices(), type_name=services.type_name,
                           activities=services.ACTIVITIES)


@bp.route("/matrix")
@requires("lab.view")
def matrix():
    """Show people × instrument types, coloured by the validity of their authorisations."""
    on = _day_arg("on")
    result = services.authorisation_matrix(get_session(), on=on)
    fmt = _export_format()
    if fmt:
        def cell_text(cell: services.MatrixCell) -> str:
            text = str(services.STATES[cell.state])
            if cell.cover_until:
                text += " " + _("đến %(day)s", day=services.day_text(cell.cover_until))
            if cell.activities:
                text += " (" + ", ".join(str(services.ACTIVITIES[code][2]) for code in cell.activities) + ")"
            return text

        columns = [Column(_("Họ và tên"), lambda row: row.user.full_name)] + [
            Column(name, lambda row, i=i: cell_text(row.cells[i])) for i, (_code, name) in enumerate(result.types)]
        return tabular.export_response(fmt, filename=f"ma-tran-uy-quyen-{on.isoformat()}", columns=columns,
                                       rows=result.rows, sheet=_("Ma trận ủy quyền"))
    return render_template("personnel/matrix.html", matrix=result, state_labels=services.STATES,
                           activities=services.ACTIVITIES, today=centre_today())
