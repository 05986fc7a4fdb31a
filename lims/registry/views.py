"""Customers and instruments: lists with search, detail pages, forms, import and export."""

from __future__ import annotations

import json

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

import instruments as metrology
from lims.audit import services as audit
from lims.dates import centre_today
from lims.db import get_db, get_session
from lims.security import requires

from . import exporting, import_jobs, importing, services
from .forms import (CustomerEditForm, CustomerFilterForm, CustomerForm, ImportForm, InstrumentEditForm,
                    InstrumentFilterForm, InstrumentForm)

bp = Blueprint("registry", __name__)

#: Files up to this size are imported within the upload request; larger ones by a background job.
IMPORT_BACKGROUND_BYTES = 512 * 1024


@bp.context_processor
def _labels() -> dict:
    return {"status_labels": services.STATUS_LABELS, "spec_labels": services.SPEC_LABELS,
            "spec_text_keys": services.SPEC_TEXT_KEYS}


def _page() -> int:
    page = request.args.get("page", 1, type=int) or 1
    return min(max(page, 1), 100_000)


def _per_page() -> int:
    return current_app.config.get("PAGE_SIZE", 50)


def _query_args(form) -> dict:
    """The non-empty filter values, carried through the pager and the export links."""
    return {name: field.data for name, field in form._fields.items()
            if field.data not in (None, "", False) and not field.errors}


def _types() -> dict:
    return {kind.code: kind for kind in metrology.all_types()}


# --- instruments ------------------------------------------------------------------------------------------------

@bp.route("/instruments")
@requires("registry.view")
def instruments():
    """List instruments, with search, filters and sorting."""
    form = InstrumentFilterForm(request.args)
    form.validate()
    flt = form.to_filter()
    session = get_session()
    page = services.search_instruments(session, flt, today=centre_today(), page=_page(), per_page=_per_page())
    customer = services.get_customer(session, flt.customer_id) if flt.customer_id else None
    return render_template("registry/instruments.html", form=form, page=page, args=_query_args(form),
                           customer=customer, today=centre_today(), types=_types(), sort=flt.effective_sort())


def _customer_choice(form: InstrumentForm) -> None:
    """Resolve the picker: without script, the typed tax code or exact name stands for the customer."""
    if not form.customer_id.data and form.customer_lookup.data:
        customer = services.find_customer(get_session(), form.customer_lookup.data)
        if customer is not None:
            form.customer_id.data = str(customer.id)


def _customer_label(customer) -> str:
    return f"{customer.name} ({customer.tax_code})" if customer.tax_code else customer.name


@bp.route("/instruments/new", methods=["GET", "POST"])
@requires("registry.edit")
def instrument_create():
    """Register an instrument."""
    session = get_session()
    form = InstrumentForm()
    if request.method == "GET" and (customer_id := request.args.get("customer_id", type=int)):
        customer = services.get_customer(session, customer_id)
        if customer is not None:
            form.customer_id.data = str(customer.id)
            form.customer_lookup.data = _customer_label(customer)
    if form.validate_on_submit():
        _customer_choice(form)
        try:
            instrument = services.register_instrument(session, today=centre_today(), **form.service_args())
        except services.RegistryError as exc:
            form.place_error(exc)
        else:
            session.commit()
            flash(_("Đã đăng ký %(type)s số %(serial)s.", type=metrology.get(instrument.type_code).name_vi,
                    serial=instrument.serial), "success")
            return redirect(url_for(".instrument_detail", instrument_id=instrument.id))
    return render_template("registry/instrument_create.html", form=form, types=_types())


@bp.route("/instruments/<int:instrument_id>")
@requires("registry.view")
def instrument_detail(instrument_id: int):
    """Show an instrument, its characteristics and its history."""
    session = get_session()
    instrument = services.get_instrument(session, instrument_id) or abort(404)
    history = audit.history(session, entity_type="instruments", entity_id=instrument.id)
    return render_template("registry/instrument_detail.html", instrument=instrument, history=history,
                           kind=metrology.get(instrument.type_code), today=centre_today())


@bp.route("/instruments/<int:instrument_id>/edit", methods=["GET", "POST"])
@requires("registry.edit")
def instrument_edit(instrument_id: int):
    """Edit an instrument (with the reason, for the audit trail)."""
    session = get_session()
    instrument = services.get_instrument(session, instrument_id) or abort(404)
    form = InstrumentEditForm(obj=instrument, data={f"spec_{instrument.type_code}": instrument.spec,
                                                    "customer_lookup": _customer_label(instrument.customer)})
    if form.validate_on_submit():
        _customer_choice(form)
        try:
            services.update_instrument(session, instrument=instrument, reason=form.reason.data, today=centre_today(),
                                       **form.service_args())
        except services.RegistryError as exc:
            if exc.field == "reason":
                form.reason.errors.append(str(exc))
            else:
                form.place_error(exc)
        else:
            session.commit()
            flash(_("Đã lưu thay đổi của phương tiện đo %(serial)s.", serial=instrument.serial), "success")
            return redirect(url_for(".instrument_detail", instrument_id=instrument.id))
    return render_template("registry/instrument_edit.html", form=form, instrument=instrument, types=_types())


@bp.route("/instruments/export.<any(csv, xlsx):fmt>")
@requires("registry.view")
def export_instruments(fmt: str):
    """Download the filtered instrument list as CSV or XLSX."""
    form = InstrumentFilterForm(request.args)
    form.validate()
    return exporting.instruments_response(
        get_db().session(readonly=True), form.to_filter(), fmt=fmt, today=centre_today(),
        limit=current_app.config.get("EXPORT_MAX_ROWS", exporting.MAX_ROWS))


# --- import -----------------------------------------------------------------------------------------------------

def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


@bp.route("/instruments/import", methods=["GET", "POST"])
@requires("registry.import")
def import_instruments():
    """Import instruments from a CSV or XLSX file."""
    form = ImportForm()
    if form.validate_on_submit():
        upload = form.file.data
        job_id = import_jobs.new_job_id()
        paths = import_jobs.files(current_app, job_id)
        max_bytes = current_app.config["IMPORT_MAX_BYTES"]
        try:
            size = import_jobs.save_upload(upload.stream, paths.source, max_bytes=max_bytes)
        except import_jobs.UploadTooLargeError:
            upload.stream.close()
            form.file.errors.append(_("Tệp quá lớn: giới hạn là dưới %(mb)d MB. Hãy chia thành nhiều tệp nhỏ hơn.",
                                      mb=max_bytes // (1024 * 1024)))
        else:
            upload.stream.close()
            import_jobs.prune(current_app)
            # The request's own transaction holds SQLite's write lock; the job writes in a session of its own.
            get_session().rollback()
            background = size > current_app.config.get("IMPORT_BACKGROUND_BYTES", IMPORT_BACKGROUND_BYTES)
            import_jobs.start(current_app._get_current_object(), job_id, background=background,
                       filename=(upload.filename or "upload")[-120:], user_id=current_user.id,
                       username=current_user.username, locale=str(get_locale() or "vi"), today=centre_today())
            status_url = url_for(".import_status", job_id=job_id)
            if _wants_json():
                return jsonify(job=job_id, status_url=status_url,
                               progress_url=url_for(".import_progress", job_id=job_id))
            return redirect(status_url)
    if form.errors and _wants_json():
        return jsonify(errors={name: [str(e) for e in errors] for name, errors in form.errors.items()}), 400
    return render_template("registry/import_instruments.html", form=form, columns=importing.COLUMNS,
                           types=_types())


def _job_state(job_id: str) -> tuple[import_jobs.JobFiles, dict]:
    paths = import_jobs.files(current_app, job_id)
    state = import_jobs.read_state(paths.state) if paths else None
    if state is None or state.get("user_id") != current_user.id:
        abort(404)  # someone else's import is not ours to see
    return paths, state


@bp.route("/instruments/imports/<job_id>")
@requires("registry.import")
def import_status(job_id: str):
    """Show an import's progress, then its result."""
    paths, state = _job_state(job_id)
    return render_template("registry/import_status.html", state=state, job_id=job_id,
                           has_report=paths.errors.exists())


@bp.route("/instruments/imports/<job_id>/progress")
@requires("registry.import")
def import_progress(job_id: str):
    """Report an import's progress as JSON (polled by the page)."""
    _paths, state = _job_state(job_id)
    return jsonify({key: state.get(key) for key in ("state", "rows", "fraction", "created", "skipped",
                                                    "customers_created", "error_count", "message")})


@bp.route("/instruments/imports/<job_id>/errors.csv")
@requires("registry.import")
def import_errors(job_id: str):
    """Download an import's error report (row, column, message)."""
    paths, _state = _job_state(job_id)
    if not paths.errors.exists():
        abort(404)
    response = current_app.response_class(paths.errors.read_bytes(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="loi-nhap-{job_id[:8]}.csv"'
    return response


# --- customers --------------------------------------------------------------------------------------------------

@bp.route("/customers")
@requires("registry.view")
def customers():
    """List customers, searchable by name without accents or by tax code."""
    session = get_session()
    form = CustomerFilterForm(request.args)
    form.set_districts(services.customer_districts(session))
    form.validate()
    page = services.search_customers(session, q=(form.q.data or "") if not form.q.errors else "",
                                     district=form.district.data if not form.district.errors else "",
                                     sort=form.sort.data or "name", page=_page(), per_page=_per_page())
    counts = services.instrument_counts(session, [c.id for c in page.items])
    return render_template("registry/customers.html", form=form, page=page, counts=counts, args=_query_args(form))


@bp.route("/customers/lookup")
@requires("registry.view")
def customer_lookup():
    """Suggest customers for the picker (JSON)."""
    found = services.lookup_customers(get_session(), q=request.args.get("q", "")[:100])
    items = [{"id": c.id, "label": _customer_label(c), "address": c.address, "district": c.district}
             for c in found]
    # < > & as \u escapes: the names are anyone's text, and this answer must never parse as markup.
    body = json.dumps(items, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return current_app.response_class(body, mimetype="application/json")


@bp.route("/customers/new", methods=["GET", "POST"])
@requires("registry.edit")
def customer_create():
    """Add a customer."""
    form = CustomerForm()
    if form.validate_on_submit():
        session = get_session()
        try:
            customer = services.create_customer(session, **form.service_args())
        except services.RegistryError as exc:
            form.place_error(exc)
        else:
            session.commit()
            flash(_("Đã thêm khách hàng %(name)s.", name=customer.name), "success")
            return redirect(url_for(".customer_detail", customer_id=customer.id))
    return render_template("registry/customer_create.html", form=form)


@bp.route("/customers/<int:customer_id>")
@requires("registry.view")
def customer_detail(customer_id: int):
    """Show a customer and their instruments."""
    session = get_session()
    customer = services.get_customer(session, customer_id) or abort(404)
    page = services.search_instruments(session, services.InstrumentFilter(customer_id=customer.id, sort="id"),
                                       today=centre_today(), page=_page(), per_page=_per_page())
    return render_template("registry/customer_detail.html", customer=customer, page=page, today=centre_today(),
                           types=_types())


@bp.route("/customers/<int:customer_id>/edit", methods=["GET", "POST"])
@requires("registry.edit")
def customer_edit(customer_id: int):
    """Edit a customer's details."""
    session = get_session()
    customer = services.get_customer(session, customer_id) or abort(404)
    form = CustomerEditForm(obj=customer)
    if form.validate_on_submit():
        try:
            services.update_customer(session, customer=customer, reason=form.reason.data, **form.service_args())
        except services.RegistryError as exc:
            form.place_error(exc)
        else:
            session.commit()
            flash(_("Đã lưu khách hàng %(name)s.", name=customer.name), "success")
            return redirect(url_for(".customer_detail", customer_id=customer.id))
    return render_template("registry/customer_edit.html", form=form, customer=customer)


@bp.route("/customers/export.<any(csv, xlsx):fmt>")
@requires("registry.view")
def export_customers(fmt: str):
    """Download the filtered customer list as CSV or XLSX."""
    form = CustomerFilterForm(request.args)
    form.set_districts(services.customer_districts(get_session()))
    form.validate()
    return exporting.customers_response(
        get_db().session(readonly=True), q=(form.q.data or "") if not form.q.errors else "",
        district=form.district.data if not form.district.errors else "", sort=form.sort.data or "name", fmt=fmt,
        limit=current_app.config.get("EXPORT_MAX_ROWS", exporting.MAX_ROWS))
