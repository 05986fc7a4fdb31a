"""Forms of the standards register. Field name = service argument = model attribute; the rules live in services."""

from __future__ import annotations

from decimal import Decimal

import instruments
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (DateField, IntegerField, SelectField, StringField, SubmitField,
                     TextAreaField, ValidationError)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from lims.forms import MultiCheckboxField

from .models import KINDS, SOURCES
from .services import (KIND_LABELS, RANGE_UNITS, SOURCE_LABELS, STATUS_LABELS, WEIGHT_CLASSES, Adequacy,
                       StandardError, plain)



def type_choices() -> list[SelectChoice]:
    return [SelectChoice(t.code, t.name_vi) for t in instruments.all_types()]


def kind_choices(*, blank: str | None = None) -> list[SelectChoice]:
    choices = [SelectChoice("", blank)] if blank is not None else []
    return choices + [SelectChoice(kind, KIND_LABELS[kind]) for kind in KINDS]


def status_choices(*, blank: str) -> list[SelectChoice]:
    return [SelectChoice("", blank)] + [SelectChoice(code, label) for code, label in STATUS_LABELS.items()]


def standard_choices(statuses) -> list[SelectChoice]:
    """Choices of standards for a form, from ``services.usable_standards`` or a list of standards."""
    choices = []
    for item in statuses:
        standard = getattr(item, "standard", item)
        choices.append(SelectChoice(str(standard.id), f"{standard.code} — {standard.name}"))
    return choices


def adequate_choices(adequacies: list[Adequacy]) -> list[SelectChoice]:
    """Choices for a verification form: the standards ``services.adequate_standards`` found adequate."""
    return [SelectChoice(str(a.standard.id), f"{a.standard.code} — {a.standard.name} ({plain(a.standard_error)} "
                                             f"{a.unit} ≤ {plain(a.limit.quantize(Decimal('0.001')))} {a.unit})")
            for a in adequacies]


class StandardForm(FlaskForm):
    code = StringField(_l("Mã hiệu chuẩn"), validators=[DataRequired(), Length(max=40)],
                       description=_l("Mã ghi trên hộp hoặc nhãn, ví dụ QC-F1-01."))
    name = StringField(_l("Tên chuẩn"), validators=[DataRequired(), Length(max=200)])
    kind = SelectField(_l("Loại chuẩn"), choices=kind_choices(), validators=[DataRequired()])
    manufacturer = StringField(_l("Hãng sản xuất"), validators=[Length(max=120)])
    model = StringField(_l("Kiểu / model"), validators=[Length(max=120)])
    serial = StringField(_l("Số sản xuất"), validators=[Length(max=80)])
    location = StringField(_l("Nơi đặt"), validators=[Length(max=200)])
    # services.clean_accuracy_class: an R 111 class for weights, a percentage for meters, benches and timers.
    accuracy_class = StringField(_l("Cấp chính xác"), validators=[Length(max=20)],
                                 description=_l("Quả cân: E2, F1, F2, M1…; công tơ chuẩn, giàn, băng thử, đồng hồ "
                                                "bấm giây: cấp theo %, ví dụ 0,1."))
    type_codes = MultiCheckboxField(_l("Dùng cho loại phương tiện đo"), choices=type_choices())
    range_min = StringField(_l("Giới hạn dưới của phạm vi"), validators=[Length(max=40)],
                            description=_l("Với quả cân: quả nhỏ nhất của bộ."))
    range_max = StringField(_l("Giới hạn trên của phạm vi"), validators=[Length(max=40)],
                            description=_l("Với quả cân: quả lớn nhất của bộ."))
    range_unit = SelectField(_l("Đơn vị của phạm vi"),
                             choices=[SelectChoice("", "—")] + [SelectChoice(u, u) for u in RANGE_UNITS])
    calibration_interval_months = IntegerField(_l("Chu kỳ hiệu chuẩn (tháng)"),
                                               validators=[Optional(), NumberRange(min=1, max=120)])
    notes = TextAreaField(_l("Ghi chú"), validators=[Length(max=4000)])
    reason = StringField(_l("Lý do thay đổi"), validators=[Length(max=500)],
                         description=_l("Bắt buộc khi chuẩn đã có hồ sơ hiệu chuẩn; được ghi vào nhật ký kiểm toán."))
    submit = SubmitField(_l("Lưu"))

    FIELDS = ("code", "name", "kind", "manufacturer", "model", "serial", "location", "accuracy_class", "type_codes",
              "range_min", "range_max", "range_unit", "calibration_interval_months", "notes")

    def service_args(self) -> dict:
        return {name: getattr(self, name).data for name in self.FIELDS}


class ResultsField(TextAreaField):
    """The points of a certificate, one line each: nominal; unit; correction; U; k; unit of the correction and U.

    Parsed here into the list ``services.clean_results`` checks (a line with the wrong number of parts is a field
    error); numbers may use a decimal comma, so the separator is ";" or a tab (pasted from a spreadsheet).
    """

    def parsed(self) -> list[dict]:
        points = []
        for number, line in enumerate((self.data or "").splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            parts = [p.strip() for p in line.replace("\t", ";").split(";")]
            if len(parts) < 4 or len(parts) > 6:
                raise StandardError("results", _("Dòng %(n)d: cần 4 đến 6 phần cách nhau bằng dấu chấm phẩy: "
                                                 "danh định; đơn vị; số hiệu chính; U; k; đơn vị của số hiệu "
                                                 "chính và U.", n=number))
            parts += [""] * (6 - len(parts))
            points.append({"nominal": parts[0], "unit": parts[1], "correction": parts[2],
                           "expanded_uncertainty": parts[3], "k": parts[4] or "2", "result_unit": parts[5] or parts[1]})
        return points


def results_text(points: list[dict]) -> str:
    """The inverse of ``ResultsField.parsed``, to prefill a correction."""
    lines = []
    for p in points or []:
        value = p.get("correction", p.get("value", ""))
        lines.append("; ".join([p.get("nominal", ""), p.get("unit", ""), value, p.get("expanded_uncertainty", ""),
                                p.get("k", ""), p.get("result_unit", "")]))
    return "\n".join(lines)


class CalibrationForm(FlaskForm):
    calibration_date = DateField(_l("Ngày hiệu chuẩn"), validators=[InputRequired()])
    due_date = DateField(_l("Hạn hiệu chuẩn (có hiệu lực đến)"), validators=[Optional()],
                         description=_l("Để trống để tự tính theo chu kỳ hiệu chuẩn của chuẩn."))
    source = SelectField(_l("Nơi hiệu chuẩn"), choices=[SelectChoice(s, SOURCE_LABELS[s]) for s in SOURCES],
                         validators=[DataRequired()])
    laboratory_name = StringField(_l("Phòng thí nghiệm hiệu chuẩn"), validators=[Length(max=200)],
                                  description=_l("Ví dụ: Viện Đo lường Việt Nam (VMI)."))
    accreditation_number = StringField(_l("Số hiệu công nhận"), validators=[Length(max=40)],
                                       description=_l("Ví dụ: VILAS 002."))
    certificate_number = StringField(_l("Số giấy chứng nhận"), validators=[Length(max=60)],
                                     description=_l("Để trống nếu chưa nhận được giấy chứng nhận: chuỗi liên kết "
                                                    "chuẩn sẽ bị coi là đứt cho đến khi bổ sung."))
    traceable_to = StringField(_l("Liên kết chuẩn tới"), validators=[Length(max=200)],
                               description=_l("Ví dụ: Chuẩn quốc gia khối lượng (VMI) → BIPM, SI."))
    reference_ids = MultiCheckboxField(_l("Chuẩn của trung tâm đã dùng (hiệu chuẩn nội bộ)"), choices=[],
                                       validate_choice=False)
    results = ResultsField(_l("Kết quả hiệu chuẩn"), validators=[DataRequired()], render_kw={"rows": 5},
                           description=_l("Mỗi dòng một điểm: danh định; đơn vị; số hiệu chính; U; k; đơn vị của số "
                                          "hiệu chính và U. Ví dụ: 1; kg; -0,3; 0,8; 2; mg"))
    certificate_file = FileField(_l("Tệp giấy chứng nhận (PDF, PNG, JPG)"))
    notes = TextAreaField(_l("Ghi chú"), validators=[Length(max=4000)])
    submit = SubmitField(_l("Ghi hiệu chuẩn"))

    def validate_reference_ids(self, field):
        for value in field.data or []:
            if not str(value).isdigit():
                raise ValidationError(_l("Chuẩn dùng để hiệu chuẩn không hợp lệ."))

    def service_args(self) -> dict:
        """The arguments of ``services.record_calibration``; ``StandardError`` when the results do not parse."""
        args = {name: getattr(self, name).data for name in (
            "calibration_date", "due_date", "source", "laboratory_name", "accreditation_number",
            "certificate_number", "traceable_to", "notes")}
        args["reference_ids"] = [int(v) for v in self.reference_ids.data or []]
        args["results"] = self.results.parsed()
        upload = self.certificate_file.data
        if upload and getattr(upload, "filename", ""):
            args["certificate_file"] = upload.read()
            args["certificate_filename"] = upload.filename
        return args


class CorrectionForm(CalibrationForm):
    reason = StringField(_l("Lý do sửa"), validators=[DataRequired(), Length(max=500)],
                         description=_l("Bản ghi cũ được giữ nguyên và đánh dấu là đã được thay thế."))
    submit = SubmitField(_l("Ghi bản sửa"))

    def service_args(self) -> dict:
        return super().service_args() | {"reason": self.reason.data}


class IntermediateCheckForm(FlaskForm):
    check_date = DateField(_l("Ngày kiểm tra"), validators=[InputRequired()])
    nominal = StringField(_l("Điểm kiểm tra (giá trị danh định)"), validators=[DataRequired(), Length(max=40)])
    unit = StringField(_l("Đơn vị của điểm kiểm tra"), validators=[DataRequired(), Length(max=20)])
    value_unit = StringField(_l("Đơn vị của giá trị đo"), validators=[DataRequired(), Length(max=20)],
                             description=_l("Ví dụ: mg (sai số của quả cân), % (sai số của công tơ chuẩn), °C."))
    reference_value = StringField(_l("Giá trị quy chiếu"), validators=[DataRequired(), Length(max=40)],
                                  description=_l("Giá trị theo giấy chứng nhận hiệu chuẩn gần nhất."))
    measured_values = TextAreaField(_l("Các giá trị đo"), validators=[DataRequired(), Length(max=4000)],
                                    render_kw={"rows": 3},
                                    description=_l("Cách nhau bằng dấu chấm phẩy hoặc xuống dòng; dùng dấu phẩy "
                                                   "hoặc dấu chấm thập phân."))
    limit = StringField(_l("Giới hạn chấp nhận (±)"), validators=[DataRequired(), Length(max=40)])
    notes = TextAreaField(_l("Ghi chú"), validators=[Length(max=4000)])
    submit = SubmitField(_l("Ghi kết quả kiểm tra"))

    FIELDS = ("check_date", "nominal", "unit", "value_unit", "reference_value", "measured_values", "limit", "notes")

    def service_args(self) -> dict:
        return {name: getattr(self, name).data for name in self.FIELDS}


class ServiceEventForm(FlaskForm):
    event_date = DateField(_l("Ngày"), validators=[InputRequired()])
    reason = TextAreaField(_l("Lý do"), validators=[DataRequired(), Length(max=2000)])
    submit = SubmitField(_l("Ghi"))


class AdequacyForm(FlaskForm):
    """An adequacy question: an instrument (type and characteristics), a load or point, a date."""

    class Meta:
        csrf = False  # a GET form that changes nothing

    instrument_type = SelectField(_l("Loại phương tiện đo"), choices=type_choices(), default="nawi",
                                  validators=[DataRequired()])
    on = DateField(_l("Ngày sử dụng"), validators=[Optional()])
    divisor = StringField(_l("Tỉ số yêu cầu (sai số của chuẩn ≤ MPE / …)"), default="3",
                          validators=[Length(max=10)])
    # nawi
    nawi_max = StringField(_l("Max"), default="30", validators=[Length(max=20)])
    nawi_e = StringField(_l("e"), default="0.001", validators=[Length(max=20)])
    nawi_unit = SelectField(_l("Đơn vị"), choices=[SelectChoice(u, u) for u in ("mg", "g", "kg", "t")],
                            default="kg")
    nawi_class = SelectField(_l("Cấp chính xác của cân"), choices=[SelectChoice(c, c) for c in
                                                                  ("I", "II", "III", "IIII")], default="II")
    nawi_load = StringField(_l("Tải thử"), default="30", validators=[Length(max=20)])
    # weight
    weight_nominal = StringField(_l("Danh định"), default="1", validators=[Length(max=20)])
    weight_unit = SelectField(_l("Đơn vị"), choices=[SelectChoice(u, u) for u in ("mg", "g", "kg")], default="kg")
    weight_class = SelectField(_l("Cấp chính xác của quả cân"), choices=[SelectChoice(c, c) for c in WEIGHT_CLASSES],
                               default="M1")
    # energy_meter
    meter_class = SelectField(_l("Cấp chính xác của công tơ"), choices=[SelectChoice(c, c) for c in ("1", "2")],
                              default="1")
    meter_ib_a = StringField(_l("Ib (A)"), default="5", validators=[Length(max=20)])
    meter_imax_a = StringField(_l("Imax (A)"), default="20", validators=[Length(max=20)])
    meter_current_a = StringField(_l("Dòng điện thử (A)"), default="5", validators=[Length(max=20)])
    meter_pf = SelectField(_l("Hệ số công suất"), choices=[SelectChoice(p, p) for p in ("1", "0.5L", "0.8C")],
                           default="1")
    # taximeter
    taxi_quantity = SelectField(_l("Đại lượng"), choices=[SelectChoice("distance", _l("Quãng đường (m)")),
                                                          SelectChoice("time", _l("Thời gian (s)"))],
                                default="distance")
    taxi_reference = StringField(_l("Giá trị quy chiếu"), default="1000", validators=[Length(max=20)])
    taxi_mode = SelectField(_l("Cách thử"), choices=[SelectChoice("installed", _l("Lắp trên xe")),
                                                     SelectChoice("alone", _l("Taximet riêng"))],
                            default="installed")
    submit = SubmitField(_l("Tìm chuẩn phù hợp"))

    def question(self) -> tuple[str, dict, object]:
        """(instrument_type, spec, load_or_point) for ``services.adequacy_table``."""
        code = self.instrument_type.data
        if code == "nawi":
            spec = {"max": self.nawi_max.data, "e": self.nawi_e.data, "d": self.nawi_e.data,
                    "unit": self.nawi_unit.data, "accuracy_class": self.nawi_class.data}
            return code, spec, {"load": self.nawi_load.data}
        if code == "weight":
            return code, {"nominal": self.weight_nominal.data, "unit": self.weight_unit.data,
                          "accuracy_class": self.weight_class.data}, None
        if code == "energy_meter":
            spec = {"accuracy_class": self.meter_class.data, "un_v": "220", "ib_a": self.meter_ib_a.data,
                    "imax_a": self.meter_imax_a.data, "constant_imp_per_kwh": "1600"}
            return code, spec, {"current_a": self.meter_current_a.data, "pf": self.meter_pf.data}
        return code, {}, {"quantity": self.taxi_quantity.data, "reference": self.taxi_reference.data,
                          "mode": self.taxi_mode.data}


class ChosenStandardsForm(FlaskForm):
    """The standards a verification would use, offered from the adequate ones (a demonstration of the choices)."""

    class Meta:
        csrf = False

    standard_ids = MultiCheckboxField(_l("Chuẩn phù hợp có thể chọn"), choices=[])
