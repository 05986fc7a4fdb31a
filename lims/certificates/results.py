"""The engine's results (``result.to_dict()``, DESIGN.md §6) as printable tables, statements and rows.

Numbers arrive as decimal strings and are printed as given (the engine already rounds what it reports), with a
decimal comma by default (Vietnamese practice; DESIGN.md §1 makes it a setting). Only the long quotients the engine
keeps exact for the verdict (a taximeter's ``error_pct``) are rounded here, for printing; the verdict column always
shows the engine's own verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from .document import Column, ResultTable, Row, UncertaintyStatement

PASS_VI, FAIL_VI = "Đạt", "Không đạt"
DASH = "—"

#: Units by key suffix ("Units are in the key names", DESIGN.md §6), longest first.
UNIT_SUFFIXES = (
    ("_imp_per_kwh", "imp/kWh"), ("_kg_m3", "kg/m³"), ("_pct", "%"), ("_hpa", "hPa"), ("_wh", "Wh"), ("_mg", "mg"),
    ("_kg", "kg"), ("_g", "g"), ("_a", "A"), ("_v", "V"), ("_m", "m"), ("_s", "s"), ("_c", "°C"),
)

#: Test titles by test name (the readings key).
TEST_TITLES = {
    "zero": ("Kiểm tra độ chính xác của điểm không", "Accuracy of zero-setting"),
    "weighing": ("Kiểm tra sai số khi tăng và giảm tải", "Weighing test, increasing and decreasing loads"),
    "eccentricity": ("Kiểm tra độ lệch tâm", "Eccentricity test"),
    "repeatability": ("Kiểm tra độ lặp lại", "Repeatability test"),
    "accuracy": ("Kiểm tra sai số", "Accuracy test"),
    "starting": ("Kiểm tra dòng khởi động", "Starting current test"),
    "no_load": ("Kiểm tra tự quay (không tải)", "No-load test"),
    "distance": ("Kiểm tra sai số quãng đường", "Distance error test"),
    "time": ("Kiểm tra sai số thời gian", "Time error test"),
    "cycles": ("Cân so sánh", "Comparison weighing"),
}

#: Column labels by key, for the known tests and for any other key (the generic table).
LABELS = {
    "load": ("Tải", "Load"),
    "indication": ("Số chỉ", "Indication"),
    "delta_l": ("Tải bổ sung", "Added load"),
    "error": ("Sai số E", "Error E"),
    "corrected_error": ("Sai số hiệu chính Ec", "Corrected error Ec"),
    "mpe": ("Sai số cho phép lớn nhất", "MPE"),
    "limit": ("Giới hạn", "Limit"),
    "direction": ("Chiều tải", "Direction"),
    "position": ("Vị trí", "Position"),
    "readings": ("Số lần cân", "Readings"),
    "spread": ("Chênh lệch lớn nhất", "Spread"),
    "current_a": ("Dòng điện", "Current"),
    "pf": ("Hệ số công suất", "Power factor"),
    "error_pct": ("Sai số", "Error"),
    "error_pct_rounded": ("Sai số", "Error"),
    "limit_pct": ("Giới hạn sai số", "Limit"),
    "started": ("Khởi động", "Started"),
    "starting_current_a": ("Dòng khởi động", "Starting current"),
    "voltage_v": ("Điện áp", "Voltage"),
    "test_voltage_v": ("Điện áp thử", "Test voltage"),
    "pulses": ("Số xung", "Pulses"),
    "max_pulses": ("Số xung cho phép", "Pulses allowed"),
    "reference_m": ("Quãng đường chuẩn", "Reference distance"),
    "indicated_m": ("Quãng đường chỉ thị", "Indicated distance"),
    "error_m": ("Sai số", "Error"),
    "reference_s": ("Thời gian chuẩn", "Reference time"),
    "indicated_s": ("Thời gian chỉ thị", "Indicated time"),
    "error_s": ("Sai số", "Error"),
    "passed": ("Kết quả", "Result"),
}

_DIRECTIONS = {"up": "Tăng", "down": "Giảm"}


class Formatter:
    """Decimal strings → printed numbers."""

    def __init__(self, decimal_comma: bool = True):
        self.decimal_comma = decimal_comma

    def number(self, value: Any, places: int | None = None) -> str:
        """``"0.5"`` → ``"0,5"``; ``places`` rounds half up for printing; ``None`` → a dash."""
        if value is None or value == "":
            return DASH
        text = str(value)
        if places is not None:
            try:
                text = str(Decimal(text).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))
            except InvalidOperation:
                pass
        return text.replace(".", ",") if self.decimal_comma else text

    def limit(self, value: Any, places: int | None = None) -> str:
        """A symmetric limit: ``"±0,5"``."""
        return DASH if value is None else "±" + self.number(value, places)

    @staticmethod
    def verdict(passed: Any) -> str:
        return DASH if passed is None else (PASS_VI if passed else FAIL_VI)


def unit_of(key: str) -> str:
    """The unit a key's name carries (``error_mg`` → ``mg``), or ``""``."""
    for suffix, unit in UNIT_SUFFIXES:
        if key.endswith(suffix):
            return unit
    return ""


# --- tables -------------------------------------------------------------------------------------------------------

def result_tables(result: Mapping[str, Any], *, decimal_comma: bool = True) -> tuple[ResultTable, ...]:
    """The results table(s) of an engine result dict, one per test (a weight calibration: one summary table).

    >>> import instruments
    >>> r = instruments.get("taximeter").evaluate({}, {"distance": [{"reference_m": "1000", "indicated_m": "1012"}]})
    >>> table, = result_tables(r.to_dict())
    >>> table.title_vi
    'Kiểm tra sai số quãng đường'
    >>> [(c.label_vi, c.unit) for c in table.columns][2:4]
    [('Sai số', 'm'), ('Sai số', '%')]
    >>> table.rows
    (('1000', '1012', '12', '1,20', '±2', 'Đạt'),)
    """
    fmt = Formatter(decimal_comma)
    type_code = result.get("type")
    if type_code == "weight":
        return (_weight_summary(result, fmt),)
    unit = str((result.get("spec") or {}).get("unit", "")) if type_code == "nawi" else ""
    tables = []
    for test in result.get("tests", ()):
        builder = _BUILDERS.get((type_code, test.get("name")))
        tables.append(builder(test, fmt, unit) if builder else generic_table(test, fmt))
    return tuple(tables)


def _title(name: str) -> tuple[str, str]:
    return TEST_TITLES.get(name, (name, ""))


def _col(key: str, unit: str = "", **kwargs) -> Column:
    vi, en = LABELS.get(key, (key, ""))
    return Column(vi, en, unit, **kwargs)


def _table(test: Mapping, columns: Sequence[tuple[Column, Callable[[Mapping], str]]], note: str = "") -> ResultTable:
    vi, en = _title(test["name"])
    rows = tuple(tuple(cell(point) for _column, cell in columns) for point in test.get("points", ()))
    return ResultTable(vi, en, tuple(column for column, _cell in columns), rows, note)


def _has(test: Mapping, key: str) -> bool:
    return any(point.get(key) is not None for point in test.get("points", ()))


def _nawi_zero(test, fmt, unit):
    return _table(test, [
        (_col("load", unit), lambda p: fmt.number(p.get("load"))),
        (_col("indication", unit), lambda p: fmt.number(p.get("indication"))),
        *([(_col("delta_l", unit), lambda p: fmt.number(p.get("delta_l")))] if _has(test, "delta_l") else []),
        (Column("Sai số E0", "Zero error E0", unit), lambda p: fmt.number(p.get("error"))),
        (_col("limit", unit), lambda p: fmt.limit(p.get("limit"))),
        (_col("passed", align="center"), lambda p: fmt.verdict(p.get("passed"))),
    ])


def _nawi_weighing(test, fmt, unit):
    return _table(test, [
        (_col("load", unit), lambda p: fmt.number(p.get("load"))),
        (_col("direction", align="center", width=0.8), lambda p: _DIRECTIONS.get(p.get("direction"), DASH)),
        (_col("indication", unit), lambda p: fmt.number(p.get("indication"))),
        *([(_col("delta_l", unit), lambda p: fmt.number(p.get("delta_l")))] if _has(test, "delta_l") else []),
        (_col("error", unit), lambda p: fmt.number(p.get("error"))),
        (_col("corrected_error", unit), lambda p: fmt.number(p.get("corrected_error"))),
        (_col("mpe", unit), lambda p: fmt.limit(p.get("mpe"))),
        (_col("passed", align="center"), lambda p: fmt.verdict(p.get("passed"))),
    ])


def _nawi_eccentricity(test, fmt, unit):
    return _table(test, [
        (_col("position", align="center", width=0.8), lambda p: str(p.get("position", DASH))),
        (_col("load", unit), lambda p: fmt.number(p.get("load"))),
        (_col("indication", unit), lambda p: fmt.number(p.get("indication"))),
        *([(_col("delta_l", unit), lambda p: fmt.number(p.get("delta_l")))] if _has(test, "delta_l") else []),
        (_col("corrected_error", unit), lambda p: fmt.number(p.get("corrected_error"))),
        (_col("mpe", unit), lambda p: fmt.limit(p.get("mpe"))),
        (_col("passed", align="center"), lambda p: fmt.verdict(p.get("passed"))),
    ])


def _nawi_repeatability(test, fmt, unit):
    return _table(test, [
        (_col("load", unit), lambda p: fmt.number(p.get("load"))),
        (_col("readings", width=0.8), lambda p: str(len(p.get("readings") or ()))),
        (Column("Số chỉ nhỏ nhất … lớn nhất", "Indications min … max", unit, width=1.6),
         lambda p: _range(p.get("readings") or (), fmt)),
        (_col("spread", unit), lambda p: fmt.number(p.get("spread"))),
        (_col("mpe", unit), lambda p: fmt.limit(p.get("mpe"))),
        (_col("passed", align="center"), lambda p: fmt.verdict(p.get("passed"))),
    ])


def _range(readings: Sequence[Mapping], fmt: Formatter) -> str:
    values = []
    for reading in readings:
        try:
            values.append(Decimal(str(reading.get("indication"))))
        except InvalidOperation:
            return DASH
    if not values:
        return DASH
    return f"{fmt.number(min(values))} … {fmt.number(max(values))}"


def _meter_accuracy(test, fmt, _unit):
    return _table(test, [
        (_col("current_a", "A"), lambda p: fmt.number(p.get("current_a"))),
        (Column("Hệ số công suất", "Power factor", align="center"), lambda p: _pf(p.get("pf"), fmt)),
        (_col("error_pct", "%"), lambda p: fmt.number(p.get("error_pct_rounded", p.get("error_pct")))),
        (_col("limit_pct", "%"), lambda p: fmt.limit(p.get("limit_pct"))),
        (_col("passed", align="center"), lambda p: fmt.verdict(p.get("passed"))),
    ])


def _pf(value: Any, fmt: Formatter) -> str:
    # "0.5L" / "0.8C": inductive / capacitive load.
    if value is None:
        return DASH
    text = str(value)
    if text[-1:] in ("L", "C"):
        return f"{fmt.number(text[:-1])} {text[-1]}"
    return fmt.number(text)


def _meter_starting(test, fmt, _unit):
    return _table(test, [
        (_col("current_a", "A"), lambda p: fmt.number(p.get("current_a"))),
        (_col("starting_current_a", "A"), lambda p: fmt.number(p.get("starting_current_a"))),
        (_col("started", align="center"), lambda p: DASH if p.get("started") is None else
         ("Có" if p.get("started") else "Không")),
        (_col("passed", align="center"), lambda p: fmt.verdict(p.get("passed"))),
    ])


def _meter_no_load(test, fmt, _unit):
    return _table(test, [
        (_col("test_voltage_v", "V"), lambda p: fmt.number(p.get("test_voltage_v", p.get("voltage_v")))),
        (_col("pulses"), lambda p: fmt.number(p.get("pulses"))),
        (_col("max_pulses"), lambda p: fmt.number(p.get("max_pulses"))),
        (_col("passed", align="center"), lambda p: fmt.verdict(p.get("passed"))),
    ])


def _taxi(quantity: str, unit: str):
    def build(test, fmt, _unit):
        return _table(test, [
            (_col(f"reference_{quantity}", unit), lambda p: fmt.number(p.get(f"reference_{quantity}"))),
            (_col(f"indicated_{quantity}", unit), lambda p: fmt.number(p.get(f"indicated_{quantity}"))),
            (_col(f"error_{quantity}", unit), lambda p: fmt.number(p.get(f"error_{quantity}"))),
            (_col("error_pct", "%"), lambda p: fmt.number(p.get("error_pct"), places=2)),
            (_col("limit_pct", "%"), lambda p: fmt.limit(p.get("limit_pct"))),
            (_col("passed", align="center"), lambda p: fmt.verdict(p.get("passed"))),
        ])

    return build


def _weight_summary(result: Mapping, fmt: Formatter) -> ResultTable:
    spec = result.get("spec") or {}
    nominal = f"{fmt.number(spec.get('nominal'))} {spec.get('unit', '')}".strip()
    row = (nominal, str(spec.get("accuracy_class", DASH)), fmt.number(result.get("conventional_mass_g")),
           fmt.number(result.get("error_mg")), fmt.number(result.get("expanded_uncertainty_mg")),
           fmt.number(result.get("k")), fmt.limit(result.get("mpe_mg")))
    columns = (Column("Giá trị danh định", "Nominal value", align="center"),
               Column("Cấp chính xác", "Class", align="center", width=0.8),
               Column("Khối lượng quy ước mc", "Conventional mass mc", "g", width=1.3),
               Column("Sai số mc − m0", "Error mc − m0", "mg"),
               Column("Độ không đảm bảo đo mở rộng U", "Expanded uncertainty U", "mg", width=1.3),
               Column("Hệ số phủ k", "Coverage factor k", width=0.8),
               Column("Sai số cho phép lớn nhất", "MPE", "mg"))
    return ResultTable("Kết quả hiệu chuẩn", "Calibration results", columns, (row,))


def generic_table(test: Mapping[str, Any], fmt: Formatter | None = None) -> ResultTable:
    """A table for a test this module has no layout for: one column per scalar key of its points, labelled from
    ``LABELS`` where known, the unit from the key's name."""
    fmt = fmt or Formatter()
    keys: list[str] = []
    for point in test.get("points", ()):
        for key, value in point.items():
            if key not in keys and not isinstance(value, (dict, list, tuple)):
                keys.append(key)
    if "passed" in keys:  # the verdict last
        keys.remove("passed")
        keys.append("passed")

    def cell(key):
        if key == "passed":
            return lambda p: fmt.verdict(p.get("passed"))
        return lambda p: (DASH if p.get(key) is None else
                          ("Có" if p[key] is True else "Không" if p[key] is False else fmt.number(p[key])))

    return _table(test, [(_col(key, unit_of(key)), cell(key)) for key in keys])


_BUILDERS = {
    ("nawi", "zero"): _nawi_zero,
    ("nawi", "weighing"): _nawi_weighing,
    ("nawi", "eccentricity"): _nawi_eccentricity,
    ("nawi", "repeatability"): _nawi_repeatability,
    ("energy_meter", "accuracy"): _meter_accuracy,
    ("energy_meter", "starting"): _meter_starting,
    ("energy_meter", "no_load"): _meter_no_load,
    ("taximeter", "distance"): _taxi("m", "m"),
    ("taximeter", "time"): _taxi("s", "s"),
}


# --- statements ---------------------------------------------------------------------------------------------------

def uncertainty_statements(result: Mapping[str, Any], *,
                           decimal_comma: bool = True) -> tuple[UncertaintyStatement, ...]:
    """``y ± U (k)`` lines of a calibration result (a weight: its conventional mass); empty for a verification."""
    if result.get("type") != "weight" or result.get("expanded_uncertainty_mg") is None:
        return ()
    fmt = Formatter(decimal_comma)
    return (UncertaintyStatement("Khối lượng quy ước", "Conventional mass",
                                 f"{fmt.number(result.get('conventional_mass_g'))} g",
                                 f"{fmt.number(result.get('expanded_uncertainty_mg'))} mg",
                                 fmt.number(result.get("k"))),)


def failed_tests(result: Mapping[str, Any]) -> tuple[str, ...]:
    """One line per failed test, for a notice of failure: ``"Kiểm tra độ lệch tâm: 2/5 điểm không đạt"``."""
    lines = []
    for test in result.get("tests", ()):
        if test.get("passed", True):
            continue
        title = _title(test.get("name", ""))[0]
        points = test.get("points", ())
        failed = sum(1 for point in points if point.get("passed") is False)
        lines.append(f"{title}: {failed}/{len(points)} điểm không đạt" if failed else f"{title}: không đạt")
    if result.get("type") == "weight":
        if result.get("uncertainty_ok") is False:
            lines.append("Độ không đảm bảo đo mở rộng U lớn hơn 1/3 sai số cho phép lớn nhất")
        if result.get("error_ok") is False:
            lines.append("Sai số vượt quá sai số cho phép lớn nhất trừ độ không đảm bảo đo (δm − U)")
    return tuple(lines)


def characteristic_rows(type_code: str, spec: Mapping[str, Any], *, decimal_comma: bool = True) -> tuple[Row, ...]:
    """The metrological characteristics of an instrument, as printed (Max, Min, e, d, class, constant …)."""
    fmt = Formatter(decimal_comma)
    unit = spec.get("unit", "")

    def quantity(key, suffix=""):
        value = spec.get(key)
        return None if value in (None, "") else f"{fmt.number(value)} {suffix}".strip()

    candidates = {
        "nawi": [("Mức cân lớn nhất", "Max", quantity("max", unit)), ("Mức cân nhỏ nhất", "Min", quantity("min", unit)),
                 ("Giá trị độ chia kiểm e", "Verification scale interval e", quantity("e", unit)),
                 ("Giá trị độ chia d", "Scale interval d", quantity("d", unit)),
                 ("Cấp chính xác", "Accuracy class", spec.get("accuracy_class"))],
        "energy_meter": [("Cấp chính xác", "Accuracy class", spec.get("accuracy_class")),
                         ("Điện áp danh định Un", "Rated voltage Un", quantity("un_v", "V")),
                         ("Dòng điện cơ bản Ib (Imax)", "Basic current Ib (Imax)",
                          f"{quantity('ib_a', 'A')} ({quantity('imax_a', 'A')})" if spec.get("ib_a") else None),
                         ("Hằng số", "Meter constant", quantity("constant_imp_per_kwh", "imp/kWh"))],
        "taximeter": [("Hằng số k", "Constant k", quantity("k_imp_per_km", "imp/km")),
                      ("Biển số xe", "Vehicle plate", spec.get("vehicle_plate"))],
        "weight": [("Giá trị danh định", "Nominal value", quantity("nominal", unit)),
                   ("Cấp chính xác", "Accuracy class", spec.get("accuracy_class")),
                   ("Khối lượng riêng", "Density", quantity("density_kg_m3", "kg/m³"))],
    }.get(type_code)
    if candidates is None:
        candidates = [(key, "", fmt.number(value)) for key, value in spec.items()]
    return tuple(Row(vi, str(value), en) for vi, en, value in candidates if value not in (None, ""))
