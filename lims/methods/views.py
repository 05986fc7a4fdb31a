"""Methods and document control: procedures, their versions, documents."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from wtforms import FormField

from lims import tabular
from lims.db import get_session
from lims.security import has_permission, requires
from lims.text import fold

from . import services
from .forms import CreateForm, FilterForm, ProcedureForm, VersionForm, WithdrawForm
from lims.dates import centre_today

bp = Blueprint("methods", __name__, url_prefix="/methods")


@bp.context_processor
def helpers():
    return {"limits_text": services.limits_text, "type_name": services.type_name,
            "test_label": services.required_test_label, "method_kinds": services.KINDS,
            "method_statuses": services.STATUS_LABELS, "status_on": services.status_on}


def _instance_dir() -> Path:
    return Path(current_app.instance_path)


def _upload(form) -> services.Upload | None:
    storage = form.document.data
    if not storage or not getattr(storage, "filename", ""):
        return None
    return services.Upload(filename=storage.filename, content=storage.read())


def show_error(form, exc: services.MethodError, form_errors: list[str]) -> None:
    """Put a service error on the field it names (``environment_limits.temperature_c.min`` walks the nested form),
    or among the form-level errors when this form has no such field."""
    target = form
    parts = exc.field.split(".")
    for index, part in enumerate(parts):
        field = getattr(target, "_fields", {}).get(part)
        if field is None:
            break
        if index < len(parts) - 1:
            if not isinstance(field, FormField):
                break
            target = field.form
        elif isinstance(field.errors, list):
            field.errors.append(str(exc))
            return
    form_errors.append(str(exc))


def _filters() -> FilterForm:
    return FilterForm(request.args)


def _listed(form: FilterForm):
    return services.list_versions(get_session(), q=form.q.data or "", instrument_type=form.instrument_type.data or "",
                                  status=form.status.data or "", kind=form.kind.data or "")


@bp.route("/")
@requires("lab.view")
def index():
    """List method versions with search and filters."""
    form = _filters()
    versions = _listed(form)
    return render_template("methods/index.html", form=form, versions=versions, today=centre_today(),
                           args={k: v for k, v in request.args.items() if v})


@bp.route("/export.<fmt>")
@requires("lab.view")
def export(fmt: str):
    """Download the filtered list as CSV or XLSX."""
    if fmt not in tabular.FORMATS:
        abort(404)
    today = centre_today()
    versions = _listed(_filters())
    columns = [
        tabular.Column(_("Số hiệu"), lambda v: v.designation),
        tabular.Column(_("Tên phương pháp"), lambda v: v.procedure.title),
        tabular.Column(_("Cơ quan ban hành"), lambda v: v.procedure.issuer),
        tabular.Column(_("Loại công việc"), lambda v: str(services.KINDS[v.kind])),
        tabular.Column(_("Loại phương tiện đo"),
                       lambda v: ", ".join(services.type_name(c) for c in v.instrument_types)),
        tabular.Column(_("Có hiệu lực từ"), lambda v: v.effective_date),
        tabular.Column(_("Hết hiệu lực từ"), lambda v: v.withdrawn_date),
        tabular.Column(_("Trạng thái"), lambda v: str(services.STATUS_LABELS[services.status_on(v, today)])),
        tabular.Column(_("Điều kiện môi trường"), lambda v: services.limits_text(v.environment_limits)),
        tabular.Column(_("Tỷ số đánh giá chuẩn"), lambda v: f"1/{v.adequacy_divisor}" if v.adequacy_divisor else ""),
        tabular.Column(_("Phép thử bắt buộc"), lambda v: ", ".join(v.required_tests)),
        tabular.Column(_("Tệp tài liệu"), lambda v: v.document_filename),
        tabular.Column("SHA-256", lambda v: v.document_sha256),
    ]
    return tabular.export_response(fmt, filename=f"phuong-phap-{today.isoformat()}", columns=columns, rows=versions,
                                   sheet=_("Phương pháp"))


@bp.route("/<int:procedure_id>")
@requires("lab.view")
def detail(procedure_id: int):
    """Show a procedure and every version of it, withdrawn ones included."""
    session = get_session()
    procedure = services.get_procedure(session, procedure_id) or abort(404)
    return render_template("methods/detail.html", procedure=procedure, today=centre_today(),
                           versions=sorted(procedure.versions, key=lambda v: v.effective_date, reverse=True),
                           can_edit=has_permission("methods.edit"))


@bp.route("/new", methods=["GET", "POST"])
@requires("methods.edit")
def create():
    """Add a procedure with its first version."""
    form = CreateForm()
    form_errors: list[str] = []
    if form.validate_on_submit():
        session = get_session()
        try:
            procedure = services.create_procedure(session, **form.procedure_args())
            version = services.issue_version(session, procedure_id=procedure.id, document=_upload(form),
                                             instance_dir=_instance_dir(), **form.service_args())
        except services.MethodError as exc:
            session.rollback()
            show_error(form, exc, form_errors)
        else:
            session.commit()
            flash(_("Đã thêm phương pháp %(name)s.", name=version.designation), "success")
            return redirect(url_for(".detail", procedure_id=procedure.id))
    return render_template("methods/create.html", form=form, form_errors=form_errors)


@bp.route("/<int:procedure_id>/edit", methods=["GET", "POST"])
@requires("methods.edit")
def edit(procedure_id: int):
    """Edit a procedure's number, title and issuer."""
    session = get_session()
    procedure = services.get_procedure(session, procedure_id) or abort(404)
    form = ProcedureForm(obj=procedure)
    form_errors: list[str] = []
    if form.validate_on_submit():
        try:
            services.update_procedure(session, procedure_id=procedure.id, reason=form.reason.data,
                                      **form.service_args())
        except services.MethodError as exc:
            session.rollback()
            show_error(form, exc, form_errors)
        else:
            session.commit()
            flash(_("Đã lưu phương pháp %(number)s.", number=procedure.number), "success")
            return redirect(url_for(".detail", procedure_id=procedure.id))
    return render_template("methods/edit.html", form=form, form_errors=form_errors, procedure=procedure,
                           in_use=services.procedure_in_use(procedure))


@bp.route("/<int:procedure_id>/versions/new", methods=["GET", "POST"])
@requires("methods.edit")
def create_version(procedure_id: int):
    """Issue a new version of a procedure (the current one is withdrawn from its effective date)."""
    session = get_session()
    procedure = services.get_procedure(session, procedure_id) or abort(404)
    latest = max(procedure.versions, key=lambda v: v.effective_date, default=None)
    form = VersionForm(obj=latest) if request.method == "GET" and latest else VersionForm()
    if request.method == "GET":
        form.version_label.data = ""
        form.effective_date.data = None
        form.notes.data = ""
    form_errors: list[str] = []
    if form.validate_on_submit():
        try:
            version = services.issue_version(session, procedure_id=procedure.id, document=_upload(form),
                                             instance_dir=_instance_dir(), reason=form.reason.data,
                                             **form.service_args())
        except services.MethodError as exc:
            session.rollback()
            show_error(form, exc, form_errors)
        else:
            session.commit()
            flash(_("Đã ban hành %(name)s.", name=version.designation), "success")
            return redirect(url_for(".detail", procedure_id=procedure.id))
    return render_template("methods/create_version.html", form=form, form_errors=form_errors, procedure=procedure,
                           latest=latest)


@bp.route("/versions/<int:method_version_id>/edit", methods=["GET", "POST"])
@requires("methods.edit")
def edit_version(method_version_id: int):
    """Edit a version (with a reason once it is in force)."""
    session = get_session()
    version = services.get_version(session, method_version_id) or abort(404)
    form = VersionForm(obj=version)
    form_errors: list[str] = []
    if form.validate_on_submit():
        try:
            services.update_version(session, method_version_id=version.id, document=_upload(form),
                                    instance_dir=_instance_dir(), reason=form.reason.data, **form.service_args())
        except services.MethodError as exc:
            session.rollback()
            show_error(form, exc, form_errors)
        else:
            session.commit()
            flash(_("Đã lưu %(name)s.", name=version.designation), "success")
            return redirect(url_for(".detail", procedure_id=version.procedure_id))
    return render_template("methods/edit_version.html", form=form, form_errors=form_errors, version=version,
                           in_use=services.is_in_use(version))


@bp.route("/versions/<int:method_version_id>/withdraw", methods=["GET", "POST"])
@requires("methods.edit")
def withdraw(method_version_id: int):
    """Withdraw a version from a date, with a reason."""
    session = get_session()
    version = services.get_version(session, method_version_id) or abort(404)
    form = WithdrawForm()
    form_errors: list[str] = []
    if form.validate_on_submit():
        try:
            services.withdraw_version(session, method_version_id=version.id, withdrawn_date=form.withdrawn_date.data,
                                      reason=form.reason.data)
        except services.MethodError as exc:
            session.rollback()
            show_error(form, exc, form_errors)
        else:
            session.commit()
            flash(_("Đã huỷ bỏ %(name)s từ ngày %(day)s.", name=version.designation,
                    day=services.day_text(version.withdrawn_date)), "success")
            return redirect(url_for(".detail", procedure_id=version.procedure_id))
    return render_template("methods/withdraw.html", form=form, form_errors=form_errors, version=version)


@bp.route("/versions/<int:method_version_id>/document")
@requires("lab.view")
def document(method_version_id: int):
    """Download a version's document file (checked against its SHA-256 first)."""
    version = services.get_version(get_session(), method_version_id) or abort(404)
    try:
        content = services.read_document(version, instance_dir=_instance_dir())
    except services.MethodError as exc:
        if not version.document_path:
            abort(404)
        current_app.logger.error("method document %s: %s", version.id, exc)
        return render_template("errors/error.html", code=409, title=_("Tệp tài liệu không dùng được"),
                               message=str(exc)), 409
    ext = Path(version.document_path).suffix
    mimetype = {".pdf": "application/pdf", ".doc": "application/msword",
                ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}[ext]
    # An ASCII name for old clients ("dlvn-39-2004.pdf"), the original name (RFC 6266) for the others.
    ascii_name = "-".join(fold(f"{version.procedure.number} {version.version_label}").split()) or "document"
    ascii_name = "".join(ch for ch in ascii_name if ch.isascii() and (ch.isalnum() or ch in "-_")) + ext
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(version.document_filename)}"
    return Response(content, mimetype=mimetype, headers={"Content-Disposition": disposition})
