"""Certificates and the stamp inventory: list, detail, PDF, QR, amendment, revocation; stamps received, assigned,
spoiled. Views are thin: form → service → commit once → redirect."""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from wtforms.fields.choices import SelectChoice

from lims import tabular
from lims.dates import centre_today
from lims.db import get_session
from lims.security import has_permission, requires

from . import qr, services, stamps
from .forms import (KIND_LABELS, SIGNATURE_LABELS, STAMP_STATE_LABELS, STATUS_LABELS, AmendForm, AssignStampsForm,
                    FilterForm, ReceiveStampsForm, RevokeForm, SpoilStampForm, StampFilterForm)

bp = Blueprint("certificates", __name__)


@bp.context_processor
def labels():
    return {"kind_labels": KIND_LABELS, "status_labels": STATUS_LABELS, "stamp_state_labels": STAMP_STATE_LABELS,
            "signature_labels": SIGNATURE_LABELS, "status_on": services.status_on}


def _certificate_or_404(certificate_id: int):
    return services.get_certificate(get_session(), certificate_id) or abort(404)


def _filter(form: FilterForm) -> services.CertificateFilter:
    valid = form.validate()
    return services.CertificateFilter(
        status=form.status.data or "", kind=form.kind.data or "", q=form.q.data or "",
        date_from=form.date_from.data if valid else None, date_to=form.date_to.data if valid else None)


# --- certificates -------------------------------------------------------------------------------------------------

@bp.route("/certificates/")
@requires("certificates.view")
def index():
    """List certificates with filters (status, kind, dates, number / serial / customer)."""
    session = get_session()
    form = FilterForm(request.args)
    flt = _filter(form)
    page = max(request.args.get("page", 1, type=int), 1)
    rows, has_next = services.list_certificates(session, flt, page=page)
    args = {key: value for key, value in request.args.items() if key != "page" and value}
    can_issue = has_permission("certificates.issue")
    return render_template("certificates/index.html", form=form, rows=rows, page=page, has_next=has_next, args=args,
                           today=centre_today(), counts=services.counts_by_status(session), can_issue=can_issue,
                           awaiting=services.awaiting_issue(session) if can_issue else [])


@bp.route("/certificates/export.<fmt>")
@requires("certificates.view")
def export(fmt: str):
    """Download the filtered list as CSV or XLSX (read before streaming: the request's session closes first)."""
    if fmt not in tabular.FORMATS:
        abort(404)
    session = get_session()
    today = centre_today()
    columns = [
        tabular.Column(_("Số"), lambda c: c.number),
        tabular.Column(_("Lần ban hành"), lambda c: c.revision),
        tabular.Column(_("Loại"), lambda c: str(KIND_LABELS[c.kind])),
        tabular.Column(_("Tình trạng"), lambda c: str(STATUS_LABELS[services.status_on(c, today)])),
        tabular.Column(_("Ngày cấp"), lambda c: c.issue_date),
        tabular.Column(_("Hiệu lực đến"), lambda c: c.valid_until),
        tabular.Column(_("Số sản xuất"), lambda c: c.serial),
        tabular.Column(_("Khách hàng"), lambda c: c.customer_name),
        tabular.Column(_("Số tem"), lambda c: c.stamp.number if c.stamp else ""),
    ]
    return tabular.export_response(fmt, filename=f"giay-chung-nhan-{today:%Y%m%d}", columns=columns,
                                   rows=list(services.iter_certificates(session, _filter(FilterForm(request.args)),
                                                                        today=today)), sheet="Certificates")


@bp.route("/certificates/<int:certificate_id>")
@requires("certificates.view")
def detail(certificate_id: int):
    """Show a certificate: its status, seal, QR code, revisions and PDF."""
    session = get_session()
    certificate = _certificate_or_404(certificate_id)
    chain = services.revision_chain(session, certificate)
    following = services.superseded_by(session, certificate)
    from lims.auth.models import User

    names = {user.id: user.full_name for user in (session.get(User, uid) for uid in
                                                   {certificate.issued_by_id, certificate.revoked_by_id} if uid)}
    return render_template("certificates/detail.html", certificate=certificate, chain=chain, following=following,
                           document=services.document_of(certificate), today=centre_today(), names=names,
                           can_issue=has_permission("certificates.issue"),
                           can_revoke=has_permission("certificates.revoke"))


@bp.route("/certificates/<int:certificate_id>/pdf")
@requires("certificates.view")
def pdf(certificate_id: int):
    """Download the certificate's PDF as issued."""
    certificate = _certificate_or_404(certificate_id)
    data = services.stored_pdf(get_session(), certificate)
    filename = certificate.number.replace("Đ", "D").replace("đ", "d")
    disposition = "attachment" if request.args.get("download") else "inline"
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f'{disposition}; filename="{filename}.pdf"', "Cache-Control": "no-store",
        "X-Content-SHA256": certificate.pdf_sha256})


@bp.route("/certificates/<int:certificate_id>/qr.svg")
@requires("certificates.view")
def qr_image(certificate_id: int):
    """Draw the certificate's QR seal as SVG."""
    certificate = _certificate_or_404(certificate_id)
    matrix = qr.qr_matrix(certificate.seal_url)
    size = len(matrix) + 8  # the 4-module quiet zone on each side
    rects = "".join(f'<rect x="{column + 4}" y="{row + 4}" width="{length}" height="1"/>'
                    for row, column, length in qr.dark_runs(matrix))
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" shape-rendering="crispEdges">'
           f'<rect width="{size}" height="{size}" fill="#fff"/><g fill="#000">{rects}</g></svg>')
    return Response(svg, mimetype="image/svg+xml", headers={"Cache-Control": "private, max-age=3600"})


@bp.route("/certificates/<int:certificate_id>/integrity")
@requires("certificates.view")
def integrity(certificate_id: int):
    """Check that the stored record, seal and PDF still agree (the PDF is printed again and compared)."""
    certificate = _certificate_or_404(certificate_id)
    result = services.check_integrity(get_session(), certificate)
    if result.ok:
        flash(_("Giấy chứng nhận %(number)s toàn vẹn: bản ghi khớp với mã tem, tệp PDF lưu trữ và bản in lại giống "
                "hệt bản đã cấp.", number=certificate.number), "success")
    else:
        problems = []
        if not result.record_ok:
            problems.append(_("bản ghi không còn khớp với giá trị băm đã ký"))
        if not result.seal_ok:
            problems.append(_("chữ ký của mã tem không kiểm tra được"))
        if not result.stored_pdf_ok:
            problems.append(_("tệp PDF lưu trữ khác với bản đã cấp"))
        if not result.reprint_ok:
            problems.append(_("bản in lại khác với bản đã cấp"))
        flash(_("Giấy chứng nhận %(number)s KHÔNG toàn vẹn: %(problems)s.", number=certificate.number,
                problems="; ".join(problems)), "danger")
    return redirect(url_for(".detail", certificate_id=certificate.id))


@bp.route("/certificates/<int:certificate_id>/revoke", methods=["GET", "POST"])
@requires("certificates.revoke")
def revoke(certificate_id: int):
    """Revoke a certificate, with the reason."""
    certificate = _certificate_or_404(certificate_id)
    form = RevokeForm()
    if form.validate_on_submit():
        session = get_session()
        try:
            services.revoke_certificate(session, certificate=certificate, reason=form.reason.data,
                                        revoked_by_id=current_user.id)
        except services.CertificateError as exc:
            session.rollback()
            form.reason.errors.append(str(exc))
        else:
            session.commit()
            flash(_("Đã thu hồi giấy chứng nhận %(number)s.", number=certificate.number), "success")
            return redirect(url_for(".detail", certificate_id=certificate.id))
    return render_template("certificates/revoke.html", form=form, certificate=certificate)


@bp.route("/certificates/<int:certificate_id>/amend", methods=["GET", "POST"])
@requires("certificates.issue")
def amend(certificate_id: int):
    """Issue an amended certificate that replaces this one (17025 7.8.8)."""
    certificate = _certificate_or_404(certificate_id)
    form = AmendForm()
    if request.method == "GET":
        form.request_key.data = f"amend:{certificate.id}:{uuid.uuid4().hex}"
    errors: list[str] = []
    if form.validate_on_submit():
        session = get_session()
        key = form.request_key.data or f"amend:{certificate.id}:{uuid.uuid4().hex}"
        try:
            new = services.amend_certificate(session, certificate=certificate, reason=form.reason.data,
                                             issued_by_id=current_user.id, request_key=key,
                                             settings=services.IssueSettings.from_config(current_app.config))
        except services.CertificateError as exc:
            session.rollback()
            (form.reason.errors if exc.field == "reason" else errors).append(str(exc))
        except services.SealKeyError as exc:
            session.rollback()
            errors.append(str(exc))
        else:
            new = _commit_issue(session, new, key)
            flash(_("Đã cấp %(number)s thay thế %(old)s.", number=new.number, old=certificate.number), "success")
            return redirect(url_for(".detail", certificate_id=new.id))
    return render_template("certificates/amend.html", form=form, certificate=certificate, errors=errors)


@bp.route("/certificates/issue/<int:verification_id>", methods=["POST"])
@requires("certificates.issue")
def issue(verification_id: int):
    """Issue the certificate of an approved record that has none (e.g. when a stamp was missing at approval)."""
    from lims.verifications.models import Verification

    session = get_session()
    verification = session.get(Verification, verification_id) or abort(404)
    key = (request.form.get("request_key") or "").strip()[:100] or f"verification:{verification.id}"
    try:
        certificate = services.issue_for_verification(
            session, verification=verification, issued_by_id=current_user.id, request_key=key,
            settings=services.IssueSettings.from_config(current_app.config))
    except services.AlreadyIssuedError as exc:
        session.rollback()
        flash(str(exc), "info")
        return redirect(url_for(".detail", certificate_id=exc.certificate.id))
    except (services.CertificateError, services.SealKeyError) as exc:
        session.rollback()
        flash(str(exc), "danger")
        return redirect(request.referrer or url_for(".index"))
    certificate = _commit_issue(session, certificate, key)
    flash(_("Đã cấp %(what)s số %(number)s.", what=KIND_LABELS[certificate.kind], number=certificate.number),
          "success")
    return redirect(url_for(".detail", certificate_id=certificate.id))


def issue_after_approval(session, *, verification, approver_id: int):
    """Issue what a record just approved gives, in the approval's transaction (the approve view of
    lims.verifications calls this right after ``verifications.services.approve``, before it commits once).

    The issuance runs in a savepoint: when it is refused (no stamp left, no seal key …) the approval stands, the
    reason is flashed, and the record waits on the certificates page (``awaiting_issue``) until someone with
    ``certificates.issue`` issues it. The request key is the record's own: approving cannot issue twice."""
    try:
        with session.begin_nested():
            certificate = services.issue_for_verification(
                session, verification=verification, issued_by_id=approver_id,
                request_key=f"verification:{verification.id}",
                settings=services.IssueSettings.from_config(current_app.config))
    except (services.CertificateError, services.SealKeyError) as exc:
        flash(_("Chưa cấp được giấy chứng nhận: %(reason)s Biên bản đã phê duyệt và chờ cấp giấy ở trang Giấy chứng "
                "nhận.", reason=str(exc).rstrip(".") + "."), "warning")
        return None
    flash(_("Đã cấp %(what)s số %(number)s.", what=KIND_LABELS[certificate.kind], number=certificate.number),
          "success")
    return certificate


def _commit_issue(session, certificate, key: str):
    """Commit an issuance; a concurrent replay of the same request that committed first wins, and its certificate is
    the answer (the unique issue_request_key)."""
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        existing = services.find_by_request_key(session, key)
        if existing is None:
            raise
        return existing
    return certificate


# --- stamps -------------------------------------------------------------------------------------------------------

def _technician_choices(session) -> list[SelectChoice]:
    return [SelectChoice(user.id, user.full_name) for user in stamps.technicians(session)]


@bp.route("/stamps/")
@requires("certificates.view")
def stamp_index():
    """List stamps with their state and holder, the batches received, and who holds how many."""
    session = get_session()
    from lims.auth.models import User

    form = StampFilterForm(request.args)
    people = stamps.technicians(session)
    form.technician_id.choices = [SelectChoice("", _("Mọi người"))] + [SelectChoice(str(u.id), u.full_name)
                                                                       for u in people]
    technician_id = int(form.technician_id.data) if (form.technician_id.data or "").isdigit() else None
    page = max(request.args.get("page", 1, type=int), 1)
    rows, has_next = stamps.list_stamps(session, stamps.StampFilter(state=form.state.data or "",
                                                                    technician_id=technician_id,
                                                                    q=form.q.data or ""), page=page)
    holder_ids = {stamp.assigned_to_id for stamp, _number in rows if stamp.assigned_to_id}
    names = {user.id: user.full_name for user in (session.get(User, uid) for uid in holder_ids)}
    args = {key: value for key, value in request.args.items() if key != "page" and value}
    return render_template("certificates/stamps.html", form=form, rows=rows, names=names, page=page,
                           has_next=has_next, args=args, counts=stamps.state_counts(session),
                           holdings=stamps.holdings(session), batches=stamps.batches(session),
                           manage=has_permission("stamps.manage"))


@bp.route("/stamps/receive", methods=["GET", "POST"])
@requires("stamps.manage")
def receive_stamps():
    """Record a delivery of stamps (a numbered range)."""
    form = ReceiveStampsForm()
    if request.method == "GET":
        form.received_date.data = centre_today()
    errors: list[str] = []
    if form.validate_on_submit():
        session = get_session()
        try:
            batch = stamps.receive_stamps(session, series=form.series.data, first_number=form.first_number.data,
                                          last_number=form.last_number.data, received_date=form.received_date.data,
                                          received_by_id=current_user.id, notes=form.notes.data or "")
        except stamps.StampError as exc:
            session.rollback()
            field = getattr(form, exc.field or "", None)
            (field.errors if field is not None else errors).append(str(exc))
        else:
            session.commit()
            flash(_("Đã nhận %(count)d tem, từ %(first)s đến %(last)s.", count=batch.count,
                    first=stamps.stamp_number(batch.series, batch.first_number),
                    last=stamps.stamp_number(batch.series, batch.last_number)), "success")
            return redirect(url_for(".stamp_index"))
    return render_template("certificates/stamps_receive.html", form=form, errors=errors)


@bp.route("/stamps/assign", methods=["GET", "POST"])
@requires("stamps.manage")
def assign_stamps():
    """Give a range of stamps to a technician."""
    session = get_session()
    form = AssignStampsForm()
    form.technician_id.choices = _technician_choices(session)
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            result = stamps.assign_stamps(session, series=form.series.data, first_number=form.first_number.data,
                                          last_number=form.last_number.data, technician_id=form.technician_id.data)
        except stamps.StampError as exc:
            session.rollback()
            field = getattr(form, exc.field or "", None)
            (field.errors if field is not None else errors).append(str(exc))
        else:
            session.commit()
            message = _("Đã giao %(count)d tem.", count=result.assigned)
            if result.skipped:
                message += " " + _("Bỏ qua %(count)d tem đã dùng hoặc đã hủy.", count=result.skipped)
            flash(message, "success")
            return redirect(url_for(".stamp_index"))
    return render_template("certificates/stamps_assign.html", form=form, errors=errors)


@bp.route("/stamps/<int:stamp_id>/spoil", methods=["GET", "POST"])
@requires("stamps.manage")
def spoil_stamp(stamp_id: int):
    """Cancel a damaged or lost stamp, with the reason."""
    session = get_session()
    stamp = stamps.get_stamp(session, stamp_id) or abort(404)
    form = SpoilStampForm()
    if form.validate_on_submit():
        try:
            stamps.spoil_stamp(session, stamp=stamp, reason=form.reason.data, spoiled_by_id=current_user.id)
        except stamps.StampError as exc:
            session.rollback()
            form.reason.errors.append(str(exc))
        else:
            session.commit()
            flash(_("Đã hủy tem %(number)s.", number=stamp.number), "success")
            return redirect(url_for(".stamp_index", q=stamp.number))
    return render_template("certificates/stamps_spoil.html", form=form, stamp=stamp)
