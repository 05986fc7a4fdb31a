"""Forms of the jobs feature. Field name = service argument = model attribute; the rules live in services.py and come
back as ``JobError``s, which ``place_error`` puts on the field they name."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from lims.forms import MultiCheckboxField
from lims.registry.forms import DayField, InstrumentForm

from . import services

REQUIRED = _l("Trường này không được để trống.")


def service_choices(*, blank: str | None = None) -> list[SelectChoice]:
    head = [SelectChoice("", blank)] if blank else []
    return head + [SelectChoice(code, label) for code, label in services.SERVICE_LABELS.items()]


def location_choices() -> list[SelectChoice]:
    return [SelectChoice(code, label) for code, label in services.LOCATION_LABELS.items()]


def user_choices(users, *, blank) -> list[SelectChoice]:
    return [SelectChoice("", blank)] + [SelectChoice(str(user.id), user.full_name) for user in users]


class PlaceErrorMixin:
    def place_error(self, exc: services.JobError, fallback: str) -> None:
        target = self._fields.get(exc.field) or self._fields[fallback]
        target.errors.append(str(exc))


class CustomerSearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Khách hàng"), validators=[Length(max=100)],
                    render_kw={"placeholder": _l("Tên (không cần dấu) hoặc mã số thuế"), "type": "search"})


class ReceiveForm(PlaceErrorMixin, FlaskForm):
    """Receive a job: the request and the instruments handed over (arguments of ``services.receive_job``)."""

    received_date = DayField(_l("Ngày tiếp nhận"), validators=[InputRequired(message=REQUIRED)])
    due_date = DayField(_l("Ngày hẹn trả kết quả"), validators=[Optional()])
    location = SelectField(_l("Nơi thực hiện"), choices=location_choices, default="lab")
    site_address = StringField(_l("Địa chỉ hiện trường"), validators=[Length(max=300)])
    contact_name = StringField(_l("Người giao phương tiện đo"), validators=[Length(max=120)])
    assigned_to_id = SelectField(_l("Giao cho kiểm định viên"), choices=[], validate_choice=False)
    instrument_ids = MultiCheckboxField(_l("Phương tiện đo được tiếp nhận"), choices=[])
    service = SelectField(_l("Dịch vụ yêu cầu"),
                          choices=lambda: service_choices(blank=_l("Theo từng phương tiện đo (ban đầu / định kỳ)")),
                          default="")
    condition_on_receipt = TextAreaField(_l("Tình trạng khi nhận"), validators=[Length(max=2000)],
                                         render_kw={"rows": 2, "placeholder": _l(
                                             "Ví dụ: nguyên vẹn, còn niêm phong, hiển thị bình thường")})
    accessories = StringField(_l("Phụ kiện kèm theo"), validators=[Length(max=300)],
                              render_kw={"placeholder": _l("Ví dụ: bộ đổi nguồn, đĩa cân")})
    notes = TextAreaField(_l("Ghi chú"), validators=[Length(max=4000)], render_kw={"rows": 2})

    def items(self, instruments_by_id: dict) -> list[dict]:
        rows = []
        for value in self.instrument_ids.data or []:
            instrument = instruments_by_id.get(int(value))
            if instrument is None:
                continue
            rows.append({"instrument_id": instrument.id,
                         "service": self.service.data or services.default_service(instrument),
                         "condition_on_receipt": self.condition_on_receipt.data,
                         "accessories": self.accessories.data})
        return rows

    def service_args(self) -> dict:
        return {"received_date": self.received_date.data, "due_date": self.due_date.data,
                "location": self.location.data, "site_address": self.site_address.data,
                "contact_name": self.contact_name.data, "assigned_to_id": self.assigned_to_id.data or None,
                "notes": self.notes.data}


class ItemForm(PlaceErrorMixin, FlaskForm):
    instrument_id = SelectField(_l("Phương tiện đo"), choices=[], validators=[InputRequired(message=REQUIRED)])
    service = SelectField(_l("Dịch vụ yêu cầu"), choices=service_choices,
                          validators=[InputRequired(message=REQUIRED)])
    condition_on_receipt = TextAreaField(_l("Tình trạng khi nhận"), validators=[Length(max=2000)],
                                         render_kw={"rows": 2})
    accessories = StringField(_l("Phụ kiện kèm theo"), validators=[Length(max=300)])

    def service_args(self) -> dict:
        return {name: self[name].data for name in ("instrument_id", "service", "condition_on_receipt",
                                                   "accessories")}


class RegisterItemForm(InstrumentForm):
    """Register an instrument of the job's customer on the spot, and receive it (registry's form plus receipt)."""

    service = SelectField(_l("Dịch vụ yêu cầu"), choices=service_choices,
                          validators=[InputRequired(message=REQUIRED)])
    condition_on_receipt = TextAreaField(_l("Tình trạng khi nhận"), validators=[Length(max=2000)],
                                         render_kw={"rows": 2})
    accessories = StringField(_l("Phụ kiện kèm theo"), validators=[Length(max=300)])

    def receipt_args(self) -> dict:
        return {name: self[name].data for name in ("service", "condition_on_receipt", "accessories")}


class FeeForm(PlaceErrorMixin, FlaskForm):
    description = StringField(_l("Nội dung"), validators=[InputRequired(message=REQUIRED), Length(max=200)],
                              render_kw={"placeholder": _l("Ví dụ: Phí kiểm định cân đến 30 kg")})
    quantity = IntegerField(_l("Số lượng"), default=1, validators=[InputRequired(message=REQUIRED),
                                                                   NumberRange(min=1, max=100000)])
    unit_price_vnd = StringField(_l("Đơn giá (đồng)"), validators=[InputRequired(message=REQUIRED), Length(max=30)],
                                 render_kw={"inputmode": "numeric", "placeholder": "150000"})
    job_item_id = SelectField(_l("Cho phương tiện đo"), choices=[], validate_choice=False)

    def service_args(self) -> dict:
        return {"description": self.description.data, "quantity": self.quantity.data,
                "unit_price_vnd": self.unit_price_vnd.data, "job_item_id": self.job_item_id.data or None}


class AssignForm(PlaceErrorMixin, FlaskForm):
    assigned_to_id = SelectField(_l("Kiểm định viên"), choices=[], validate_choice=False)


class EditForm(PlaceErrorMixin, FlaskForm):
    due_date = DayField(_l("Ngày hẹn trả kết quả"), validators=[Optional()])
    location = SelectField(_l("Nơi thực hiện"), choices=location_choices)
    site_address = StringField(_l("Địa chỉ hiện trường"), validators=[Length(max=300)])
    contact_name = StringField(_l("Người giao phương tiện đo"), validators=[Length(max=120)])
    notes = TextAreaField(_l("Ghi chú"), validators=[Length(max=4000)], render_kw={"rows": 2})

    def service_args(self) -> dict:
        return {name: self[name].data for name in ("due_date", "location", "site_address", "contact_name", "notes")}


class StateForm(PlaceErrorMixin, FlaskForm):
    state = HiddenField(validators=[InputRequired()])
    reason = TextAreaField(_l("Lý do"), validators=[Length(max=500)], render_kw={"rows": 2})


class ReasonForm(PlaceErrorMixin, FlaskForm):
    reason = StringField(_l("Lý do"), validators=[InputRequired(message=REQUIRED), Length(max=500)])


class BoardFilterForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Tìm"), validators=[Length(max=100)],
                    render_kw={"placeholder": _l("Số yêu cầu, tên khách hàng hoặc mã số thuế"), "type": "search"})
    state = SelectField(_l("Trạng thái"), choices=lambda: [SelectChoice("", _l("Mọi trạng thái"))] + [
        SelectChoice(code, label) for code, label in services.STATE_LABELS.items()], default="")
    mine = BooleanField(_l("Việc của tôi"))
    overdue = BooleanField(_l("Quá hạn trả"))
