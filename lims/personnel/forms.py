"""Forms of the personnel register. Field names are the service arguments (and the model attributes); the rules
that need the database (card numbers, who may grant) live in services.py."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from . import services


def _int_or_none(value):
    return None if value in (None, "", "None") else int(value)


class ReasonMixin:
    # Required by the service once the record is in use (services.recorded_before / authorisation_in_use).
    reason = TextAreaField(_l("Lý do sửa"), validators=[Optional(), Length(max=services.REASON_MAX)])


class QualificationForm(FlaskForm):
    degree = SelectField(_l("Trình độ, văn bằng"), validators=[DataRequired()],
                         choices=[SelectChoice(code, label) for code, label in services.DEGREES.items()])
    field = StringField(_l("Chuyên ngành"), validators=[DataRequired(), Length(max=160)])
    institution = StringField(_l("Cơ sở đào tạo"), validators=[DataRequired(), Length(max=200)])
    year = IntegerField(_l("Năm tốt nghiệp"), validators=[InputRequired()])
    submit = SubmitField(_l("Lưu"))

    def service_args(self) -> dict:
        return {"degree": self.degree.data, "field": self.field.data, "institution": self.institution.data,
                "year": self.year.data}


class QualificationEditForm(ReasonMixin, QualificationForm):
    pass


class TrainingForm(FlaskForm):
    course = StringField(_l("Tên khoá đào tạo"), validators=[DataRequired(), Length(max=200)])
    provider = StringField(_l("Đơn vị tổ chức"), validators=[DataRequired(), Length(max=200)])
    start_date = DateField(_l("Ngày bắt đầu"), validators=[InputRequired()])
    end_date = DateField(_l("Ngày kết thúc"), validators=[InputRequired()])
    # Kept as text so that "7,5" (decimal comma) is accepted; services.training_fields parses and checks it.
    hours = StringField(_l("Số giờ"), validators=[DataRequired(), Length(max=10)])
    certificate_number = StringField(_l("Số chứng chỉ"), validators=[Optional(), Length(max=60)])
    certificate_file = FileField(_l("Tệp chứng chỉ (PDF, PNG, JPG)"))
    submit = SubmitField(_l("Lưu"))

    def service_args(self) -> dict:
        return {"course": self.course.data, "provider": self.provider.data, "start_date": self.start_date.data,
                "end_date": self.end_date.data, "hours": self.hours.data,
                "certificate_number": self.certificate_number.data or ""}


class TrainingEditForm(ReasonMixin, TrainingForm):
    pass


class AuthorisationForm(FlaskForm):
    instrument_type = SelectField(_l("Loại phương tiện đo"), validators=[DataRequired()],
                                  choices=[SelectChoice(code, name) for code, name in services.type_choices()])
    scope = StringField(_l("Phạm vi"), validators=[DataRequired(), Length(max=300)],
                        description=_l("Ví dụ: Cân điện tử cấp III đến 150 kg"))
    can_perform = BooleanField(_l("Thực hiện kiểm định, hiệu chuẩn"), default=True)
    can_review = BooleanField(_l("Soát xét kết quả"))
    can_approve = BooleanField(_l("Phê duyệt kết quả"))
    card_number = StringField(_l("Số thẻ kiểm định viên"), validators=[Optional(), Length(max=40)])
    valid_from = DateField(_l("Hiệu lực từ ngày"), validators=[InputRequired()])
    valid_until = DateField(_l("Hiệu lực đến ngày"), validators=[InputRequired()])
    granted_by_id = SelectField(_l("Người ký ủy quyền"), coerce=_int_or_none, choices=[])
    granted_by_authority = StringField(_l("hoặc cơ quan cấp"), validators=[Optional(), Length(max=200)],
                                       render_kw={"list": "authorities"},
                                       description=_l("Ví dụ: Tổng cục Tiêu chuẩn Đo lường Chất lượng"))
    submit = SubmitField(_l("Lưu"))

    def set_grantors(self, users, *, current=None) -> None:
        people = list(users)
        if current is not None and current not in people:
            people.append(current)
        self.granted_by_id.choices = [SelectChoice("", _l("— không (do cơ quan cấp) —"))] + [
            SelectChoice(str(user.id), user.full_name) for user in people]

    def service_args(self) -> dict:
        return {name: getattr(self, name).data for name in (
            "instrument_type", "scope", "can_perform", "can_review", "can_approve", "card_number", "valid_from",
            "valid_until", "granted_by_id", "granted_by_authority")}


class AuthorisationEditForm(ReasonMixin, AuthorisationForm):
    pass


class RevokeForm(FlaskForm):
    revoked_date = DateField(_l("Thu hồi từ ngày"), validators=[InputRequired()],
                             description=_l("Từ ngày này ủy quyền không còn giá trị."))
    revocation_reason = TextAreaField(_l("Lý do thu hồi"),
                                      validators=[DataRequired(), Length(max=services.REASON_MAX)])
    submit = SubmitField(_l("Thu hồi ủy quyền"))


class DeleteForm(FlaskForm):
    reason = TextAreaField(_l("Lý do xoá"), validators=[DataRequired(), Length(max=services.REASON_MAX)])
    submit = SubmitField(_l("Xoá"))
