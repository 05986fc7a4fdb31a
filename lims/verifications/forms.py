"""Forms of verification records. Field name = service argument; the rules live in services.py and come back as
``VerificationError``s, which ``place_error`` puts on the field they name. Choices that depend on the date, the
kind of work and the instrument (methods in force, usable and adequate standards) are set by the view."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField, TextAreaField, TimeField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

import instruments
from lims.forms import DecimalTextField, MultiCheckboxField
from lims.registry.forms import DayField

from . import services

REQUIRED = _l("Trường này không được để trống.")


def kind_choices() -> list[SelectChoice]:
    return [SelectChoice(code, label) for code, label in services.KIND_LABELS.items()]


class DetailsForm(FlaskForm):
    """What, when, where, with what: the header of a record (``services.update_details``)."""

    kind = SelectField(_l("Loại công việc"), choices=kind_choices)
    method_version_id = SelectField(_l("Phương pháp (quy trình)"), choices=[], validate_choice=False)
    technician_id = SelectField(_l("Kiểm định viên thực hiện"), choices=[], validate_choice=False)
    performed_date = DayField(_l("Ngày thực hiện"), validators=[InputRequired(message=REQUIRED)])
    start_time = TimeField(_l("Giờ bắt đầu"), validators=[Optional()], format="%H:%M")
    end_time = TimeField(_l("Giờ kết thúc"), validators=[Optional()], format="%H:%M")
    place = StringField(_l("Địa điểm thực hiện"), validators=[Length(max=300)])
    room_id = SelectField(_l("Phòng / địa điểm (nhật ký điều kiện môi trường)"), choices=[], validate_choice=False)
    standard_ids = MultiCheckboxField(_l("Chuẩn đo lường và thiết bị sử dụng"), choices=[], validate_choice=False)
    conditions_source = SelectField(_l("Nguồn số liệu"), default="log", choices=lambda: [
        SelectChoice(code, label) for code, label in services.CONDITION_SOURCES.items()])
    temperature_c = DecimalTextField(_l("Nhiệt độ (°C)"), render_kw={"inputmode": "decimal"})
    humidity_pct = DecimalTextField(_l("Độ ẩm (%RH)"), render_kw={"inputmode": "decimal"})
    pressure_hpa = DecimalTextField(_l("Áp suất (hPa)"), render_kw={"inputmode": "decimal"})
    notes = TextAreaField(_l("Ghi chú"), validators=[Length(max=4000)], render_kw={"rows": 2})

    FIELDS = ("method_version_id", "technician_id", "performed_date", "start_time", "end_time", "place", "room_id",
              "standard_ids", "conditions_source", "temperature_c", "humidity_pct", "pressure_hpa", "notes")

    def service_args(self) -> dict:
        args = {name: self[name].data for name in self.FIELDS}
        args["method_version_id"] = args["method_version_id"] or None
        args["room_id"] = args["room_id"] or None
        return args

    def place_error(self, exc: services.VerificationError) -> None:
        target = self._fields.get(exc.field) or self._fields.get(
            {"conditions": "conditions_source"}.get(exc.field, "")) or self.notes
        target.errors.append(str(exc))


class SignForm(FlaskForm):
    """A signature: the signer types their password again (21 CFR 11.200)."""

    password = PasswordField(_l("Mật khẩu của bạn (để ký)"), validators=[InputRequired(message=REQUIRED)],
                             render_kw={"autocomplete": "current-password"})


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Lý do"), validators=[InputRequired(message=REQUIRED), Length(max=1000)],
                           render_kw={"rows": 2})


class FilterForm(FlaskForm):
    class Meta:
        csrf = False

    queue = SelectField(_l("Danh sách"), default="", choices=lambda: [SelectChoice("", _l("Tất cả"))] + [
        SelectChoice(code, label) for code, label in services.QUEUES.items()])
    state = SelectField(_l("Trạng thái"), default="", choices=lambda: [SelectChoice("", _l("Mọi trạng thái"))] + [
        SelectChoice(code, label) for code, label in services.STATE_LABELS.items()])
    type_code = SelectField(_l("Loại phương tiện đo"), default="", choices=lambda: [
        SelectChoice("", _l("Mọi loại"))] + [SelectChoice(t.code, t.name_vi) for t in instruments.all_types()])
    q = StringField(_l("Tìm"), validators=[Length(max=100)],
                    render_kw={"placeholder": _l("Số sản xuất, số yêu cầu hoặc khách hàng"), "type": "search"})
