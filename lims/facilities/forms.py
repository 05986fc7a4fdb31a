"""Forms of the facilities register. Field names are the services' argument names and the models' attributes."""

from __future__ import annotations


from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, DateTimeLocalField, Form, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional
from lims.forms import DecimalTextField

from .services import ROOM_KINDS, from_local



class RoomForm(FlaskForm):
    # code: upper case letters, digits, - . _ / (services.clean_code); unique like the column rooms.code.
    code = StringField(_l("Mã phòng"), validators=[DataRequired(), Length(max=20)],
                       description=_l("Ví dụ P-KL, HT-CHO-01."))
    name = StringField(_l("Tên phòng / địa điểm"), validators=[DataRequired(), Length(max=200)])
    building = StringField(_l("Toà nhà / địa chỉ"), validators=[Length(max=200)])
    kind = SelectField(_l("Loại"), choices=[SelectChoice(k, v) for k, v in ROOM_KINDS.items()])
    notes = TextAreaField(_l("Ghi chú"), validators=[Length(max=4000)])
    reason = TextAreaField(_l("Lý do sửa đổi"), validators=[Length(max=4000)])
    submit = SubmitField(_l("Lưu"))

    def service_args(self) -> dict:
        return {"code": self.code.data, "name": self.name.data, "building": self.building.data or "",
                "kind": self.kind.data, "notes": self.notes.data or ""}


class ReadingForm(FlaskForm):
    taken_at = DateTimeLocalField(_l("Thời điểm đo (giờ Việt Nam)"),
                                  format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"], validators=[DataRequired()])
    temperature_c = DecimalTextField(_l("Nhiệt độ (°C)"))
    humidity_pct = DecimalTextField(_l("Độ ẩm (%RH)"))
    pressure_hpa = DecimalTextField(_l("Áp suất (hPa)"))
    submit = SubmitField(_l("Ghi số đo"))

    def service_args(self) -> dict:
        return {"taken_at": from_local(self.taken_at.data), "temperature_c": self.temperature_c.data,
                "humidity_pct": self.humidity_pct.data, "pressure_hpa": self.pressure_hpa.data}


class ImportForm(FlaskForm):
    file = FileField(_l("Tệp CSV của data-logger"), validators=[FileRequired(_l("Chọn một tệp CSV."))])
    submit = SubmitField(_l("Nhập số đo"))


class FilterForm(Form):
    """The room list's query string (GET, no CSRF)."""

    q = StringField(_l("Tìm mã, tên hoặc toà nhà"))
    kind = SelectField(_l("Loại"), choices=[SelectChoice("", _l("Mọi loại"))]
                       + [SelectChoice(k, v) for k, v in ROOM_KINDS.items()])


class PeriodForm(Form):
    """The room page's period and the method whose limits are drawn and checked (GET, no CSRF)."""

    start_date = DateField(_l("Từ ngày"), validators=[Optional()])
    end_date = DateField(_l("Đến ngày"), validators=[Optional()])
    method_version_id = SelectField(_l("Đối chiếu giới hạn của phương pháp"), validators=[Optional()],
                                    validate_choice=False)
