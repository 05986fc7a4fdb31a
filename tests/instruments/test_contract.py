"""The engine's contract (DESIGN.md §6), across all four instrument types, and its purity."""

import ast
import datetime as dt
import json
from pathlib import Path

import pytest

import instruments
from instruments import rules

ENGINE = Path(instruments.__file__).parent
FORBIDDEN = {"flask", "flask_babel", "flask_login", "flask_wtf", "sqlalchemy", "wtforms", "reportlab", "lims",
             "alembic", "qrcode", "openpyxl"}

EXAMPLES = {
    "nawi": ({"max": "30000", "e": "1", "d": "1", "unit": "g", "accuracy_class": "II"},
             {"weighing": [{"load": "50", "indication": "50"}, {"load": "5000", "indication": "5000.5"},
                           {"load": "30000", "indication": "29999"}]}),
    "weight": ({"nominal": "10", "unit": "kg", "accuracy_class": "M1"},
               {"reference": {"conventional_mass_g": "10000.005", "expanded_uncertainty_mg": "45", "k": "2",
                              "drift_mg": "15"},
                "cycles": [{"ref1": "0", "test1": "0.010", "test2": "0.010", "ref2": "0"},
                           {"ref1": "0", "test1": "0.030", "test2": "0.030", "ref2": "0"},
                           {"ref1": "0", "test1": "0.020", "test2": "0.020", "ref2": "0"}],
                "balance": {"d_mg": "10", "pooled_sd_mg": "25", "eccentricity_limit_mg": "10"},
                "buoyancy_limit_mg": "10"}),
    "energy_meter": ({"accuracy_class": "1", "un_v": "220", "ib_a": "5", "imax_a": "20",
                      "constant_imp_per_kwh": "1600", "kind": "electronic"},
                     {"accuracy": [{"current_a": "5", "pf": "1", "error_pct": "0.3"},
                                   {"current_a": "0.25", "pf": "1", "meter_energy_wh": "10.1",
                                    "reference_energy_wh": "10"}]}),
    "taximeter": ({"k_imp_per_km": "1000"},
                  {"mode": "installed", "distance": [{"reference_m": "1000", "indicated_m": "1010"}]}),
}


def test_all_types_in_a_stable_order_and_get_by_code():
    assert [t.code for t in instruments.all_types()] == ["nawi", "weight", "energy_meter", "taximeter"]
    for kind in instruments.all_types():
        assert instruments.get(kind.code) is kind
        assert kind.name_vi and kind.name_en and kind.name_vi != kind.name_en
    with pytest.raises(KeyError):
        instruments.get("thermometer")


def test_errors_are_value_errors_that_name_the_field():
    assert issubclass(instruments.SpecError, ValueError) and issubclass(instruments.ReadingsError, ValueError)
    with pytest.raises(instruments.ReadingsError, match=r"^weighing\[1\]\.indication: not a number"):
        instruments.get("nawi").evaluate(EXAMPLES["nawi"][0], {"weighing": [{"load": "50", "indication": "50"},
                                                                            {"load": "60", "indication": "x"}]})


@pytest.mark.parametrize("code", list(EXAMPLES))
def test_each_type_evaluates_to_json_ready_results_with_the_engine_version(code):
    kind = instruments.get(code)
    spec, readings = EXAMPLES[code]
    result = kind.evaluate(spec, readings)
    data = result.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["passed"] is result.passed is True
    assert data["engine_version"] == instruments.ENGINE_VERSION
    assert data["rules_digest"] == rules.digest() and len(data["rules_digest"]) == 64
    assert data["tests"] and all({"name", "passed", "points"} <= set(t) for t in data["tests"])
    assert kind.evaluate(spec, readings).to_dict() == data  # deterministic
    assert "float" not in json.dumps(data, default=lambda o: type(o).__name__)


@pytest.mark.parametrize("code", list(EXAMPLES))
def test_each_type_has_a_json_ready_test_plan_and_a_normalising_validate_spec(code):
    kind = instruments.get(code)
    spec = EXAMPLES[code][0]
    plan = kind.test_plan(spec)
    assert plan and json.loads(json.dumps(plan)) == plan
    clean = kind.validate_spec(spec)
    assert kind.validate_spec(clean) == clean


@pytest.mark.parametrize("code, on, months", [
    ("taximeter", dt.date(2024, 10, 14), 12), ("taximeter", dt.date(2024, 10, 15), 18),
    ("nawi", dt.date(2026, 1, 1), 12), ("energy_meter", dt.date(2026, 1, 1), 60), ("weight", dt.date(2026, 1, 1), 12),
])
def test_interval_months_by_date(code, on, months):
    assert instruments.get(code).interval_months(EXAMPLES[code][0], on=on) == months


def test_every_rule_row_names_its_source_and_how_sure_we_are():
    for path in sorted((ENGINE / "data").glob("*.json")):
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
        assert "source" in text and "status" in text, path.name
        for row in data.get("rows", []):
            assert row["source"].strip() and row["status"] in rules.STATUSES, (path.name, row)


def test_the_engine_imports_nothing_of_the_web():
    offenders = []
    for path in ENGINE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [(path.name, n) for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_the_engine_uses_no_binary_floats_in_arithmetic():
    # A float literal in the engine's source would be a number that can decide a verdict inexactly.
    floats = []
    for path in ENGINE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, float):
                floats.append((path.name, node.lineno, node.value))
    assert floats == []
