"""Registry forms: fields and field-level checks. The rules (tax code, identity, characteristics) live in services and
come back as ``RegistryError``s, which ``place_error`` puts on the field they name."""

from __future__ import annotations

from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from markupsafe import Markup
from wtforms import (BooleanField, DateField, Form, FormField, HiddenField, IntegerField, SelectField, StringField,
                     TextAreaField)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional
from wtforms.widgets import TextInput

import instruments

from . import services

REQUIRED = _l("Trường này không được để trống.")


class DayField(DateField):
    """A date typed as dd/mm/yyyy, whatever the browser's language (a native date input would follow it);
    yyyy-mm-dd is accepted too."""

    widget = TextInput()

    def __init__(self, label=None, validators=None, **kwargs):
        render_kw = {"placeholder": "dd/mm/yyyy", "inputmode": "numeric", "autocomplete": "off",
                     **kwargs.pop("render_kw", {})}
        super().__init__(label, validators, format=["%d/%m/%Y", "%Y-%m-%d"], render_kw=render_kw, **kwargs)

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(_("Ngày không hợp lệ; nhập theo dạng dd/mm/yyyy.")) from None


class WholeNumberField(IntegerField):
    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(_("Phải là một số nguyên.")) from None


def _type_choices(blank=_l("— Chọn loại —")) -> list[SelectChoice]:
    return [SelectChoice("", blank)] + [SelectChoice(t.code, t.name_vi) for t in instruments.all_types()]


def _status_choices(blank=None) -> list[SelectChoice]:
    head = [SelectChoice("", blank)] if blank else []
    return head + [SelectChoice(code, label) for code, label in services.STATUS_LABELS.items()]


def _sort_choices(sorts: dict, blank=None) -> list[SelectChoice]:
    head = [SelectChoice("", blank)] if blank else []
    return head + [SelectChoice(code, label) for code, label in sorts.items()]


# The characteristics each type's form offers as lists; the engine's validate_spec stays the judge.
_SPEC_CHOICES = {
    ("nawi", "accuracy_class"): ["I", "II", "III", "IIII"],
    ("nawi", "unit"): ["mg", "g", "kg", "t"],
    ("weight", "accuracy_class"): ["E2", "F1", "F2", "M1", "M2", "M3"],
    ("weight", "unit"): ["mg", "g", "kg"],
    ("energy_meter", "accuracy_class"): ["1", "2"],
    ("energy_meter", "kind"): [("electronic", _l("Điện tử")), ("induction", _l("Cảm ứng (cơ)"))],
}
_SPEC_PLACEHOLDERS = {"max": "30", "e": "0.01", "d": "0.01", "min": "0.2", "supports": "4", "nominal": "1",
                      "density_kg_m3": "8000", "un_v": "220", "ib_a": "5", "imax_a": "20",
                      "constant_imp_per_kwh": "1600", "k_imp_per_km": "1600", "vehicle_plate": "81A-123.45"}


def _spec_form(type_code: str) -> type[Form]:
    """A sub-form with one field per characteristic of ``type_code`` (named as the spec's keys)."""
    fields = {}
    for key in services.SPEC_FIELDS[type_code]:
        label = services.SPEC_LABELS[key]
        options = _SPEC_CHOICES.get((type_code, key))
        if options is not None:
            choices = [SelectChoice("", "—")] + [SelectChoice(*item) if isinstance(item, tuple) else SelectChoice(item)
                                                 for item in options]
            fields[key] = SelectField(label, choices=choices, default="")
        else:
            fields[key] = StringField(label, validators=[Optional(), Length(max=40)],
                                      render_kw={"placeholder": _SPEC_PLACEHOLDERS.get(key, ""),
                                                 "inputmode": "text" if key == "vehicle_plate" else "decimal"})
    return type(f"{type_code.title().replace('_', '')}SpecForm", (Form,), fields)


SPEC_FORMS = {t.code: _spec_form(t.code) for t in instruments.all_types()}


class InstrumentForm(FlaskForm):
    """Register an instrument. Field names are the arguments of ``services.register_instrument``."""

    type_code = SelectField(_l("Loại phương tiện đo"), choices=_type_choices,
                            validators=[InputRequired(message=REQUIRED)],
                            render_kw={"data-spec-switch": "true"})
    customer_id = HiddenField()
    customer_lookup = StringField(_l("Khách hàng (chủ sở hữu)"), validators=[Length(max=200)],
                                  render_kw={"autocomplete": "off", "data-customer-lookup": "true",
                                             "placeholder": _l("Gõ tên hoặc mã số thuế")})
    manufacturer = StringField(_l("Hãng sản xuất"), validators=[Length(max=120)])
    model = StringField(_l("Kiểu / model"), validators=[Length(max=120)])
    serial = StringField(_l("Số sản xuất (serial)"), validators=[InputRequired(message=REQUIRED), Length(max=80)])
    pattern_approval_mark = StringField(_l("Ký hiệu phê duyệt mẫu"), validators=[Length(max=60)])
    year_made = WholeNumberField(_l("Năm sản xuất"), validators=[Optional()])
    spec_nawi = FormField(SPEC_FORMS["nawi"], label=instruments.get("nawi").name_vi)
    spec_weight = FormField(SPEC_FORMS["weight"], label=instruments.get("weight").name_vi)
    spec_energy_meter = FormField(SPEC_FORMS["energy_meter"], label=instruments.get("energy_meter").name_vi)
    spec_taximeter = FormField(SPEC_FORMS["taximeter"], label=instruments.get("taximeter").name_vi)
    place_of_use = StringField(_l("Nơi sử dụng"), validators=[Length(max=300)])
    status = SelectField(_l("Trạng thái"), choices=_status_choices, default="active")
    last_verified_date = DayField(_l("Ngày kiểm định gần nhất"), validators=[Optional()])
    next_due_date = DayField(_l("Hạn kiểm định tiếp theo"), validators=[Optional()])
    notes = TextAreaField(_l("Ghi chú"), validators=[Length(max=services.NOTES_MAX)], render_kw={"rows": 2})

    def spec_form(self, type_code: str | None = None) -> FormField | None:
        return getattr(self, f"spec_{type_code or self.type_code.data}", None)

    def service_args(self) -> dict:
        """The arguments of ``register_instrument`` / ``update_instrument``: the chosen type's characteristics only."""
        sub = self.spec_form()
        spec = {key: services.spec_input(key, value) for key, value in (sub.data if sub else {}).items()
                if isinstance(value, str) and value.strip()}
        return {
            "type_code": self.type_code.data, "customer_id": self.customer_id.data or None,
            "manufacturer": self.manufacturer.data, "model": self.model.data, "serial": self.serial.data,
            "pattern_approval_mark": self.pattern_approval_mark.data, "year_made": self.year_made.data,
            "spec": spec, "place_of_use": self.place_of_use.data, "status": self.status.data,
            "last_verified_date": self.last_verified_date.data, "next_due_date": self.next_due_date.data,
            "notes": self.notes.data,
        }

    def place_error(self, exc: services.RegistryError) -> None:
        """Show a service's refusal on the field it names; a duplicate links to the instrument already registered."""
        message = str(exc)
        if isinstance(exc, services.DuplicateInstrumentError) and exc.existing_id:
            link = url_for("registry.instrument_detail", instrument_id=exc.existing_id)
            message = Markup('{} <a href="{}" data-testid="duplicate-link">{}</a>').format(
                message, link, _("Mở phương tiện đo đã đăng ký"))
        if exc.field.startswith("spec."):
            sub = self.spec_form()
            key = exc.field[5:].split(".")[0].split("[")[0]
            if sub is not None and key in sub.form._fields:
                sub.form[key].errors.append(_("%(field)s: %(message)s", field=key, message=message)
                                            if key != exc.field[5:] else message)
                return
            self.type_code.errors.append(_("Đặc trưng đo lường: %(message)s", message=message))
            return
        if exc.field == "spec":
            self.type_code.errors.append(message)
            return
        target = {"customer_id": self.customer_lookup}.get(exc.field) or getattr(self, exc.field, None)
        (target if target is not None else self.serial).errors.append(message)


class InstrumentEditForm(InstrumentForm):
    reason = TextAreaField(_l("Lý do thay đổi"), validators=[InputRequired(message=_l(
        "Hãy ghi lý do thay đổi: lý do được lưu vào nhật ký kiểm toán.")), Length(max=500)], render_kw={"rows": 2})


class CustomerForm(FlaskForm):
    """A customer (business). Field names are the arguments of ``services.create_customer``."""

    name = StringField(_l("Tên khách hàng"), validators=[InputRequired(message=REQUIRED), Length(max=200)])
    tax_code = StringField(_l("Mã số thuế"), validators=[Length(max=20)],
                           render_kw={"placeholder": "0100112437", "inputmode": "numeric"})
    address = StringField(_l("Địa chỉ"), validators=[Length(max=300)])
    commune = StringField(_l("Xã/phường/thị trấn"), validators=[Length(max=100)])
    district = StringField(_l("Quận/huyện/thị xã"), validators=[Length(max=100)])
    province = StringField(_l("Tỉnh/thành phố"), validators=[Length(max=100)])
    contact_name = StringField(_l("Người liên hệ"), validators=[Length(max=120)])
    phone = StringField(_l("Điện thoại"), validators=[Length(max=30)], render_kw={"inputmode": "tel"})
    email = StringField(_l("Email"), validators=[Length(max=254)], render_kw={"inputmode": "email"})
    notes = TextAreaField(_l("Ghi chú"), validators=[Length(max=services.NOTES_MAX)], render_kw={"rows": 2})

    def service_args(self) -> dict:
        return {name: self[name].data for name in ("name", "tax_code", "address", "commune", "district", "province",
                                                   "contact_name", "phone", "email", "notes")}

    def place_error(self, exc: services.RegistryError) -> None:
        message = str(exc)
        if isinstance(exc, services.DuplicateTaxCodeError):
            link = url_for("registry.customer_detail", customer_id=exc.existing_id)
            message = Markup('{} <a href="{}" data-testid="duplicate-link">{}</a>').format(
                message, link, _("Mở khách hàng này"))
        target = self._fields.get(exc.field, self.name)
        target.errors.append(message)


class CustomerEditForm(CustomerForm):
    reason = TextAreaField(_l("Lý do thay đổi"), validators=[Optional(), Length(max=500)], render_kw={"rows": 2})


class ImportForm(FlaskForm):
    file = FileField(_l("Tệp CSV hoặc Excel (.xlsx)"), validators=[FileRequired(message=_l("Hãy chọn một tệp."))],
                     render_kw={"accept": ".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument."
                                          "spreadsheetml.sheet"})


class InstrumentFilterForm(FlaskForm):
    """The search box and filters of the instrument list (query string; no CSRF on a GET)."""

    class Meta:
        csrf = False

    q = StringField(_l("Tìm"), validators=[Length(max=100)],
                    render_kw={"placeholder": _l("Số sản xuất, tên khách hàng hoặc mã số thuế"), "type": "search"})
    type_code = SelectField(_l("Loại"), choices=lambda: _type_choices(_l("Mọi loại")), default="")
    status = SelectField(_l("Trạng thái"), choices=lambda: _status_choices(_l("Mọi trạng thái")), default="")
    due_within = WholeNumberField(_l("Đến hạn trong (ngày)"), validators=[Optional(), NumberRange(min=0, max=3650)],
                                  render_kw={"min": 0, "max": 3650, "placeholder": "30"})
    overdue = BooleanField(_l("Quá hạn"))
    customer_id = HiddenField()
    sort = SelectField(_l("Sắp xếp"), choices=lambda: _sort_choices(services.INSTRUMENT_SORTS, _l("Mặc định")),
                       default="")

    def to_filter(self) -> services.InstrumentFilter:
        """The filter; a value that failed its check is left out (the form shows why)."""
        def good(field):
            return field.data if not field.errors else None

        customer = self.customer_id.data
        return services.InstrumentFilter(
            q=(good(self.q) or "").strip(), type_code=good(self.type_code) or "", status=good(self.status) or "",
            customer_id=int(customer) if customer and str(customer).isdigit() else None,
            due_within=good(self.due_within), overdue=bool(self.overdue.data), sort=good(self.sort) or "")


class CustomerFilterForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Tìm"), validators=[Length(max=100)],
                    render_kw={"placeholder": _l("Tên (không cần dấu) hoặc mã số thuế"), "type": "search"})
    district = SelectField(_l("Quận/huyện"), default="")  # choices: the districts in the registry (set by the view)
    sort = SelectField(_l("Sắp xếp"), choices=lambda: _sort_choices(services.CUSTOMER_SORTS), default="name")

    def set_districts(self, districts: list[str]) -> None:
        self.district.choices = [SelectChoice("", _l("Mọi quận/huyện"))] + [SelectChoice(d) for d in districts]
