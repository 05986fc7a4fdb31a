"""Verification records: lists and queues, the record page, details, the live data-entry sheet, signatures,
amendments."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

import instruments as metrology
from lims.audit import services as audit
from lims.certificates import views as certificate_views
from lims.dates import centre_today, local
from lims.db import get_session
from lims.i18n import format_number
from lims.jobs import services as jobs
from lims.methods import services as methods
from lims.registry import services as registry
from lims.security import has_permission, requires
from lims.standards import services as standards

from . import services
from .forms import DetailsForm, FilterForm, ReasonForm, SignForm

bp = Blueprint("verifications", __name__, url_prefix="/verifications")


@bp.context_processor
def helpers() -> dict:
    return {"kind_labels": services.KIND_LABELS, "state_labels": services.STATE_LABELS,
            "meaning_labels": services.MEANING_LABELS, "condition_sources": services.CONDITION_SOURCES,
            "type_name": services.type_name, "show": display, "local_time": services.local_time,
            "queues": services.QUEUES, "limits_text": methods.limits_text, "spec_labels": registry.SPEC_LABELS}


def display(value: Any) -> str:
    """A result figure as shown: verdicts in words, numbers with the locale's decimal mark."""
    if value is True:
        return _("Đạt")
    if value is False:
        return _("Không đạt")
    if value is None:
        return ""
    return format_number(value)


def _verification_or_404(verification_id: int):
    return services.get_verification(get_session(), verification_id) or abort(404)


# --- lists --------------------------------------------------------------------------------------------------------

@bp.route("/")
@requires("verifications.view")
def index():
    """List records: my work, to review, to approve, or all with filters."""
    form = FilterForm(request.args)
    form.validate()
    session = get_session()
    flt = services.VerificationFilter(queue=form.queue.data or "", state=form.state.data or "",
                                      type_code=form.type_code.data or "",
                                      q=(form.q.data or "") if not form.q.errors else "", user_id=current_user.id)
    records = services.list_verifications(session, flt)
    args = {name: field.data for name, field in form._fields.items() if field.data}
    return render_template("verifications/index.html", form=form, records=records, args=args,
                           counts=services.queue_counts(session, user_id=current_user.id))


# --- creation and details -----------------------------------------------------------------------------------------

def _set_choices(form: DetailsForm, *, instrument, spec, kind: str, on, method_id, current_ids=()) -> None:
    session = get_session()
    versions = services.method_choices(session, type_code=instrument.type_code, kind=kind, on=on,
                                       current_id=method_id)
    form.method_version_id.choices = [SelectChoice("", _("— Chọn phương pháp —"))] + [
        SelectChoice(str(v.id), f"{v.designation} — {v.procedure.title}") for v in versions]
    people = services.technician_choices(session)
    form.technician_id.choices = [SelectChoice(str(u.id), u.full_name) for u in people]
    form.room_id.choices = [SelectChoice("", _("— Không chọn —"))] + [
        SelectChoice(str(r.id), f"{r.code} — {r.name}") for r in services.room_choices(session)]
    method = next((v for v in versions if str(v.id) == str(method_id)), None)
    offered = services.offered_standards(session, instrument=instrument, spec=spec, on=on, method=method)
    choices = [SelectChoice(str(s.standard.id), _("%(code)s — %(name)s (GCN %(number)s, hiệu lực đến %(until)s)",
                                                  code=s.standard.code, name=s.standard.name,
                                                  number=s.calibration.certificate_number or "—",
                                                  until=s.until.strftime("%d/%m/%Y") if s.until else "—"))
               for s in offered]
    offered_ids = {s.standard.id for s in offered}
    for standard_id in current_ids:  # keep what the draft holds, so that submission can say what is wrong with it
        if standard_id not in offered_ids:
            standard = standards.get_standard(session, standard_id)
            choices.append(SelectChoice(str(standard_id), f"{standard.code} — {standard.name} "
                                                          f"({_('không còn đủ điều kiện sử dụng')})"))
    form.standard_ids.choices = choices


def _default_method(form: DetailsForm) -> None:
    real = [c for c in form.method_version_id.choices if c.value]
    if len(real) == 1 and not form.method_version_id.data:
        form.method_version_id.data = real[0].value


@bp.route("/new", methods=["GET", "POST"])
@requires("verifications.edit")
def create():
    """Open a record for a received item: method in force, technician, date, place, room, standards."""
    session = get_session()
    item = jobs.get_item(session, request.args.get("job_item_id", type=int) or 0) or abort(404)
    instrument = item.instrument
    form = DetailsForm()
    if request.method == "GET":
        form.kind.data = item.service
        form.performed_date.data = centre_today()
        form.technician_id.data = str(current_user.id)
        job = item.job
        form.place.data = job.site_address if job.location == "on_site" else ""
        form.conditions_source.data = "entered" if job.location == "on_site" else "log"
    on = form.performed_date.data or centre_today()
    _set_choices(form, instrument=instrument, spec=instrument.spec, kind=form.kind.data or item.service, on=on,
                 method_id=form.method_version_id.data)
    if request.method == "GET":
        _default_method(form)
        _set_choices(form, instrument=instrument, spec=instrument.spec, kind=form.kind.data, on=on,
                     method_id=form.method_version_id.data)
        if current_user.id not in {int(c.value) for c in form.technician_id.choices}:
            form.technician_id.choices.append(SelectChoice(str(current_user.id), current_user.full_name))
    if form.validate_on_submit():
        args = form.service_args()
        try:
            verification = services.create_verification(
                session, job_item=item, technician_id=args["technician_id"] or current_user.id,
                performed_date=args["performed_date"], kind=form.kind.data)
            services.update_details(session, verification=verification, **args)
        except services.VerificationError as exc:
            session.rollback()
            form.place_error(exc)
        else:
            session.commit()
            flash(_("Đã lập biên bản #%(id)s. Nhập số đo.", id=verification.id), "success")
            return redirect(url_for(".entry", verification_id=verification.id))
    return render_template("verifications/create.html", form=form, item=item, instrument=instrument,
                           kind=metrology.get(instrument.type_code))


@bp.route("/<int:verification_id>/edit", methods=["GET", "POST"])
@requires("verifications.edit")
def edit(verification_id: int):
    """Change a draft's method, date and times, place, room, standards and conditions."""
    session = get_session()
    verification = _verification_or_404(verification_id)
    if verification.state != "draft":
        flash(_("Biên bản đã gửi không sửa trực tiếp được: hãy lập bản sửa đổi."), "warning")
        return redirect(url_for(".detail", verification_id=verification.id))
    conditions = verification.conditions or {}
    form = DetailsForm(obj=verification, data={
        "start_time": local(verification.started_at).time() if verification.started_at else None,
        "end_time": local(verification.finished_at).time() if verification.finished_at else None,
        "standard_ids": [str(link.standard_id) for link in verification.standards],
        "technician_id": str(verification.technician_id),
        "method_version_id": str(verification.method_version_id or ""),
        "room_id": str(verification.room_id or ""),
        "conditions_source": conditions.get("source", "log"),
        **{q: conditions.get(q) for q in ("temperature_c", "humidity_pct", "pressure_hpa")}})
    _set_choices(form, instrument=verification.instrument, spec=verification.spec, kind=verification.kind,
                 on=form.performed_date.data or verification.performed_date, method_id=form.method_version_id.data,
                 current_ids=[link.standard_id for link in verification.standards])
    if form.validate_on_submit():
        try:
            services.update_details(session, verification=verification, **form.service_args())
        except services.VerificationError as exc:
            session.rollback()
            form.place_error(exc)
        else:
            session.commit()
            flash(_("Đã lưu thông tin biên bản #%(id)s.", id=verification.root_id), "success")
            return redirect(url_for(".detail", verification_id=verification.id))
    return render_template("verifications/edit.html", form=form, verification=verification)


# --- data entry -----------------------------------------------------------------------------------------------------

def _evaluation_json(evaluation) -> dict:
    return {
        "ok": not evaluation.errors,
        "passed": evaluation.passed,
        "verdict": display(evaluation.passed) if evaluation.passed is not None else "",
        "errors": evaluation.errors,
        "cells": {row_id: {key: display(value) for key, value in cells.items()}
                  for row_id, cells in evaluation.cells.items()},
        "failed": {row_id: cells.get("passed") is False for row_id, cells in evaluation.cells.items()},
        "tests": {test: display(passed) for test, passed in evaluation.tests.items()},
        "summary": [[str(label), display(value)] for label, value in evaluation.summary],
    }


@bp.route("/<int:verification_id>/entry", methods=["GET", "POST"])
@requires("verifications.view")
def entry(verification_id: int):
    """Show the data-entry sheet generated from the engine's test plan; save the readings typed."""
    session = get_session()
    verification = _verification_or_404(verification_id)
    editable = verification.state == "draft" and has_permission("verifications.edit")
    form = SignForm(formdata=None)  # only for its CSRF token (the sheet's inputs are named by engine paths)
    if request.method == "POST":
        if not editable:
            abort(403)
        values = {key: value for key, value in request.form.items() if key != "csrf_token"}
        try:
            evaluation = services.record_readings(session, verification=verification, values=values)
        except services.VerificationError as exc:
            flash(str(exc), "danger")
            return redirect(url_for(".detail", verification_id=verification.id))
        session.commit()
        if evaluation.errors:
            flash(_("Đã lưu số đo; còn %(n)d chỗ cần sửa trước khi gửi.", n=len(evaluation.errors)), "warning")
        else:
            flash(_("Đã lưu số đo và kết quả tính: %(verdict)s.", verdict=display(evaluation.passed)), "success")
        return redirect(url_for(".entry", verification_id=verification.id))
    layout, values = services.sheet(verification)
    evaluation = services.evaluate(verification, values) if verification.readings else None
    return render_template("verifications/entry.html", verification=verification, layout=layout, values=values,
                           evaluation=_evaluation_json(evaluation) if evaluation else None, editable=editable,
                           form=form)


@bp.route("/<int:verification_id>/evaluate", methods=["POST"])
@requires("verifications.edit")
def evaluate(verification_id: int):
    """Compute errors, MPE and verdicts of the sheet as typed (JSON in, JSON out; nothing is stored)."""
    verification = _verification_or_404(verification_id)
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or not isinstance(payload.get("values"), dict):
        return jsonify(error=_("Yêu cầu phải là JSON dạng {\"values\": {…}}.")), 400
    values = {str(k): ("" if v is None else str(v))[:60] for k, v in list(payload["values"].items())[:2000]}
    return jsonify(_evaluation_json(services.evaluate(verification, values)))


# --- the record page ------------------------------------------------------------------------------------------------

@bp.route("/<int:verification_id>")
@requires("verifications.view")
def detail(verification_id: int):
    """Show a record: instrument, method, standards, conditions, readings and results, signatures, revisions."""
    session = get_session()
    verification = _verification_or_404(verification_id)
    layout, values = services.sheet(verification)
    evaluation = services.evaluate(verification, values) if verification.readings else None
    problems = (services.submission_problems(session, verification=verification)
                if verification.state == "draft" else [])
    matches = {s.id: services.signature_matches(session, s) for s in verification.signatures}
    return render_template(
        "verifications/detail.html", verification=verification, layout=layout, values=values,
        evaluation=_evaluation_json(evaluation) if evaluation else None, problems=problems, matches=matches,
        revisions=services.revisions(session, verification), sign_form=SignForm(formdata=None),
        reason_form=ReasonForm(formdata=None), history=audit.history(session, entity_type="verifications",
                                                                       entity_id=verification.id),
        record_sha256=services.record_sha256(verification),
        newer=services.latest_revision(session, verification),
        can=_abilities(verification))


def _abilities(verification) -> dict:
    state = verification.state
    mine = verification.technician_id == current_user.id
    return {
        "edit": state == "draft" and has_permission("verifications.edit"),
        "submit": state == "draft" and mine and has_permission("verifications.edit"),
        "review": state == "submitted" and not mine and has_permission("verifications.review"),
        "approve": state == "reviewed" and not mine and has_permission("verifications.approve"),
        "amend": state in ("submitted", "reviewed", "approved") and has_permission("verifications.edit"),
    }


# --- signatures and amendments --------------------------------------------------------------------------------------

def _signed(verification, meaning: str, action) -> Any:
    """Run ``action(session, password)`` (a signing service, and whatever must happen in the same transaction)
    with the re-entered password, then commit once; a wrong password is committed too (the attempt is counted)."""
    session = get_session()
    form = SignForm()
    if not form.validate_on_submit():
        flash(_("Hãy nhập mật khẩu để ký."), "danger")
        return redirect(url_for(".detail", verification_id=verification.id))
    try:
        action(session, form.password.data)
    except services.WrongPasswordError as exc:
        session.commit()  # the failed attempt stays in the audit trail
        flash(str(exc), "danger")
    except services.SubmissionRefusedError as exc:
        session.rollback()
        flash(_("Chưa gửi được biên bản:"), "danger")
        for reason in exc.reasons:
            flash(reason, "danger")
    except services.VerificationError as exc:
        session.rollback()
        flash(str(exc), "danger")
    else:
        session.commit()
        flash(_("Đã ký: %(meaning)s.", meaning=services.MEANING_LABELS[meaning]), "success")
    return redirect(url_for(".detail", verification_id=verification.id))


@bp.route("/<int:verification_id>/submit", methods=["POST"])
@requires("verifications.edit")
def submit(verification_id: int):
    """Sign the record as its technician and send it for review."""
    verification = _verification_or_404(verification_id)
    return _signed(verification, "performed", lambda session, password: services.submit(
        session, verification=verification, user_id=current_user.id, password=password))


@bp.route("/<int:verification_id>/review", methods=["POST"])
@requires("verifications.review")
def review(verification_id: int):
    """Sign the record as its reviewer."""
    verification = _verification_or_404(verification_id)
    return _signed(verification, "reviewed", lambda session, password: services.review(
        session, verification=verification, reviewer_id=current_user.id, password=password))


@bp.route("/<int:verification_id>/approve", methods=["POST"])
@requires("verifications.approve")
def approve(verification_id: int):
    """Sign the record as its approver."""
    verification = _verification_or_404(verification_id)

    def sign(session, password: str) -> None:
        services.approve(session, verification=verification, approver_id=current_user.id, password=password)
        certificate_views.issue_after_approval(session, verification=verification, approver_id=current_user.id)

    return _signed(verification, "approved", sign)


@bp.route("/<int:verification_id>/amend", methods=["POST"])
@requires("verifications.edit")
def amend(verification_id: int):
    """Open a new revision of a signed record, with the reason."""
    session = get_session()
    verification = _verification_or_404(verification_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        flash(_("Hãy ghi lý do sửa đổi."), "danger")
        return redirect(url_for(".detail", verification_id=verification.id))
    try:
        revision = services.amend(session, verification=verification, actor_id=current_user.id,
                                  reason=form.reason.data)
    except services.VerificationError as exc:
        session.rollback()
        flash(str(exc), "danger")
        return redirect(url_for(".detail", verification_id=verification.id))
    session.commit()
    flash(_("Đã lập bản sửa đổi lần %(n)d của biên bản #%(id)s.", n=revision.revision, id=revision.root_id),
          "success")
    return redirect(url_for(".detail", verification_id=revision.id))


@bp.route("/<int:verification_id>/cancel", methods=["POST"])
@requires("verifications.edit")
def cancel(verification_id: int):
    """Drop a draft opened by mistake, with the reason."""
    session = get_session()
    verification = _verification_or_404(verification_id)
    form = ReasonForm()
    if form.validate_on_submit():
        try:
            services.cancel(session, verification=verification, reason=form.reason.data)
        except services.VerificationError as exc:
            session.rollback()
            flash(str(exc), "danger")
        else:
            session.commit()
            flash(_("Đã huỷ bản nháp #%(id)s.", id=verification.root_id), "success")
    else:
        flash(_("Hãy ghi lý do huỷ."), "danger")
    return redirect(url_for(".detail", verification_id=verification.id))
