"""Forms of the certificates and the stamp inventory. Field names are the services' argument names."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, Form, HiddenField, IntegerField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

#: Labels shown for the kinds and live statuses (services.KIND_LABELS are the printed, untranslated ones).
KIND_LABELS = {
    "verification": _l("Giấy chứng nhận kiểm định"),
    "calibration": _l("Giấy chứng nhận hiệu chuẩn"),
    "failure_notice": _l("Thông báo kiểm định không đạt"),
}
STATUS_LABELS = {
    "valid": _l("Còn hiệu lực"),
    "expired": _l("Hết hiệu lực"),
    "superseded": _l("Đã được thay thế"),
    "revoked": _l("Đã thu hồi"),
}
SIGNATURE_LABELS = {
    "performed": _l("Người thực hiện"),
    "reviewed": _l("Người soát xét"),
    "approved": _l("Người phê duyệt"),
}
STAMP_STATE_LABELS = {
    "available": _l("Trong kho"),
    "assigned": _l("Đã giao"),
    "used": _l("Đã dùng"),
    "spoiled": _l("Đã hủy"),
}


class FilterForm(Form):
    """The certificate list's query string (GET, no CSRF)."""

    q = StringField(_l("Số giấy chứng nhận, số sản xuất hoặc khách hàng"))
    status = SelectField(_l("Tình trạng"), choices=[SelectChoice("", _l("Mọi tình trạng"))]
                         + [SelectChoice(k, v) for k, v in STATUS_LABELS.items()])
    kind = SelectField(_l("Loại"), choices=[SelectChoice("", _l("Mọi loại"))]
                       + [SelectChoice(k, v) for k, v in KIND_LABELS.items()])
    date_from = DateField(_l("Cấp từ ngày"), validators=[Optional()])
    date_to = DateField(_l("đến ngày"), validators=[Optional()])


class RevokeForm(FlaskForm):
    reason = TextAreaField(_l("Lý do thu hồi"), validators=[DataRequired(_l("Ghi lý do thu hồi giấy chứng nhận.")),
                                                              Length(max=1000)])
    submit = SubmitField(_l("Thu hồi giấy chứng nhận"))


class AmendForm(FlaskForm):
    # One key per form shown: a double-click or a replayed POST issues one amendment (certificates.issue_request_key).
    request_key = HiddenField()
    reason = TextAreaField(_l("Lý do sửa đổi"), validators=[DataRequired(_l("Ghi lý do sửa đổi giấy chứng nhận.")),
                                                              Length(max=1000)],
                           description=_l("Giấy chứng nhận mới được cấp số mới, ghi rõ thay thế giấy chứng nhận này "
                                          "và lý do; giấy cũ chuyển sang tình trạng đã được thay thế."))
    submit = SubmitField(_l("Cấp giấy chứng nhận sửa đổi"))


class ReceiveStampsForm(FlaskForm):
    series = StringField(_l("Ký hiệu sê-ri"), validators=[Length(max=20)], description=_l("Ví dụ GL-26."))
    first_number = IntegerField(_l("Từ số"), validators=[DataRequired(), NumberRange(min=1)])
    last_number = IntegerField(_l("Đến số"), validators=[DataRequired(), NumberRange(min=1)])
    received_date = DateField(_l("Ngày nhận"), validators=[DataRequired()])
    notes = TextAreaField(_l("Ghi chú"), validators=[Length(max=1000)])
    submit = SubmitField(_l("Nhận tem"))


class AssignStampsForm(FlaskForm):
    series = StringField(_l("Ký hiệu sê-ri"), validators=[Length(max=20)])
    first_number = IntegerField(_l("Từ số"), validators=[DataRequired(), NumberRange(min=1)])
    last_number = IntegerField(_l("Đến số"), validators=[DataRequired(), NumberRange(min=1)])
    technician_id = SelectField(_l("Giao cho kiểm định viên"), coerce=int, validators=[DataRequired()])
    submit = SubmitField(_l("Giao tem"))


class SpoilStampForm(FlaskForm):
    reason = TextAreaField(_l("Lý do hủy tem"), validators=[DataRequired(_l("Ghi lý do hủy tem.")),
                                                            Length(max=1000)])
    submit = SubmitField(_l("Hủy tem"))


class StampFilterForm(Form):
    q = StringField(_l("Số tem"))
    state = SelectField(_l("Tình trạng"), choices=[SelectChoice("", _l("Mọi tình trạng"))]
                        + [SelectChoice(k, v) for k, v in STAMP_STATE_LABELS.items()])
    technician_id = SelectField(_l("Người giữ"), coerce=str)
