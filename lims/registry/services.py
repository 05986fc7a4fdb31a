"""Registry services: customers (the businesses that own instruments) and their measuring instruments.

Services take the session and keyword arguments, raise ``RegistryError`` (whose ``field`` is the name of the argument
at fault, ``spec.<key>`` for a metrological characteristic) with a sentence a technician understands, flush, and
leave the commit to their caller. The bulk import lives in ``importing.py`` and shares the field rules below.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterator
from contextlib import contextmanager
import unicodedata
from dataclasses import dataclass
from typing import Any, Sequence

import instruments
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, false, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, contains_eager

from lims.audit import services as audit
from lims.dates import add_months
from lims.exceptions import FieldError
from lims.text import fold, fold_serial

from .models import STATUSES, Customer, Instrument

STATUS_LABELS = {
    "active": _l("Đang sử dụng"),
    "suspended": _l("Tạm ngừng sử dụng"),
    "retired": _l("Đã ngừng sử dụng"),
}

#: Sort orders of the instrument list (code -> label); each is served by an index (see ``_order``).
INSTRUMENT_SORTS = {
    "-id": _l("Mới đăng ký trước"),
    "id": _l("Cũ nhất trước"),
    "serial": _l("Số sản xuất A→Z"),
    "due": _l("Hạn kiểm định gần nhất"),
    "-due": _l("Hạn kiểm định xa nhất"),
}
#: The metrological characteristics each type's spec takes (DESIGN §6, the engine's contract), in form order.
SPEC_FIELDS = {
    "nawi": ("max", "e", "d", "unit", "accuracy_class", "min", "supports"),
    "weight": ("nominal", "unit", "accuracy_class", "density_kg_m3", "density_u_kg_m3"),
    "energy_meter": ("accuracy_class", "un_v", "ib_a", "imax_a", "constant_imp_per_kwh", "kind"),
    "taximeter": ("k_imp_per_km", "vehicle_plate"),
}
SPEC_LABELS = {
    "max": _l("Mức cân lớn nhất (Max)"),
    "e": _l("Giá trị độ chia kiểm (e)"),
    "d": _l("Giá trị độ chia thực tế (d)"),
    "unit": _l("Đơn vị"),
    "accuracy_class": _l("Cấp chính xác"),
    "min": _l("Mức cân nhỏ nhất (Min)"),
    "supports": _l("Số điểm tựa"),
    "nominal": _l("Giá trị danh định"),
    "density_kg_m3": _l("Khối lượng riêng (kg/m³)"),
    "density_u_kg_m3": _l("Độ không đảm bảo của khối lượng riêng (kg/m³)"),
    "un_v": _l("Điện áp danh định Un (V)"),
    "ib_a": _l("Dòng điện cơ bản Ib (A)"),
    "imax_a": _l("Dòng điện cực đại Imax (A)"),
    "constant_imp_per_kwh": _l("Hằng số công tơ (imp/kWh)"),
    "kind": _l("Kiểu công tơ"),
    "k_imp_per_km": _l("Hằng số k (imp/km)"),
    "vehicle_plate": _l("Biển số xe"),
}
#: Spec keys that hold text rather than numbers (a decimal comma is accepted in the others).
SPEC_TEXT_KEYS = frozenset({"unit", "accuracy_class", "kind", "vehicle_plate"})


CUSTOMER_SORTS = {
    "name": _l("Tên A→Z"),
    "-id": _l("Mới thêm trước"),
    "tax_code": _l("Mã số thuế"),
}

#: Mã số thuế: 10 digits, or 10 digits, a dash and 3 digits for a dependent unit (branch).
TAX_CODE_RE = re.compile(r"\d{10}(-\d{3})?")
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
PHONE_RE = re.compile(r"[0-9+().\s/-]{6,30}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"\s+")

# Lengths mirror the columns in models.py (PostgreSQL enforces them; SQLite would not, so the service does).
CUSTOMER_LENGTHS = {"name": 200, "address": 300, "commune": 100, "district": 100, "province": 100,
                    "contact_name": 120, "phone": 30, "email": 254}
INSTRUMENT_LENGTHS = {"manufacturer": 120, "model": 120, "serial": 80, "pattern_approval_mark": 60,
                      "place_of_use": 300}
NOTES_MAX = 4000
FIRST_YEAR = 1900

CUSTOMER_LABELS = {
    "name": _l("Tên khách hàng"), "tax_code": _l("Mã số thuế"), "address": _l("Địa chỉ"),
    "commune": _l("Xã/phường/thị trấn"), "district": _l("Quận/huyện/thị xã"), "province": _l("Tỉnh/thành phố"),
    "contact_name": _l("Người liên hệ"), "phone": _l("Điện thoại"), "email": _l("Email"),
}
INSTRUMENT_LABELS = {
    "type_code": _l("Loại phương tiện đo"), "customer_id": _l("Khách hàng"), "manufacturer": _l("Hãng sản xuất"),
    "model": _l("Kiểu / model"), "serial": _l("Số sản xuất"), "pattern_approval_mark": _l("Ký hiệu phê duyệt mẫu"),
    "year_made": _l("Năm sản xuất"), "place_of_use": _l("Nơi sử dụng"), "status": _l("Trạng thái"),
    "last_verified_date": _l("Ngày kiểm định gần nhất"), "next_due_date": _l("Hạn kiểm định tiếp theo"),
}
NOTES_LABEL = _l("Ghi chú")
REASON_LABEL = _l("Lý do thay đổi")


class RegistryError(FieldError):
    """A customer or instrument was refused; ``field`` names the argument (``spec.max`` for a characteristic)."""


class DuplicateInstrumentError(RegistryError):
    """The (type, manufacturer, serial) identity is taken; ``existing_id`` is the instrument that holds it."""

    def __init__(self, message: str, existing_id: int):
        super().__init__("serial", message)
        self.existing_id = existing_id


class DuplicateTaxCodeError(RegistryError):
    def __init__(self, message: str, existing_id: int):
        super().__init__("tax_code", message)
        self.existing_id = existing_id


@dataclass
class Page:
    """One page of a list: ``items`` and whether a next page exists (fetched as page size + 1, never counted)."""

    items: list
    number: int
    per_page: int
    has_next: bool

    @property
    def first_index(self) -> int:
        return (self.number - 1) * self.per_page + 1 if self.items else 0

    @property
    def last_index(self) -> int:
        return (self.number - 1) * self.per_page + len(self.items)


# --- field rules (shared with the import) -------------------------------------------------------------------------

def clean_text(value: Any, field: str, *, max_length: int, required: bool = False, label: str = "",
               multiline: bool = False) -> str:
    """Trimmed text without control characters, checked against the column's length."""
    text = "" if value is None else str(value)
    text = unicodedata.normalize("NFC", text)
    if _CONTROL.search(text):
        raise RegistryError(field, _("%(label)s chứa ký tự điều khiển không hợp lệ.", label=label or field))
    text = text.strip() if multiline else _SPACES.sub(" ", text).strip()
    if required and not text:
        raise RegistryError(field, _("%(label)s không được để trống.", label=label or field))
    if len(text) > max_length:
        raise RegistryError(field, _("%(label)s dài quá %(n)d ký tự.", label=label or field, n=max_length))
    return text


def clean_tax_code(value: Any) -> str | None:
    """The tax code without spaces, or ``None`` when not given; ``RegistryError`` when malformed.

    >>> clean_tax_code(" 0100112437-001 ")
    '0100112437-001'
    >>> clean_tax_code("") is None
    True
    """
    text = "" if value is None else re.sub(r"\s+", "", str(value))
    if not text:
        return None
    if not TAX_CODE_RE.fullmatch(text):
        raise RegistryError("tax_code", _("Mã số thuế phải gồm 10 chữ số, hoặc 10 chữ số, dấu gạch ngang và 3 chữ số "
                                          "(đơn vị phụ thuộc), ví dụ 0100112437 hoặc 0100112437-001."))
    return text


def clean_type_code(value: Any) -> str:
    try:
        return instruments.get(str(value or "").strip()).code
    except KeyError:
        raise RegistryError("type_code", _("Loại phương tiện đo không hợp lệ: %(value)s.", value=value)) from None


def spec_input(key: str, text: str) -> str:
    """A characteristic as typed, for the engine: trimmed, and "0,01" (Vietnamese decimal comma) as "0.01".

    >>> spec_input("e", " 0,01 "), spec_input("vehicle_plate", "81A-123,45"), spec_input("max", "1.600,5")
    ('0.01', '81A-123,45', '1.600,5')
    """
    text = text.strip()
    if key not in SPEC_TEXT_KEYS and text.count(",") == 1 and "." not in text:
        return text.replace(",", ".")
    return text


@functools.lru_cache(maxsize=4096)
def _validated_spec(type_code: str, items: tuple) -> tuple:
    return tuple(instruments.get(type_code).validate_spec(dict(items)).items())


def clean_spec(type_code: str, spec: Any) -> dict:
    """The engine's normalised spec; a ``SpecError`` becomes ``RegistryError("spec.<field>")``.

    Results are cached per (type, spec): an import of 100 000 meters holds a handful of distinct specs, and the
    engine's exact-decimal checks cost tens of microseconds each.
    """
    try:
        try:
            return dict(_validated_spec(type_code, tuple(sorted(spec.items()))))
        except (TypeError, AttributeError):  # unhashable or not a mapping: let the engine say what is wrong
            return instruments.get(type_code).validate_spec(spec)
    except instruments.SpecError as exc:
        path, _sep, message = str(exc).partition(":")
        return_field = f"spec.{path.strip()}" if _sep and path.strip() else "spec"
        raise RegistryError(return_field, spec_message((message if _sep else str(exc)).strip())) from None


def spec_message(detail: str) -> str:
    """The engine's reason (English, technical) in a Vietnamese sentence; the commonest ones translated."""
    if detail == "missing":
        return _("Chưa nhập: bắt buộc với loại phương tiện đo này.")
    if detail.startswith("not a number"):
        return _("Phải là một số, ví dụ 0.01 hoặc 0,01 (%(detail)s).", detail=detail)
    if detail.startswith("must be greater than zero"):
        return _("Phải lớn hơn 0 (%(detail)s).", detail=detail)
    return _("Không hợp lệ theo quy định đo lường: %(detail)s", detail=detail)


def clean_status(value: Any) -> str:
    status = str(value or "active").strip()
    if status not in STATUSES:
        raise RegistryError("status", _("Trạng thái không hợp lệ: %(value)s.", value=value))
    return status


def clean_year(value: Any, *, today: dt.date | None = None) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        year = int(str(value).strip())
    except ValueError:
        raise RegistryError("year_made", _("Năm sản xuất phải là một số, ví dụ 2019.")) from None
    last = (today or dt.date.today()).year + 1
    if not FIRST_YEAR <= year <= last:
        raise RegistryError("year_made", _("Năm sản xuất phải từ %(first)d đến %(last)d.", first=FIRST_YEAR,
                                           last=last))
    return year


def clean_dates(last_verified_date: dt.date | None, next_due_date: dt.date | None) -> None:
    if last_verified_date and next_due_date and next_due_date <= last_verified_date:
        raise RegistryError("next_due_date", _("Hạn kiểm định phải sau ngày kiểm định gần nhất."))


def due_date_from_interval(type_code: str, spec: dict, last_verified_date: dt.date | None) -> dt.date | None:
    """The next due date implied by the legal interval in force on the last verification date (DESIGN §6)."""
    if last_verified_date is None:
        return None
    return _due_date(type_code, tuple(sorted(spec.items())), last_verified_date)


@functools.lru_cache(maxsize=4096)  # an import verifies a batch of meters on the same day: the same answer
def _due_date(type_code: str, spec_items: tuple, last_verified_date: dt.date) -> dt.date | None:
    try:
        months = instruments.get(type_code).interval_months(dict(spec_items), on=last_verified_date)
    except instruments.SpecError:
        return None  # no interval known for that date: the technician enters the due date
    return add_months(last_verified_date, months) if months else None


_SERIAL_SEPARATORS = re.compile(r"[\s\-./_]")


def serial_key(serial: str) -> str:
    """``lims.text.fold_serial``, with a fast path for ASCII serials (nearly all of them; the import calls this once
    per row). For ASCII, folding is lower-casing, and fold_serial drops every space anyway.

    >>> serial_key("AB-12 34/5"), fold_serial("AB-12 34/5")
    ('ab12345', 'ab12345')
    >>> serial_key("Đ-01")
    'd01'
    """
    if serial.isascii():
        return _SERIAL_SEPARATORS.sub("", serial.lower())
    return fold_serial(serial)


@functools.lru_cache(maxsize=8192)
def manufacturer_key(manufacturer: str) -> str:
    return fold(manufacturer)


def identity_keys(manufacturer: str, serial: str) -> tuple[str, str]:
    """The folded (manufacturer, serial) of the registry's identity; mirrors ``uq_instruments_identity``."""
    return manufacturer_key(manufacturer), serial_key(serial)


# --- customers --------------------------------------------------------------------------------------------------

def customer_fields(*, name: Any, tax_code: Any, address: Any = "", commune: Any = "", district: Any = "",
                    province: Any = "", contact_name: Any = "", phone: Any = "", email: Any = "",
                    notes: Any = "") -> dict:
    """Check and normalise a customer's fields (the form's and the import's); ``RegistryError`` names the field."""
    labels = CUSTOMER_LABELS
    values = {"name": name, "address": address, "commune": commune, "district": district, "province": province,
              "contact_name": contact_name, "phone": phone, "email": email}
    clean = {key: clean_text(value, key, max_length=CUSTOMER_LENGTHS[key], required=key == "name",
                             label=labels[key]) for key, value in values.items()}
    if clean["email"] and not EMAIL_RE.fullmatch(clean["email"]):
        raise RegistryError("email", _("Email không hợp lệ."))
    if clean["phone"] and not PHONE_RE.fullmatch(clean["phone"]):
        raise RegistryError("phone", _("Số điện thoại chỉ gồm chữ số, dấu cách và các dấu + ( ) . - /"))
    clean["notes"] = clean_text(notes, "notes", max_length=NOTES_MAX, label=NOTES_LABEL, multiline=True)
    clean["tax_code"] = clean_tax_code(tax_code)
    clean["name_key"] = fold(clean["name"])
    return clean


def _check_tax_code_free(session: Session, tax_code: str | None, *, except_id: int | None = None) -> None:
    if tax_code is None:
        return
    existing = session.scalar(select(Customer.id).where(Customer.tax_code == tax_code))
    if existing is not None and existing != except_id:
        raise DuplicateTaxCodeError(_("Mã số thuế %(code)s đã thuộc về một khách hàng khác.", code=tax_code),
                                    existing)


@contextmanager
def _tax_code_guard(session: Session, tax_code: str | None) -> Iterator[None]:
    """As ``_identity_guard``, for the unique tax code."""
    try:
        with session.begin_nested():
            yield
    except IntegrityError as exc:
        if tax_code is None or "tax_code" not in str(exc.orig):
            raise
        _check_tax_code_free(session, tax_code)
        raise


def create_customer(session: Session, **fields) -> Customer:
    """Add a customer (arguments: see ``customer_fields``). Callers commit."""
    clean = customer_fields(**fields)
    _check_tax_code_free(session, clean["tax_code"])
    customer = Customer(**clean)
    with _tax_code_guard(session, clean["tax_code"]):
        session.add(customer)
    return customer


def update_customer(session: Session, *, customer: Customer, reason: str | None = None, **fields) -> Customer:
    """Change a customer's details; ``reason`` goes into the audit trail. Callers commit."""
    clean = customer_fields(**fields)
    _check_tax_code_free(session, clean["tax_code"], except_id=customer.id)
    with audit.reason(session, (reason or "").strip() or None), _tax_code_guard(session, clean["tax_code"]):
        for key, value in clean.items():
            setattr(customer, key, value)
    return customer


def get_customer(session: Session, customer_id: int) -> Customer | None:
    return session.get(Customer, customer_id)


def _prefix_range(column, prefix: str):
    """``column`` starts with ``prefix``, as a range the B-tree index serves (byte order: collation C on PostgreSQL,
    BINARY on SQLite), instead of LIKE which neither engine can index here."""
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return and_(column >= prefix, column < upper)


def _tax_prefix(q: str) -> str | None:
    digits = q.replace(" ", "")
    return digits if re.fullmatch(r"\d{3,10}(-\d{0,3})?", digits) else None


def customer_match(q: str):
    """Customers whose folded name contains ``q`` (accent-insensitive) or whose tax code starts with it."""
    terms = []
    if key := fold(q):
        terms.append(Customer.name_key.contains(key, autoescape=True))
    if tax := _tax_prefix(q):
        terms.append(_prefix_range(Customer.tax_code, tax))
    return or_(*terms) if terms else None


def customer_query(*, q: str = "", district: str = "", sort: str = "name") -> Select:
    query = select(Customer)
    if q.strip():
        match = customer_match(q)
        if match is not None:
            query = query.where(match)
    if district:
        query = query.where(Customer.district == district)
    order = {"name": (Customer.name_key, Customer.id), "-id": (Customer.id.desc(),),
             "tax_code": (Customer.tax_code, Customer.id)}.get(sort, (Customer.name_key, Customer.id))
    return query.order_by(*order)


def search_customers(session: Session, *, q: str = "", district: str = "", sort: str = "name", page: int = 1,
                     per_page: int = 50) -> Page:
    """A page of customers matching ``q`` (name without accents, or tax code prefix)."""
    page = max(1, page)
    rows = list(session.scalars(customer_query(q=q, district=district, sort=sort)
                                .offset((page - 1) * per_page).limit(per_page + 1)))
    return Page(rows[:per_page], page, per_page, len(rows) > per_page)


def customer_districts(session: Session) -> list[str]:
    """The districts customers are in, for the list's filter."""
    return [d for d in session.scalars(select(Customer.district).distinct().order_by(Customer.district)) if d]


def instrument_counts(session: Session, customer_ids: Sequence[int]) -> dict[int, int]:
    """How many instruments each of ``customer_ids`` owns (one grouped query on the customer index)."""
    if not customer_ids:
        return {}
    rows = session.execute(select(Instrument.customer_id, func.count()).where(
        Instrument.customer_id.in_(list(customer_ids))).group_by(Instrument.customer_id))
    return {customer_id: count for customer_id, count in rows}


def lookup_customers(session: Session, *, q: str, limit: int = 10) -> list[Customer]:
    """Suggestions for the customer picker: tax code prefix or name containing ``q``."""
    match = customer_match(q) if q.strip() else None
    if match is None:
        return []
    return list(session.scalars(select(Customer).where(match).order_by(Customer.name_key).limit(limit)))


def find_customer(session: Session, text: str) -> Customer | None:
    """The one customer that ``text`` names: its tax code, ``#id``, or a name that matches exactly one customer."""
    text = (text or "").strip()
    if not text:
        return None
    if m := re.fullmatch(r"#(\d+)", text):
        return session.get(Customer, int(m.group(1)))
    if TAX_CODE_RE.fullmatch(text.replace(" ", "")):
        return session.scalar(select(Customer).where(Customer.tax_code == text.replace(" ", "")))
    matches = list(session.scalars(select(Customer).where(Customer.name_key == fold(text)).limit(2)))
    return matches[0] if len(matches) == 1 else None


# --- instruments ------------------------------------------------------------------------------------------------

def instrument_fields(*, type_code: Any, manufacturer: Any = "", model: Any = "", serial: Any,
                      pattern_approval_mark: Any = "", year_made: Any = None, spec: Any = None,
                      place_of_use: Any = "", status: Any = "active", last_verified_date: dt.date | None = None,
                      next_due_date: dt.date | None = None, notes: Any = "",
                      today: dt.date | None = None) -> dict:
    """Check and normalise an instrument's fields (everything but the customer); ``RegistryError`` names the field."""
    labels = INSTRUMENT_LABELS
    type_code = clean_type_code(type_code)
    values = {"manufacturer": manufacturer, "model": model, "serial": serial,
              "pattern_approval_mark": pattern_approval_mark, "place_of_use": place_of_use}
    clean: dict[str, Any] = {key: clean_text(value, key, max_length=INSTRUMENT_LENGTHS[key],
                                             required=key == "serial", label=labels[key])
                             for key, value in values.items()}
    clean["manufacturer_key"], clean["serial_key"] = identity_keys(clean["manufacturer"], clean["serial"])
    if not clean["serial_key"]:
        raise RegistryError("serial", _("Số sản xuất phải có ít nhất một chữ hoặc chữ số."))
    clean["type_code"] = type_code
    clean["year_made"] = clean_year(year_made, today=today)
    clean["spec"] = clean_spec(type_code, spec if spec is not None else {})
    clean["status"] = clean_status(status)
    clean_dates(last_verified_date, next_due_date)
    if next_due_date is None:
        next_due_date = due_date_from_interval(type_code, clean["spec"], last_verified_date)
    clean["last_verified_date"] = last_verified_date
    clean["next_due_date"] = next_due_date
    clean["notes"] = clean_text(notes, "notes", max_length=NOTES_MAX, label=NOTES_LABEL, multiline=True)
    return clean


def duplicate_message(type_code: str, manufacturer: str, serial: str) -> str:
    kind = instruments.get(type_code)
    if manufacturer:
        return _("%(type)s số %(serial)s của hãng %(manufacturer)s đã có trong sổ.", type=kind.name_vi,
                 serial=serial, manufacturer=manufacturer)
    return _("%(type)s số %(serial)s (không ghi hãng) đã có trong sổ.", type=kind.name_vi, serial=serial)


def find_instrument_id(session: Session, *, type_code: str, manufacturer_key: str, serial_key: str) -> int | None:
    return session.scalar(select(Instrument.id).where(Instrument.type_code == type_code,
                                                      Instrument.manufacturer_key == manufacturer_key,
                                                      Instrument.serial_key == serial_key))


def _check_identity_free(session: Session, clean: dict, *, except_id: int | None = None) -> None:
    existing = find_instrument_id(session, type_code=clean["type_code"], manufacturer_key=clean["manufacturer_key"],
                                  serial_key=clean["serial_key"])
    if existing is not None and existing != except_id:
        raise DuplicateInstrumentError(duplicate_message(clean["type_code"], clean["manufacturer"], clean["serial"]),
                                       existing)


def _require_customer(session: Session, customer_id: Any) -> Customer:
    try:
        customer = session.get(Customer, int(customer_id)) if customer_id not in (None, "") else None
    except (TypeError, ValueError):
        customer = None
    if customer is None:
        raise RegistryError("customer_id", _("Hãy chọn khách hàng (chủ sở hữu phương tiện đo)."))
    return customer


@contextmanager
def _identity_guard(session: Session, clean: dict) -> Iterator[None]:
    """Write what the block adds or changes in a savepoint; the unique constraint, which backs the check above
    against two writers racing on PostgreSQL, comes back as ``DuplicateInstrumentError`` with the session usable.
    (The changes are made inside the savepoint so that its rollback undoes them, not the whole transaction.)"""
    try:
        with session.begin_nested():
            yield
    except IntegrityError as exc:
        if "uq_instruments_identity" not in str(exc.orig) and "instruments.type_code" not in str(exc.orig):
            raise
        existing = find_instrument_id(session, type_code=clean["type_code"],
                                      manufacturer_key=clean["manufacturer_key"], serial_key=clean["serial_key"])
        raise DuplicateInstrumentError(duplicate_message(clean["type_code"], clean["manufacturer"], clean["serial"]),
                                       existing or 0) from None


def register_instrument(session: Session, *, customer_id: Any, today: dt.date | None = None,
                        **fields) -> Instrument:
    """Add an instrument to the registry (fields: see ``instrument_fields``). Callers commit.

    Without a next due date, one is derived from the last verification date and the legal interval.
    """
    clean = instrument_fields(today=today, **fields)
    customer = _require_customer(session, customer_id)
    _check_identity_free(session, clean)
    instrument = Instrument(customer_id=customer.id, **clean)
    with _identity_guard(session, clean):
        session.add(instrument)
    return instrument


def update_instrument(session: Session, *, instrument: Instrument, reason: str, customer_id: Any,
                      today: dt.date | None = None, **fields) -> Instrument:
    """Change an instrument; ``reason`` is required and recorded with every change in the audit trail."""
    reason = clean_text(reason, "reason", max_length=500, required=True, label=REASON_LABEL)
    clean = instrument_fields(today=today, **fields)
    customer = _require_customer(session, customer_id)
    _check_identity_free(session, clean, except_id=instrument.id)
    with audit.reason(session, reason), _identity_guard(session, clean):
        instrument.customer_id = customer.id
        for key, value in clean.items():
            if getattr(instrument, key) != value:
                setattr(instrument, key, value)
    session.refresh(instrument, ["customer"])
    return instrument


def get_instrument(session: Session, instrument_id: int) -> Instrument | None:
    return session.get(Instrument, instrument_id)


@dataclass(frozen=True)
class InstrumentFilter:
    """What the instrument list shows: one search box and the filters. Parsed from the query string by the view."""

    q: str = ""
    type_code: str = ""
    status: str = ""
    customer_id: int | None = None
    due_within: int | None = None
    overdue: bool = False
    sort: str = ""

    def effective_sort(self) -> str:
        if self.sort in INSTRUMENT_SORTS:
            return self.sort
        return "due" if (self.overdue or self.due_within is not None) else "-id"


#: Up to this many matching customers are passed to the instrument query as a list of ids.
MATCHED_CUSTOMERS_LISTED = 1000
#: More matching instruments than this and the list is read in its own order instead (see ``_serial_condition``).
MANY_MATCHES = 2000


def _more_than(session: Session, condition, limit: int) -> bool:
    """Whether more than ``limit`` instruments meet ``condition`` (a count that stops at limit + 1, from an index)."""
    capped = select(Instrument.id).where(condition).limit(limit + 1).subquery()
    return session.scalar(select(func.count()).select_from(capped)) > limit


@dataclass(frozen=True)
class _Match:
    """One way ``q`` matches an instrument, and whether an index serves it (then the matches are few)."""

    condition: Any
    indexed: bool


def _serial_match(session: Session, q: str, sort: str) -> _Match | None:
    """Serial starts with ``q``, written for the plan that serves it best on 1 000 000 instruments.

    Few matches (a technician typing a serial): a range on ``serial_key``, which its index serves; the page's few
    thousand ids at most are then sorted. Many matches ("M1" weights, "24" meters): sorting them all would cost
    more than walking the list in its display order until a page is full, so the prefix is written as ``substr``,
    which no index serves and both planners then leave to the order's index. Sorted by serial, the range is that
    walk already.
    """
    key = serial_key(q)
    if not key:
        return None
    prefix = _prefix_range(Instrument.serial_key, key)
    if sort == "serial" or not _more_than(session, prefix, MANY_MATCHES):
        return _Match(prefix, True)
    return _Match(func.substr(Instrument.serial_key, 1, len(key)) == key, False)


def _owner_match(session: Session, q: str) -> _Match | None:
    """The owner matches ``q``: the owners' ids as a list when their instruments are few (the customer index
    serves it), else a subquery on ``customer_id + 0``, which keeps the planners off that index (see
    ``_serial_match`` for why)."""
    match = customer_match(q)
    if match is None:
        return None
    ids = list(session.scalars(select(Customer.id).where(match).limit(MATCHED_CUSTOMERS_LISTED + 1)))
    if not ids:
        return None
    if len(ids) <= MATCHED_CUSTOMERS_LISTED and not _more_than(session, Instrument.customer_id.in_(ids),
                                                                 MANY_MATCHES):
        return _Match(Instrument.customer_id.in_(ids), True)
    return _Match((Instrument.customer_id + 0).in_(select(Customer.id).where(match).scalar_subquery()), False)


def _conditions(session: Session, flt: InstrumentFilter, today: dt.date) -> tuple[list, list[_Match] | None]:
    """The filter's conditions, and the ways ``q`` matches (``None`` without a search).

    ``q`` matches a serial prefix or the owner: a customer whose folded name contains it or whose tax code starts
    with it. Due-date filters apply to instruments in use unless a status is chosen: a retired scale is not
    overdue.
    """
    matches = None
    if flt.q.strip():
        matches = [m for m in (_serial_match(session, flt.q.strip(), flt.effective_sort()),
                               _owner_match(session, flt.q)) if m is not None]
    conditions = []
    if flt.type_code:
        conditions.append(Instrument.type_code == flt.type_code)
    if flt.status:
        conditions.append(Instrument.status == flt.status)
    elif flt.overdue or flt.due_within is not None:
        conditions.append(Instrument.status == "active")
    if flt.customer_id is not None:
        conditions.append(Instrument.customer_id == flt.customer_id)
    if flt.overdue:
        conditions.append(Instrument.next_due_date < today)
    if flt.due_within is not None:
        conditions += [Instrument.next_due_date >= today,
                       Instrument.next_due_date <= today + dt.timedelta(days=flt.due_within)]
    return conditions, matches


def _searched(query: Select, conditions: list, matches: list[_Match] | None) -> Select:
    query = query.where(*conditions)
    if matches is not None:
        query = query.where(or_(*(m.condition for m in matches))) if matches else query.where(false())
    return query


def _order(sort: str, id_column=Instrument.id) -> tuple:
    return {
        "-id": (id_column.desc(),),
        "id": (id_column,),
        "serial": (Instrument.serial_key, Instrument.id),
        "due": (Instrument.next_due_date, Instrument.id),
        "-due": (Instrument.next_due_date.desc(), Instrument.id.desc()),
    }[sort]


def instrument_query(session: Session, flt: InstrumentFilter, *, today: dt.date) -> Select:
    """Every instrument of the filtered list with its owner, in list order (the exports read this)."""
    conditions, matches = _conditions(session, flt, today)
    query = select(Instrument).join(Instrument.customer).options(contains_eager(Instrument.customer))
    return _searched(query, conditions, matches).order_by(*_order(flt.effective_sort()))


def search_instruments(session: Session, flt: InstrumentFilter, *, today: dt.date, page: int = 1,
                       per_page: int = 50) -> Page:
    """A page of the instrument list (the view and the benchmark call this).

    Two steps: the page's ids first, from the indexes alone where possible (SQLite's indexes hold the row id, and
    ``ix_instruments_customer`` holds it on both engines), then those rows with their owners. A search matching by
    serial and by owner, in id order, is a UNION of the two index scans: PostgreSQL would otherwise combine them in
    a bitmap and read every matching row from the table to sort them. Fetching page size + 1 ids tells whether a
    next page exists, without counting.
    """
    page = max(1, page)
    sort = flt.effective_sort()
    conditions, matches = _conditions(session, flt, today)
    if sort in ("-id", "id") and matches and len(matches) > 1 and all(m.indexed for m in matches):
        union = select(Instrument.id).where(*conditions, matches[0].condition).union(
            *(select(Instrument.id).where(*conditions, m.condition) for m in matches[1:])).subquery()
        ids_query = select(union.c.id).order_by(*_order(sort, union.c.id))
    else:
        ids_query = _searched(select(Instrument.id), conditions, matches).order_by(*_order(sort))
    ids = list(session.scalars(ids_query.offset((page - 1) * per_page).limit(per_page + 1)))
    shown = ids[:per_page]
    rows = {i.id: i for i in session.scalars(
        select(Instrument).join(Instrument.customer).options(contains_eager(Instrument.customer))
        .where(Instrument.id.in_(shown)))} if shown else {}
    return Page([rows[i] for i in shown if i in rows], page, per_page, len(ids) > per_page)


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
