"""Jobs: the board, receipt of a customer's request, its items, fees and assignment, and the receipt slip."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

import instruments as metrology
from lims import tabular
from lims.audit import services as audit
from lims.dates import centre_today
from lims.db import get_session
from lims.registry import services as registry
from lims.security import has_permission, requires
from lims.verifications import services as verification_services

from . import pdf, services
from .forms import (AssignForm, BoardFilterForm, CustomerSearchForm, EditForm, FeeForm, ItemForm, ReasonForm,
                    ReceiveForm, RegisterItemForm, StateForm, user_choices)

bp = Blueprint("jobs", __name__, url_prefix="/jobs")


@bp.context_processor
def helpers() -> dict:
    return {"job_states": services.STATE_LABELS, "job_locations": services.LOCATION_LABELS,
            "job_services": services.SERVICE_LABELS, "vnd": services.format_vnd,
            "type_name": lambda code: metrology.get(code).name_vi,
            "verification_states": verification_services.STATE_LABELS}


def _instrument_label(instrument) -> str:
    maker = " ".join(part for part in (instrument.manufacturer, instrument.model) if part)
    return f"{metrology.get(instrument.type_code).name_vi} — {instrument.serial}" + (f" ({maker})" if maker else "")


def _board_filter(form: BoardFilterForm) -> services.JobFilter:
    return services.JobFilter(q=(form.q.data or "") if not form.q.errors else "", state=form.state.data or "",
                              assigned_to_id=current_user.id if form.mine.data else None,
                              overdue=bool(form.overdue.data))


@bp.route("/")
@requires("jobs.view")
def index():
    """Show the job board: jobs by state, with counts."""
    form = BoardFilterForm(request.args)
    form.validate()
    session = get_session()
    today = centre_today()
    jobs = services.list_jobs(session, _board_filter(form), today=today)
    names = services.user_names(session, [job.assigned_to_id for job in jobs])
    args = {name: field.data for name, field in form._fields.items() if field.data not in (None, "", False)}
    return render_template("jobs/index.html", form=form, jobs=jobs, counts=services.state_counts(session),
                           names=names, today=today, args=args,
                           progress=services.progress_by_job(session, jobs))


@bp.route("/export.<any(csv, xlsx):fmt>")
@requires("jobs.view")
def export(fmt: str):
    """Download the filtered job board as CSV or XLSX."""
    form = BoardFilterForm(request.args)
    form.validate()
    session = get_session()
    jobs = services.list_jobs(session, _board_filter(form), today=centre_today(), limit=10000)
    names = services.user_names(session, [job.assigned_to_id for job in jobs])
    columns = [
        tabular.Column(_("Số yêu cầu"), lambda j: j.number),
        tabular.Column(_("Khách hàng"), lambda j: j.customer.name),
        tabular.Column(_("Mã số thuế"), lambda j: j.customer.tax_code or ""),
        tabular.Column(_("Ngày tiếp nhận"), lambda j: j.received_date),
        tabular.Column(_("Ngày hẹn trả"), lambda j: j.due_date),
        tabular.Column(_("Trạng thái"), lambda j: str(services.STATE_LABELS[j.state])),
        tabular.Column(_("Số phương tiện đo"), lambda j: len(j.items)),
        tabular.Column(_("Kiểm định viên"), lambda j: names.get(j.assigned_to_id, "")),
        tabular.Column(_("Tổng phí (đồng)"), lambda j: int(services.total_vnd(j))),
    ]
    return tabular.export_response(fmt, filename=f"yeu-cau-{centre_today().isoformat()}", columns=columns,
                                   rows=jobs, sheet=_("Yêu cầu"))


@bp.route("/new", methods=["GET", "POST"])
@requires("jobs.edit")
def create():
    """Receive a customer's request: choose the customer, then the instruments handed over."""
    session = get_session()
    customer_id = request.args.get("customer_id", type=int)
    customer = registry.get_customer(session, customer_id) if customer_id else None
    if customer is None:
        search = CustomerSearchForm(request.args)
        q = (search.q.data or "").strip()
        found = registry.search_customers(session, q=q, per_page=30).items if q else []
        return render_template("jobs/create_customer.html", search=search, customers=found, q=q)
    owned = services.customer_instruments(session, customer_id=customer.id)
    by_id = {instrument.id: instrument for instrument in owned}
    form = ReceiveForm()
    form.instrument_ids.choices = [SelectChoice(str(i.id), _instrument_label(i)) for i in owned]
    form.assigned_to_id.choices = user_choices(services.assignable_users(session), blank=_("— Chưa giao —"))
    if request.method == "GET":
        today = centre_today()
        form.received_date.data = today
        form.due_date.data = today + dt.timedelta(days=services.DUE_DAYS)
        form.contact_name.data = customer.contact_name
        if current_user.id in {int(c.value) for c in form.assigned_to_id.choices if c.value}:
            form.assigned_to_id.data = str(current_user.id)
        if preselect := request.args.get("instrument_id", type=int):
            form.instrument_ids.data = [str(preselect)] if preselect in by_id else []
    if form.validate_on_submit():
        try:
            job = services.receive_job(session, customer_id=customer.id, received_by_id=current_user.id,
                                       items=form.items(by_id), **form.service_args())
        except services.JobError as exc:
            form.place_error(exc, "instrument_ids")
        else:
            session.commit()
            flash(_("Đã tiếp nhận yêu cầu %(number)s với %(n)d phương tiện đo.", number=job.number,
                    n=len(job.items)), "success")
            return redirect(url_for(".detail", job_id=job.id))
    return render_template("jobs/create.html", form=form, customer=customer, owned=owned)


def _job_or_404(job_id: int):
    return services.get_job(get_session(), job_id) or abort(404)


def _detail(job, *, status: int = 200, item_form=None, fee_form=None, assign_form=None, state_form=None):
    session = get_session()
    progress = services.item_progress(session, job)
    on_job = {p.item.instrument_id for p in progress}
    choices = [SelectChoice(str(i.id), _instrument_label(i))
               for i in services.customer_instruments(session, customer_id=job.customer_id) if i.id not in on_job]
    item_form = item_form or ItemForm(formdata=None)
    item_form.instrument_id.choices = [SelectChoice("", _("— Chọn phương tiện đo —"))] + choices
    fee_form = fee_form or FeeForm(formdata=None)
    fee_form.job_item_id.choices = [SelectChoice("", _("— Cả yêu cầu —"))] + [
        SelectChoice(str(p.item.id), f"{p.item.position}. {p.item.instrument.serial}") for p in progress]
    assign_form = assign_form or AssignForm(formdata=None, data={"assigned_to_id": str(job.assigned_to_id or "")})
    assign_form.assigned_to_id.choices = user_choices(services.assignable_users(session), blank=_("— Chưa giao —"))
    names = services.user_names(session, [job.assigned_to_id, job.received_by_id])
    history = audit.history(session, entity_type="jobs", entity_id=job.id)
    return render_template("jobs/detail.html", job=job, progress=progress, item_form=item_form, fee_form=fee_form,
                           assign_form=assign_form, state_form=state_form or StateForm(formdata=None),
                           remove_form=ReasonForm(formdata=None), names=names, total=services.total_vnd(job),
                           transitions=services.TRANSITIONS[job.state], history=history,
                           can_edit=has_permission("jobs.edit"),
                           can_record=has_permission("verifications.edit"),
                           editable=job.state in ("received", "in_progress")), status


@bp.route("/<int:job_id>")
@requires("jobs.view")
def detail(job_id: int):
    """Show a job with its items, each item's record state, fees and history."""
    return _detail(_job_or_404(job_id))


@bp.route("/<int:job_id>/items", methods=["POST"])
@requires("jobs.edit")
def add_item(job_id: int):
    """Record one more instrument received under the job."""
    job = _job_or_404(job_id)
    form = ItemForm()
    form.instrument_id.choices = [SelectChoice(str(i.id), i.serial)
                                  for i in services.customer_instruments(get_session(), customer_id=job.customer_id)]
    if form.validate_on_submit():
        session = get_session()
        try:
            item = services.add_item(session, job=job, **form.service_args())
        except services.JobError as exc:
            form.place_error(exc, "instrument_id")
        else:
            session.commit()
            flash(_("Đã thêm %(serial)s vào yêu cầu.", serial=item.instrument.serial), "success")
            return redirect(url_for(".detail", job_id=job.id))
    return _detail(job, status=400, item_form=form)


@bp.route("/<int:job_id>/items/register", methods=["GET", "POST"])
@requires("jobs.edit")
def register_item(job_id: int):
    """Register a new instrument of the job's customer in the registry and receive it."""
    job = _job_or_404(job_id)
    session = get_session()
    form = RegisterItemForm()
    if request.method == "GET":
        form.customer_id.data = str(job.customer_id)
        form.customer_lookup.data = job.customer.name
        form.place_of_use.data = job.site_address or job.customer.address
    if form.validate_on_submit():
        args = form.service_args()
        args["customer_id"] = job.customer_id
        try:
            item = services.register_and_add_item(session, job=job, today=centre_today(), **form.receipt_args(),
                                                  **{k: v for k, v in args.items() if k != "customer_id"})
        except registry.RegistryError as exc:
            form.place_error(exc)
        except services.JobError as exc:
            (form._fields.get(exc.field) or form.serial).errors.append(str(exc))
        else:
            session.commit()
            flash(_("Đã đăng ký và tiếp nhận %(type)s số %(serial)s.",
                    type=metrology.get(item.instrument.type_code).name_vi, serial=item.instrument.serial), "success")
            return redirect(url_for(".detail", job_id=job.id))
    return render_template("jobs/register_item.html", form=form, job=job,
                           types={kind.code: kind for kind in metrology.all_types()})


@bp.route("/<int:job_id>/items/<int:item_id>/remove", methods=["POST"])
@requires("jobs.edit")
def remove_item(job_id: int, item_id: int):
    """Take an item received by mistake off the job (with the reason)."""
    job = _job_or_404(job_id)
    item = next((i for i in job.items if i.id == item_id), None) or abort(404)
    form = ReasonForm()
    session = get_session()
    if form.validate_on_submit():
        try:
            services.remove_item(session, job=job, item=item, reason=form.reason.data)
        except services.JobError as exc:
            flash(str(exc), "danger")
        else:
            session.commit()
            flash(_("Đã bỏ %(serial)s khỏi yêu cầu.", serial=item.instrument.serial), "success")
    else:
        flash(_("Hãy ghi lý do bỏ phương tiện đo khỏi yêu cầu."), "danger")
    return redirect(url_for(".detail", job_id=job.id))


@bp.route("/<int:job_id>/fees", methods=["POST"])
@requires("jobs.edit")
def add_fee(job_id: int):
    """Add a fee line to the job."""
    job = _job_or_404(job_id)
    form = FeeForm()
    if form.validate_on_submit():
        session = get_session()
        try:
            services.add_fee(session, job=job, **form.service_args())
        except services.JobError as exc:
            form.place_error(exc, "description")
        else:
            session.commit()
            return redirect(url_for(".detail", job_id=job.id, _anchor="fees"))
    return _detail(job, status=400, fee_form=form)


@bp.route("/<int:job_id>/fees/<int:fee_id>/delete", methods=["POST"])
@requires("jobs.edit")
def delete_fee(job_id: int, fee_id: int):
    """Remove a fee line."""
    job = _job_or_404(job_id)
    session = get_session()
    try:
        services.remove_fee(session, job=job, fee_id=fee_id)
    except services.JobError as exc:
        flash(str(exc), "danger")
    else:
        session.commit()
    return redirect(url_for(".detail", job_id=job.id, _anchor="fees"))


@bp.route("/<int:job_id>/assign", methods=["POST"])
@requires("jobs.edit")
def assign(job_id: int):
    """Give the job to a technician."""
    job = _job_or_404(job_id)
    form = AssignForm()
    form.assigned_to_id.choices = user_choices(services.assignable_users(get_session()), blank="")
    if form.validate_on_submit():
        session = get_session()
        try:
            services.assign_job(session, job=job, assigned_to_id=form.assigned_to_id.data or None)
        except services.JobError as exc:
            form.place_error(exc, "assigned_to_id")
        else:
            session.commit()
            flash(_("Đã giao yêu cầu %(number)s.", number=job.number), "success")
            return redirect(url_for(".detail", job_id=job.id))
    return _detail(job, status=400, assign_form=form)


@bp.route("/<int:job_id>/edit", methods=["GET", "POST"])
@requires("jobs.edit")
def edit(job_id: int):
    """Change the due date, place, contact or notes of an open job."""
    job = _job_or_404(job_id)
    form = EditForm(obj=job)
    if form.validate_on_submit():
        session = get_session()
        try:
            services.update_job(session, job=job, **form.service_args())
        except services.JobError as exc:
            form.place_error(exc, "notes")
        else:
            session.commit()
            flash(_("Đã lưu yêu cầu %(number)s.", number=job.number), "success")
            return redirect(url_for(".detail", job_id=job.id))
    return render_template("jobs/edit.html", form=form, job=job)


@bp.route("/<int:job_id>/state", methods=["POST"])
@requires("jobs.edit")
def change_state(job_id: int):
    """Move the job on (completed, delivered) or cancel it with a reason."""
    job = _job_or_404(job_id)
    form = StateForm()
    if form.validate_on_submit():
        session = get_session()
        try:
            services.change_state(session, job=job, state=form.state.data, reason=form.reason.data)
        except services.JobError as exc:
            form.reason.errors.append(str(exc))  # shown above the state buttons
        else:
            session.commit()
            flash(_("Yêu cầu %(number)s: %(state)s.", number=job.number, state=services.STATE_LABELS[job.state]),
                  "success")
            return redirect(url_for(".detail", job_id=job.id))
    return _detail(job, status=400, state_form=form)


@bp.route("/<int:job_id>/slip.pdf")
@requires("jobs.view")
def slip(job_id: int):
    """Download the receipt slip for the customer (PDF)."""
    job = _job_or_404(job_id)
    names = services.user_names(get_session(), [job.received_by_id, job.assigned_to_id])
    with force_locale("vi"):
        data = pdf.render_slip(job, centre_name=current_app.config["CENTRE_NAME"],
                               people=pdf.SlipPeople(received_by=names.get(job.received_by_id, ""),
                                                     assigned_to=names.get(job.assigned_to_id, "")))
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="phieu-tiep-nhan-{job.number}.pdf"'})
