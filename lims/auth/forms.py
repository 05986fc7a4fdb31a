from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Optional
from lims.forms import MultiCheckboxField

from .permissions import ROLES


class LoginForm(FlaskForm):
    username = StringField(_l("Tên đăng nhập"), validators=[DataRequired(), Length(max=60)])
    password = PasswordField(_l("Mật khẩu"), validators=[DataRequired(), Length(max=200)])
    submit = SubmitField(_l("Đăng nhập"))



class UserForm(FlaskForm):
    # username: must match services.create_user's rule (letters, digits, . _ -)
    username = StringField(_l("Tên đăng nhập"), validators=[DataRequired(), Length(max=60)])
    full_name = StringField(_l("Họ và tên"), validators=[DataRequired(), Length(max=120)])
    email = EmailField(_l("Email"), validators=[Optional(), Email(check_deliverability=False), Length(max=254)])
    password = PasswordField(_l("Mật khẩu ban đầu"), validators=[DataRequired(), Length(max=200)])
    roles = MultiCheckboxField(_l("Vai trò"), choices=[SelectChoice(code, label) for code, label in ROLES.items()],
                               validators=[DataRequired()])
    submit = SubmitField(_l("Tạo người dùng"))


class UserEditForm(FlaskForm):
    full_name = StringField(_l("Họ và tên"), validators=[DataRequired(), Length(max=120)])
    email = EmailField(_l("Email"), validators=[Optional(), Email(check_deliverability=False), Length(max=254)])
    is_active = BooleanField(_l("Đang hoạt động"))
    roles = MultiCheckboxField(_l("Vai trò"), choices=[SelectChoice(code, label) for code, label in ROLES.items()])
    submit = SubmitField(_l("Lưu"))


class PasswordForm(FlaskForm):
    current_password = PasswordField(_l("Mật khẩu hiện tại"), validators=[DataRequired()])
    new_password = PasswordField(_l("Mật khẩu mới"), validators=[DataRequired(), Length(max=200)])
    submit = SubmitField(_l("Đổi mật khẩu"))
