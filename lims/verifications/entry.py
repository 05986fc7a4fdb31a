"""The data-entry sheet of a verification record, generated from the engine's ``test_plan``.

The sheet is a list of sections (one per test of the plan). Each input is named by its path in the engine's
readings shape (DESIGN.md §6) *on the sheet*: ``weighing[3].indication``, ``zero.indication``,
``eccentricity.positions[2].indication``, ``repeatability[0].readings[1].indication``. A sheet row whose measured
cells are all empty is left out of the readings, so the engine's paths (``weighing[1]``) are those of the compacted
readings; ``Built.sheet_path`` turns them back into the sheet's names, so that an engine error lands next to the
input it names, and ``Built.rows`` says which sheet row each result point belongs to.

Pure: no Flask, no database. Numbers stay strings; a decimal comma typed by a Vietnamese technician ("10,01")
becomes a point before the engine sees it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import instruments
from flask_babel import lazy_gettext as _l

#: Pass/fail and the other result figures shown per row, by instrument type and test: (result key, label).
_PASSED = ("passed", _l("Kết quả"))


@dataclass(frozen=True)
class Column:
    """One input of a row: ``key`` is its path inside the row (``indication``, ``readings[1].indication``)."""

    key: str
    label: str
    kind: str = "number"            # number | choice | bool | fixed (shown, sent, not editable)
    measured: bool = True           # settings (a planned load) are prefilled; measured values are typed
    choices: tuple[tuple[str, str], ...] = ()
    optional: bool = False


@dataclass
class Row:
    id: str                          # "weighing-3": the DOM id of the row's result cells
    prefix: str                      # "weighing[3]": the sheet path of the row
    label: str
    defaults: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HeaderField:
    """A value of a whole test (the eccentricity load) or of the readings (the taximeter's mode)."""

    name: str
    label: str
    default: str = ""
    kind: str = "number"
    choices: tuple[tuple[str, str], ...] = ()


@dataclass
class Section:
    test: str
    title: str
    required: bool
    shape: str                       # list | single | nested (a header value and a list of positions)
    columns: list[Column]
    rows: list[Row]
    results: list[tuple[str, str]]
    header: list[HeaderField] = field(default_factory=list)
    source: str = ""
    list_key: str = ""               # nested: the list inside the test ("positions")

    def name(self, row: Row, column: Column) -> str:
        return f"{row.prefix}.{column.key}"


@dataclass
class Layout:
    type_code: str
    sections: list[Section]
    top: list[HeaderField] = field(default_factory=list)
    summary: list[tuple[str, str]] = field(default_factory=list)

    def section(self, test: str) -> Section | None:
        return next((s for s in self.sections if s.test == test), None)

    def names(self) -> list[str]:
        found = [f.name for f in self.top]
        for section in self.sections:
            found += [f.name for f in section.header]
            found += [section.name(row, column) for row in section.rows for column in section.columns]
        return found


# --- layouts per type ---------------------------------------------------------------------------------------------

def _directions():
    return (("up", str(_l("tăng ↑"))), ("down", str(_l("giảm ↓"))))


def _nawi(plan: list[dict], spec: dict) -> Layout:
    unit = spec.get("unit", "")
    by_test = {t["test"]: t for t in plan}
    sections = []
    indication = Column("indication", _l("Số chỉ I (%(unit)s)", unit=unit))
    delta_l = Column("delta_l", _l("Tải thêm ΔL (%(unit)s)", unit=unit), optional=True)
    zero = by_test["zero"]
    sections.append(Section("zero", zero["title_vi"], zero["required"], "single",
                            [Column("indication", _l("Số chỉ I₀ (%(unit)s)", unit=unit)),
                             Column("delta_l", _l("ΔL₀ (%(unit)s)", unit=unit), optional=True)],
                            [Row("zero-0", "zero", "0")],
                            [("error", _l("Sai số E₀")), ("limit", _l("Giới hạn")), _PASSED], source=zero["source"]))
    weighing = by_test["weighing"]
    rows = [Row(f"weighing-{i}", f"weighing[{i}]", str(i + 1), {"load": p["load"], "direction": p["direction"]})
            for i, p in enumerate(weighing["points"])]
    sections.append(Section("weighing", weighing["title_vi"], True, "list",
                            [Column("load", _l("Tải L (%(unit)s)", unit=unit), measured=False),
                             Column("direction", _l("Chiều"), kind="choice", measured=False, choices=_directions()),
                             indication, delta_l],
                            rows, [("error", _l("Sai số E")), ("corrected_error", _l("Sai số hiệu chính Ec")),
                                   ("mpe", _l("MPE")), _PASSED], source=weighing["source"]))
    ecc = by_test["eccentricity"]
    rows = [Row(f"eccentricity-{i}", f"eccentricity.positions[{i}]", p.get("label_vi") or p["position"],
                {"position": p["position"]}) for i, p in enumerate(ecc["points"])]
    sections.append(Section("eccentricity", ecc["title_vi"], ecc["required"], "nested",
                            [Column("position", _l("Vị trí"), kind="fixed", measured=False), indication, delta_l],
                            rows, [("corrected_error", _l("Sai số Ec")), ("mpe", _l("MPE")), _PASSED],
                            header=[HeaderField("eccentricity.load", _l("Tải lệch tâm (%(unit)s)", unit=unit),
                                                ecc.get("load", ""))],
                            source=ecc["source"], list_key="positions"))
    rep = by_test["repeatability"]
    count = max((int(p.get("readings") or 3) for p in rep["points"]), default=3)
    columns = [Column("load", _l("Tải L (%(unit)s)", unit=unit), measured=False)]
    columns += [Column(f"readings[{j}].indication", _l("I%(n)d (%(unit)s)", n=j + 1, unit=unit))
                for j in range(count)]
    rows = [Row(f"repeatability-{i}", f"repeatability[{i}]", str(i + 1), {"load": p["load"]})
            for i, p in enumerate(rep["points"])]
    sections.append(Section("repeatability", rep["title_vi"], rep["required"], "list", columns, rows,
                            [("spread", _l("Độ lặp lại (Imax − Imin)")), ("mpe", _l("MPE")), _PASSED],
                            source=rep["source"]))
    return Layout("nawi", sections)


def _weight(plan: list[dict], spec: dict) -> Layout:
    by_test = {t["test"]: t for t in plan}
    ref = by_test["reference"]
    cycles = by_test["cycles"]
    balance = by_test["balance"]
    air = by_test["air"]
    sections = [
        Section("reference", ref["title_vi"], True, "single", [
            Column("conventional_mass_g", _l("Khối lượng quy ước (g)")),
            Column("expanded_uncertainty_mg", _l("U (mg)")),
            Column("k", _l("k"), measured=False),
            Column("drift_mg", _l("Độ trôi (mg)"), optional=True),
            Column("density_kg_m3", _l("Khối lượng riêng (kg/m³)"), optional=True),
        ], [Row("reference-0", "reference", _l("Quả cân chuẩn"), {"k": "2"})], []),
        Section("cycles", cycles["title_vi"], True, "list",
                [Column(key, label) for key, label in (("ref1", _l("A₁ (g)")), ("test1", _l("B₁ (g)")),
                                                       ("test2", _l("B₂ (g)")), ("ref2", _l("A₂ (g)")))],
                [Row(f"cycles-{i}", f"cycles[{i}]", str(p.get("cycle", i + 1)))
                 for i, p in enumerate(cycles["points"])],
                [("delta_i_g", _l("ΔI (g)"))]),
        Section("balance", balance["title_vi"], True, "single", [
            Column("d_mg", _l("Độ phân giải d (mg)")),
            Column("eccentricity_u_mg", _l("u lệch tâm (mg)"), optional=True),
            Column("sensitivity_u_mg", _l("u độ nhạy (mg)"), optional=True),
        ], [Row("balance-0", "balance", _l("Cân so sánh"))], []),
        Section("air", air["title_vi"], air["required"], "single", [
            Column("pressure_hpa", _l("Áp suất (hPa)")),
            Column("humidity_pct", _l("Độ ẩm (%RH)")),
            Column("temperature_c", _l("Nhiệt độ (°C)")),
        ], [Row("air-0", "air", _l("Không khí"))], []),
    ]
    summary = [("conventional_mass_g", _l("Khối lượng quy ước (g)")), ("error_mg", _l("Sai số (mg)")),
               ("expanded_uncertainty_mg", _l("Độ không đảm bảo đo mở rộng U (mg)")), ("k", _l("Hệ số phủ k")),
               ("mpe_mg", _l("MPE δm (mg)")), ("uncertainty_limit_mg", _l("Giới hạn U (δm/3, mg)")),
               ("error_limit_mg", _l("Giới hạn |sai số| (δm − U, mg)"))]
    return Layout("weight", sections, summary=summary)


def _energy_meter(plan: list[dict], spec: dict) -> Layout:
    by_test = {t["test"]: t for t in plan}
    pf = (("1", "1"), ("0.5L", "0,5L"), ("0.8C", "0,8C"))
    acc = by_test["accuracy"]
    rows = [Row(f"accuracy-{i}", f"accuracy[{i}]", f"{p.get('current_ib', p['current_a'])}, cos φ = {p['pf']}",
                {"current_a": p["current_a"], "pf": p["pf"]}) for i, p in enumerate(acc["points"])]
    start = by_test["starting"]["points"][0]
    no_load = by_test["no_load"]["points"][0]
    yes_no = (("", "—"), ("true", str(_l("Có quay / có xung"))), ("false", str(_l("Không"))))
    sections = [
        Section("accuracy", acc["title_vi"], True, "list", [
            Column("current_a", _l("Dòng điện (A)"), measured=False),
            Column("pf", _l("cos φ"), kind="choice", measured=False, choices=pf),
            Column("error_pct", _l("Sai số đọc trên giàn (%)")),
            Column("meter_energy_wh", _l("hoặc: điện năng công tơ (Wh)"), optional=True),
            Column("reference_energy_wh", _l("điện năng chuẩn (Wh)"), optional=True),
        ], rows, [("error_pct", _l("Sai số (%)")), ("limit_pct", _l("Giới hạn (%)")), _PASSED], source=""),
        Section("starting", by_test["starting"]["title_vi"], by_test["starting"]["required"], "single", [
            Column("current_a", _l("Dòng khởi động (A)"), measured=False),
            Column("started", _l("Công tơ khởi động"), kind="bool", choices=yes_no),
        ], [Row("starting-0", "starting", start.get("current_ib", ""), {"current_a": start["current_a"]})],
            [("starting_current_a", _l("Dòng khởi động quy định (A)")), _PASSED]),
        Section("no_load", by_test["no_load"]["title_vi"], by_test["no_load"]["required"], "single", [
            Column("voltage_v", _l("Điện áp thử (V)"), measured=False),
            Column("pulses", _l("Số xung đếm được")),
        ], [Row("no_load-0", "no_load", f"{no_load.get('voltage_un_pct', '')} % Un",
                {"voltage_v": no_load["voltage_v"]})],
            [("max_pulses", _l("Số xung cho phép")), _PASSED]),
    ]
    return Layout("energy_meter", sections)


def _taximeter(plan: list[dict], spec: dict) -> Layout:
    by_test = {t["test"]: t for t in plan}
    sections = []
    for quantity, unit, ref_key, ind_key, results in (
            ("distance", "m", "reference_m", "indicated_m",
             [("error_m", _l("Sai số (m)")), ("error_pct", _l("Sai số (%)")), ("limit_m", _l("Giới hạn (m)")),
              _PASSED]),
            ("time", "s", "reference_s", "indicated_s",
             [("error_s", _l("Sai số (s)")), ("error_pct", _l("Sai số (%)")), ("limit_s", _l("Giới hạn (s)")),
              _PASSED])):
        test = by_test[quantity]
        rows = [Row(f"{quantity}-{i}", f"{quantity}[{i}]", str(i + 1), {ref_key: p[ref_key]})
                for i, p in enumerate(test["points"])]
        sections.append(Section(quantity, test["title_vi"], test["required"], "list", [
            Column(ref_key, _l("Giá trị chuẩn (%(unit)s)", unit=unit), measured=False),
            Column(ind_key, _l("Taximet chỉ (%(unit)s)", unit=unit)),
        ], rows, results, source=test.get("source", "")))
    fare = by_test["fare"]
    sections.append(Section("fare", fare["title_vi"], fare["required"], "list", [
        Column("computed", _l("Tiền cước tính theo biểu giá (đ)")),
        Column("indicated", _l("Taximet chỉ (đ)")),
    ], [Row(f"fare-{i}", f"fare[{i}]", str(i + 1)) for i in range(len(fare["points"]))],
        [("error", _l("Sai số (đ)")), ("limit", _l("Giới hạn (đ)")), _PASSED], source=fare.get("source", "")))
    modes = (("installed", str(_l("Lắp trên xe"))), ("alone", str(_l("Taximet rời (mô phỏng)"))))
    return Layout("taximeter", sections, top=[HeaderField("mode", _l("Cách thử"), "installed", "choice", modes)])


_BUILDERS = {"nawi": _nawi, "weight": _weight, "energy_meter": _energy_meter, "taximeter": _taximeter}


def layout_for(type_code: str, spec: Mapping[str, Any], stage: str = "initial") -> Layout:
    """The sheet of an instrument: sections and rows from ``test_plan(spec, stage)``.

    :raises KeyError: for an unknown type; ``instruments.SpecError`` for a spec the engine refuses.
    """
    kind = instruments.get(type_code)
    clean = kind.validate_spec(spec)
    return _BUILDERS[type_code](kind.test_plan(clean, stage), clean)


# --- sheet -> readings --------------------------------------------------------------------------------------------

_COMMA_DECIMAL = re.compile(r"\s*[+-]?\d*,\d+\s*")
_LIST_KEY = re.compile(r"(\w+)\[(\d+)\]\.(\w+)")


def clean_value(column_kind: str, value: Any) -> Any:
    """A typed cell as the engine takes it: stripped text, a decimal comma turned into a point, booleans for yes/no;
    ``None`` when empty.

    >>> clean_value("number", " 10,01 "), clean_value("bool", "false"), clean_value("number", "")
    ('10.01', False, None)
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip()
    if not text:
        return None
    if column_kind == "bool":
        return {"true": True, "false": False}.get(text.lower(), text)
    if column_kind == "number" and _COMMA_DECIMAL.fullmatch(text):
        return text.replace(",", ".")
    return text


@dataclass
class Built:
    """Readings built from a sheet, and the way back from the engine's paths to the sheet's."""

    readings: dict
    paths: dict[str, str] = field(default_factory=dict)          # compact prefix -> sheet prefix
    rows: dict[str, list[str]] = field(default_factory=dict)     # test -> sheet row ids, in readings order

    def sheet_path(self, engine_path: str) -> str:
        """The sheet's name of what the engine calls ``engine_path`` (longest matching prefix).

        >>> Built({}, {"weighing[0]": "weighing[3]"}).sheet_path("weighing[0].indication")
        'weighing[3].indication'
        """
        best = ""
        for prefix in self.paths:
            if (engine_path == prefix or engine_path.startswith(prefix + ".")
                    or engine_path.startswith(prefix + "[")) and len(prefix) > len(best):
                best = prefix
        return self.paths[best] + engine_path[len(best):] if best else engine_path


def _row_item(section: Section, row: Row, sheet: Mapping[str, Any], built: Built, compact: str) -> dict | None:
    values = {c.key: clean_value(c.kind, sheet.get(section.name(row, c), row.defaults.get(c.key)))
              for c in section.columns}
    if all(values[c.key] is None for c in section.columns if c.measured):
        return None
    item: dict[str, Any] = {}
    lists: dict[str, dict[int, dict]] = {}
    for key, value in values.items():
        if m := _LIST_KEY.fullmatch(key):
            lists.setdefault(m.group(1), {}).setdefault(int(m.group(2)), {})[m.group(3)] = value
        elif value is not None:
            item[key] = value
    for name, entries in lists.items():
        kept = []
        for index in sorted(entries):
            entry = {k: v for k, v in entries[index].items() if v is not None}
            if entry:
                built.paths[f"{compact}.{name}[{len(kept)}]"] = f"{row.prefix}.{name}[{index}]"
                kept.append(entry)
        item[name] = kept
    return item


def readings_from_sheet(layout: Layout, sheet: Mapping[str, Any]) -> Built:
    """The engine's readings from the sheet's named values; untouched rows and tests are left out."""
    built = Built({})
    for header in layout.top:
        value = clean_value(header.kind, sheet.get(header.name, header.default))
        if value is not None:
            built.readings[header.name] = value
    for section in layout.sections:
        if section.shape == "single":
            row = section.rows[0]
            item = _row_item(section, row, sheet, built, section.test)
            if item is not None:
                built.readings[section.test] = item
                built.paths[section.test] = section.test
                built.rows[section.test] = [row.id]
            continue
        items, ids = [], []
        for row in section.rows:
            compact = (f"{section.test}.{section.list_key}[{len(items)}]" if section.shape == "nested"
                       else f"{section.test}[{len(items)}]")
            item = _row_item(section, row, sheet, built, compact)
            if item is None:
                continue
            built.paths[compact] = row.prefix
            items.append(item)
            ids.append(row.id)
        if not items:
            continue
        built.rows[section.test] = ids
        if section.shape == "nested":
            content: dict[str, Any] = {section.list_key: items}
            for header in section.header:
                value = clean_value(header.kind, sheet.get(header.name, header.default))
                if value is not None:
                    content[header.name.split(".", 1)[1]] = value
            built.readings[section.test] = content
        else:
            built.readings[section.test] = items
        built.paths.setdefault(section.test, section.test)
    return built


# --- readings -> sheet --------------------------------------------------------------------------------------------

def _flatten(item: Mapping[str, Any], prefix: str, out: dict[str, str]) -> None:
    for key, value in item.items():
        if isinstance(value, list):
            for index, entry in enumerate(value):
                if isinstance(entry, Mapping):
                    _flatten(entry, f"{prefix}.{key}[{index}]", out)
        elif isinstance(value, Mapping):
            _flatten(value, f"{prefix}.{key}", out)
        elif value is not None:
            out[f"{prefix}.{key}"] = "true" if value is True else "false" if value is False else str(value)


def sheet_from_readings(layout: Layout, readings: Mapping[str, Any]) -> dict[str, str]:
    """The sheet's named values for stored readings; list items fill the rows in order (rows are added when the
    readings hold more items than the plan has rows). Mutates ``layout`` to add such rows."""
    sheet: dict[str, str] = {}
    for header in layout.top:
        if readings.get(header.name) is not None:
            sheet[header.name] = str(readings[header.name])
    for section in layout.sections:
        data = readings.get(section.test)
        if data is None:
            continue
        if section.shape == "single":
            if isinstance(data, Mapping):
                _flatten(data, section.rows[0].prefix, sheet)
            continue
        items = data.get(section.list_key) if section.shape == "nested" and isinstance(data, Mapping) else data
        if section.shape == "nested" and isinstance(data, Mapping):
            for header in section.header:
                key = header.name.split(".", 1)[1]
                if data.get(key) is not None:
                    sheet[header.name] = str(data[key])
        if not isinstance(items, list):
            continue
        while len(section.rows) < len(items):
            index = len(section.rows)
            prefix = (f"{section.test}.{section.list_key}[{index}]" if section.shape == "nested"
                      else f"{section.test}[{index}]")
            section.rows.append(Row(f"{section.test}-{index}", prefix, str(index + 1)))
        for row, item in zip(section.rows, items):
            if isinstance(item, Mapping):
                _flatten(item, row.prefix, sheet)
                for column in section.columns:  # a planned setting the stored item does not repeat stays empty
                    sheet.setdefault(section.name(row, column), "")
    return sheet


# --- evaluation ---------------------------------------------------------------------------------------------------

@dataclass
class Evaluation:
    """What the sheet shows: errors by sheet name ("" for the record, a test name for a whole test), result cells
    by row id, each test's verdict, the overall verdict (``None`` when the engine could not evaluate), and the
    engine's result (``None`` likewise)."""

    errors: dict[str, str] = field(default_factory=dict)
    cells: dict[str, dict[str, Any]] = field(default_factory=dict)
    tests: dict[str, bool] = field(default_factory=dict)
    passed: bool | None = None
    result: dict | None = None
    readings: dict = field(default_factory=dict)
    summary: list[tuple[str, Any]] = field(default_factory=list)


def split_message(message: str) -> tuple[str, str]:
    """(path, text) of an engine message "weighing[2].indication: not a number ('x')"; path "" when none."""
    path, sep, text = message.partition(": ")
    if sep and re.fullmatch(r"[\w.\[\]]+", path):
        return path, text
    return "", message


def _evaluate_once(layout: Layout, spec: Mapping[str, Any], built: Built, stage: str):
    try:
        return instruments.get(layout.type_code).evaluate(spec, built.readings, stage), None
    except instruments.MetrologyError as exc:
        return None, str(exc)


def evaluate_sheet(layout: Layout, spec: Mapping[str, Any], sheet: Mapping[str, Any], *,
                   stage: str = "initial", retries: int = 30) -> Evaluation:
    """Run the engine on the sheet. When a row is refused, it is set aside and the rest evaluated again, so that
    every other row still shows its figures while the technician fixes that one; the verdict and ``result`` are only
    given when nothing was set aside."""
    built = readings_from_sheet(layout, sheet)
    # What was typed, bad rows included: what a save stores (the verdict comes only from a clean evaluation).
    evaluation = Evaluation(readings=built.readings)
    working = dict(sheet)
    for _attempt in range(retries):
        result, message = _evaluate_once(layout, spec, built, stage)
        if message is None:
            break
        engine_path, text = split_message(message)
        name = built.sheet_path(engine_path) if engine_path else ""
        evaluation.errors.setdefault(name, text)
        row = _row_of(layout, name)
        if row is None:
            return evaluation
        section, sheet_row = row
        for column in section.columns:  # set the row aside: clear its measured cells and build again
            if column.measured:
                working[section.name(sheet_row, column)] = ""
        built = readings_from_sheet(layout, working)
    else:
        return evaluation
    data = result.to_dict()
    for test in data["tests"]:
        section = layout.section(test["name"])
        evaluation.tests[test["name"]] = bool(test["passed"])
        ids = built.rows.get(test["name"], [])
        if section is None:
            continue
        for row_id, point in zip(ids, test.get("points", [])):
            evaluation.cells[row_id] = {key: point.get(key) for key, _label in section.results}
    evaluation.summary = [(label, data.get(key)) for key, label in layout.summary if data.get(key) is not None]
    if not evaluation.errors:
        evaluation.passed = bool(result.passed)
        evaluation.result = data
    return evaluation


def _row_of(layout: Layout, name: str) -> tuple[Section, Row] | None:
    for section in layout.sections:
        for row in section.rows:
            if name == row.prefix or name.startswith(row.prefix + ".") or name.startswith(row.prefix + "["):
                return section, row
    return None
