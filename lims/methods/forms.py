"""Forms of the methods register. Field names are the services' argument names and the models' attributes; the
environmental limits are a nested form whose data is exactly the ``environment_limits`` JSON shape."""

from __future__ import annotations


import instruments
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (DateField, Form, FormField, IntegerField, SelectField, StringField,
                     SubmitField, TextAreaField)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from lims.forms import DecimalTextField, MultiCheckboxField

from .services import ADEQUACY_DIVISOR_MAX, KINDS, STATUS_LABELS, TEST_KEYS




class TemperatureLimitsForm(Form):
    min = DecimalTextField(_l("Nhiệt độ tối thiểu (°C)"))
    max = DecimalTextField(_l("Nhiệt độ tối đa (°C)"))
    max_rate_per_h = DecimalTextField(_l("Thay đổi tối đa mỗi giờ (°C/h)"))
    max_change_12h = DecimalTextField(_l("Thay đổi tối đa trong 12 giờ (°C)"))


class HumidityLimitsForm(Form):
    min = DecimalTextField(_l("Độ ẩm tối thiểu (%RH)"))
    max = DecimalTextField(_l("Độ ẩm tối đa (%RH)"))


class PressureLimitsForm(Form):
    min = DecimalTextField(_l("Áp suất tối thiểu (hPa)"))
    max = DecimalTextField(_l("Áp suất tối đa (hPa)"))


class EnvironmentLimitsForm(Form):
    # Mirrors services.LIMIT_KEYS; .data is the JSON shape with None for empty boxes (the service drops them).
    temperature_c = FormField(TemperatureLimitsForm)
    humidity_pct = FormField(HumidityLimitsForm)
    pressure_hpa = FormField(PressureLimitsForm)


def _type_choices() -> list[SelectChoice]:
    return [SelectChoice(t.code, t.name_vi) for t in instruments.all_types()]


#: Short names of the instrument types, to keep the required-test checkboxes on one line each.
_TYPE_SHORT = {"nawi": _l("Cân"), "weight": _l("Quả cân"), "energy_meter": _l("Công tơ"), "taximeter": _l("Taximet")}


def _test_choices() -> list[SelectChoice]:
    choices = []
    for t in instruments.all_types():
        for key, label in TEST_KEYS[t.code].items():
            choices.append(SelectChoice(key, _l("%(type)s: %(test)s (%(key)s)", type=_TYPE_SHORT.get(t.code, t.name_vi),
                                                test=label, key=key)))
    return choices


class ProcedureForm(FlaskForm):
    # number: without the year (services.clean_number refuses ":"); unique, compared accent-insensitively.
    number = StringField(_l("Số hiệu"), validators=[DataRequired(), Length(max=40)],
                         description=_l("Không kèm năm ban hành, ví dụ ĐLVN 39."))
    title = StringField(_l("Tên phương pháp"), validators=[DataRequired(), Length(max=300)])
    issuer = StringField(_l("Cơ quan ban hành"), validators=[Length(max=200)])
    reason = TextAreaField(_l("Lý do sửa đổi"), validators=[Length(max=4000)])
    submit = SubmitField(_l("Lưu"))

    def service_args(self) -> dict:
        return {"number": self.number.data, "title": self.title.data, "issuer": self.issuer.data or ""}


class VersionForm(FlaskForm):
    version_label = StringField(_l("Phiên bản (năm ban hành)"), validators=[DataRequired(), Length(max=20)],
                                description=_l("Ví dụ 2004: phương pháp được trích dẫn là ĐLVN 39:2004."))
    effective_date = DateField(_l("Có hiệu lực từ ngày"), validators=[DataRequired()])
    kind = SelectField(_l("Loại công việc"), choices=[SelectChoice(k, v) for k, v in KINDS.items()])
    instrument_types = MultiCheckboxField(_l("Loại phương tiện đo áp dụng"), choices=_type_choices(),
                                          validators=[DataRequired()])
    environment_limits = FormField(EnvironmentLimitsForm, label=_l("Điều kiện môi trường"))
    adequacy_divisor = IntegerField(_l("Tỷ số đánh giá chuẩn (sai số của chuẩn ≤ MPE / n)"),
                                    validators=[Optional(), NumberRange(min=1, max=ADEQUACY_DIVISOR_MAX)],
                                    description=_l("Để trống khi phương pháp không quy định."))
    required_tests = MultiCheckboxField(_l("Phép thử bắt buộc"), choices=_test_choices())
    notes = TextAreaField(_l("Ghi chú"), validators=[Length(max=4000)])
    document = FileField(_l("Tệp tài liệu (PDF, DOC, DOCX)"))
    reason = TextAreaField(_l("Lý do"), validators=[Length(max=4000)],
                           description=_l("Bắt buộc khi sửa phiên bản đã có hiệu lực, hoặc khi ban hành phiên bản "
                                          "thay thế."))
    submit = SubmitField(_l("Lưu"))

    def service_args(self) -> dict:
        return {"version_label": self.version_label.data, "effective_date": self.effective_date.data,
                "kind": self.kind.data, "instrument_types": self.instrument_types.data,
                "environment_limits": self.environment_limits.data, "adequacy_divisor": self.adequacy_divisor.data,
                "required_tests": self.required_tests.data, "notes": self.notes.data or ""}


class CreateForm(VersionForm):
    """A new procedure with its first version."""

    number = ProcedureForm.number
    title = ProcedureForm.title
    issuer = ProcedureForm.issuer

    def procedure_args(self) -> dict:
        return {"number": self.number.data, "title": self.title.data, "issuer": self.issuer.data or ""}


class WithdrawForm(FlaskForm):
    withdrawn_date = DateField(_l("Hết hiệu lực từ ngày"), validators=[DataRequired()],
                               description=_l("Ngày đầu tiên không còn được dùng phiên bản này."))
    reason = TextAreaField(_l("Lý do huỷ bỏ"), validators=[DataRequired(), Length(max=4000)])
    submit = SubmitField(_l("Huỷ bỏ phiên bản"))


class FilterForm(Form):
    """The list's query string (GET, no CSRF)."""

    q = StringField(_l("Tìm số hiệu hoặc tên"))
    instrument_type = SelectField(_l("Loại phương tiện đo"),
                                  choices=[SelectChoice("", _l("Tất cả loại"))] + _type_choices())
    status = SelectField(_l("Hiệu lực"), choices=[SelectChoice("", _l("Mọi trạng thái"))]
                         + [SelectChoice(k, v) for k, v in STATUS_LABELS.items()])
    kind = SelectField(_l("Loại công việc"), choices=[SelectChoice("", _l("Kiểm định và hiệu chuẩn"))]
                       + [SelectChoice(k, v) for k, v in KINDS.items()])
