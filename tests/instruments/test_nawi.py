"""Electronic non-automatic weighing instruments (OIML R 76-1:2006): classes, MPE, errors, verdicts and test plan."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import instruments
from instruments import ReadingsError, SpecError
from instruments.nawi import (TYPE, class_limits, indication_error, is_scale_interval, mpe,
                              recommended_eccentricity_load, unit_in_grams)

D = Decimal
CLASS_II_30KG = {"max": "30000", "e": "1", "d": "1", "unit": "g", "accuracy_class": "II"}
CLASS_III_30KG = {"max": "30000", "e": "10", "d": "10", "unit": "g", "accuracy_class": "III"}


def weighing(*points: tuple) -> dict:
    """``weighing`` readings from (load, indication[, delta_l]) tuples."""
    rows = []
    for point in points:
        row = {"load": point[0], "indication": point[1]}
        if len(point) > 2:
            row["delta_l"] = point[2]
        rows.append(row)
    return {"weighing": rows}


def evaluate(spec: dict, readings: dict, stage: str = "initial"):
    return TYPE.evaluate(spec, readings, stage)


# --------------------------------------------------------------------------------------------------------------------
# Registration and contract


def test_type_registered_with_names_and_references():
    assert instruments.get("nawi") is TYPE
    assert TYPE.code == "nawi"
    assert TYPE.name_vi.startswith("Cân")
    assert any("R 76-1" in ref for ref in TYPE.references)


def test_interval_criteria_is_the_accuracy_class():
    clean = TYPE.validate_spec(CLASS_II_30KG)
    assert TYPE.interval_criteria(clean) == {"accuracy_class": "II"}
    assert TYPE.interval_months(CLASS_II_30KG, on=dt.date(2025, 1, 1)) == 12
    rule = TYPE.interval_rule(CLASS_III_30KG, on=dt.date(2025, 1, 1))
    assert rule.status == "secondary"


# --------------------------------------------------------------------------------------------------------------------
# MPE, R 76-1 Table 6


@pytest.mark.parametrize("accuracy_class, edge, below, above", [
    ("I", 50000, "0.5", "1.0"),
    ("I", 200000, "1.0", "1.5"),
    ("II", 5000, "0.5", "1.0"),
    ("II", 20000, "1.0", "1.5"),
    ("III", 500, "0.5", "1.0"),
    ("III", 2000, "1.0", "1.5"),
    ("IIII", 50, "0.5", "1.0"),
    ("IIII", 200, "1.0", "1.5"),
])
@pytest.mark.parametrize("e", ["1", "0.01", "5"])
def test_mpe_band_edge_belongs_to_the_lower_band(accuracy_class, edge, below, above, e):
    """R 76-1 Table 6: each band includes its upper limit; one e above the edge is the next band."""
    e = D(e)
    assert mpe(accuracy_class, e, edge * e) == D(below) * e
    assert mpe(accuracy_class, e, (edge + 1) * e) == D(above) * e


@pytest.mark.parametrize("accuracy_class, top", [("II", 100000), ("III", 10000), ("IIII", 1000)])
def test_mpe_top_of_table_and_one_e_above(accuracy_class, top):
    assert mpe(accuracy_class, D(1), D(top)) == D("1.5")
    with pytest.raises(SpecError, match=rf"^load: {top + 1} is above the MPE table of class {accuracy_class} "):
        mpe(accuracy_class, D(1), D(top + 1))


def test_mpe_class_i_has_no_upper_limit():
    assert mpe("I", D("0.001"), D("1000000")) == D("0.0015")


def test_mpe_at_zero_load_is_half_e():
    assert mpe("III", D(10), D(0)) == D("5.0")


@pytest.mark.parametrize("accuracy_class", ["I", "II", "III", "IIII"])
@pytest.mark.parametrize("multiple", [1, 50, 51, 200, 201, 500, 501, 1000])
def test_mpe_in_service_doubles_the_initial_mpe(accuracy_class, multiple):
    """R 76-1 3.5.2: MPE in service = 2 × MPE on initial verification."""
    e = D(5)
    assert mpe(accuracy_class, e, multiple * e, stage="in_service") == 2 * mpe(accuracy_class, e, multiple * e)


def test_mpe_docstring_examples():
    assert mpe("II", D("1"), D("5000")) == D("0.5")
    assert str(mpe("II", D("1"), D("5001"), stage="in_service")) == "2.0"


@pytest.mark.parametrize("args, exception, message", [
    (("V", D(1), D(1)), SpecError, "accuracy_class: must be one of I, II, III, IIII (got 'V')"),
    (("II", D(0), D(1)), SpecError, "e: must be greater than zero (Decimal('0'))"),
    (("II", D(1), D(-1)), SpecError, "load: must not be negative (Decimal('-1'))"),
    (("II", D(1), "abc"), SpecError, "load: not a number ('abc')"),
])
def test_mpe_refuses_bad_arguments(args, exception, message):
    with pytest.raises(exception) as info:
        mpe(*args)
    assert str(info.value) == message


def test_mpe_refuses_unknown_stage():
    with pytest.raises(ReadingsError, match=r"^stage: must be one of initial, in_service"):
        mpe("II", D(1), D(1), stage="periodic")


# --------------------------------------------------------------------------------------------------------------------
# Classes, R 76-1 Table 3


@pytest.mark.parametrize("spec", [
    {"max": "50", "e": "0.001", "d": "0.0001", "accuracy_class": "I"},           # n = 50 000, lowest for class I
    {"max": "520", "e": "0.001", "d": "0.001", "accuracy_class": "I"},           # n = 520 000, no upper limit
    {"max": "1", "e": "0.01", "d": "0.01", "accuracy_class": "II"},              # n = 100, 0.001 g ≤ e ≤ 0.05 g
    {"max": "100", "e": "0.001", "d": "0.001", "accuracy_class": "II"},          # n = 100 000
    {"max": "5000", "e": "0.05", "d": "0.01", "accuracy_class": "II"},           # n = 100 000, e = 0.05 g
    {"max": "500", "e": "0.1", "d": "0.1", "accuracy_class": "II"},              # n = 5 000, e ≥ 0.1 g
    {"max": "100000", "e": "1", "d": "1", "accuracy_class": "II"},               # n = 100 000
    {"max": "10", "e": "0.1", "d": "0.1", "accuracy_class": "III"},              # n = 100, 0.1 g ≤ e ≤ 2 g
    {"max": "20000", "e": "2", "d": "2", "accuracy_class": "III"},               # n = 10 000, e = 2 g
    {"max": "2500", "e": "5", "d": "5", "accuracy_class": "III"},                # n = 500, e ≥ 5 g
    {"max": "50000", "e": "5", "d": "5", "accuracy_class": "III"},               # n = 10 000
    {"max": "500", "e": "5", "d": "5", "accuracy_class": "IIII"},                # n = 100
    {"max": "50000", "e": "50", "d": "50", "accuracy_class": "IIII"},            # n = 1 000
])
def test_table3_accepts_each_row_at_its_limits(spec):
    clean = TYPE.validate_spec({**spec, "unit": "g"})
    assert clean["accuracy_class"] == spec["accuracy_class"]


@pytest.mark.parametrize("spec, message", [
    ({"max": "49.999", "e": "0.001", "d": "0.001", "accuracy_class": "I"},
     "accuracy_class: n = Max/e = 49999 is out of range for class I with e = 0.001 g (n must be 50000 …, "
     "OIML R 76-1 Table 3); Table 3 allows class II"),
    ({"max": "100", "e": "0.0001", "d": "0.0001", "accuracy_class": "I"},
     "accuracy_class: class I needs 0.001 g ≤ e, but e = 0.0001 g (OIML R 76-1 Table 3)"),
    ({"max": "0.99", "e": "0.01", "d": "0.01", "accuracy_class": "II"},
     "accuracy_class: n = Max/e = 99 is out of range for class II with e = 0.01 g (n must be 100 … 100000, "
     "OIML R 76-1 Table 3)"),
    ({"max": "1000.01", "e": "0.01", "d": "0.01", "accuracy_class": "II"},
     "accuracy_class: n = Max/e = 100001 is out of range for class II with e = 0.01 g (n must be 100 … 100000, "
     "OIML R 76-1 Table 3); Table 3 allows class I"),
    ({"max": "499.9", "e": "0.1", "d": "0.1", "accuracy_class": "II"},
     "accuracy_class: n = Max/e = 4999 is out of range for class II with e = 0.1 g (n must be 5000 … 100000, "
     "OIML R 76-1 Table 3); Table 3 allows class III"),
    ({"max": "20002", "e": "2", "d": "2", "accuracy_class": "III"},
     "accuracy_class: n = Max/e = 10001 is out of range for class III with e = 2 g (n must be 100 … 10000, "
     "OIML R 76-1 Table 3); Table 3 allows class II"),
    ({"max": "5", "e": "0.05", "d": "0.05", "accuracy_class": "III"},
     "accuracy_class: class III needs 0.1 g ≤ e ≤ 2 g or 5 g ≤ e, but e = 0.05 g (OIML R 76-1 Table 3)"),
    ({"max": "2495", "e": "5", "d": "5", "accuracy_class": "III"},
     "accuracy_class: n = Max/e = 499 is out of range for class III with e = 5 g (n must be 500 … 10000, "
     "OIML R 76-1 Table 3); Table 3 allows class IIII"),
    ({"max": "495", "e": "5", "d": "5", "accuracy_class": "IIII"},
     "accuracy_class: n = Max/e = 99 is out of range for class IIII with e = 5 g (n must be 100 … 1000, "
     "OIML R 76-1 Table 3)"),
    ({"max": "5005", "e": "5", "d": "5", "accuracy_class": "IIII"},
     "accuracy_class: n = Max/e = 1001 is out of range for class IIII with e = 5 g (n must be 100 … 1000, "
     "OIML R 76-1 Table 3); Table 3 allows class III"),
    ({"max": "400", "e": "2", "d": "2", "accuracy_class": "IIII"},
     "accuracy_class: class IIII needs 5 g ≤ e, but e = 2 g (OIML R 76-1 Table 3)"),
])
def test_table3_refuses_each_row_outside_its_limits(spec, message):
    with pytest.raises(SpecError) as info:
        TYPE.validate_spec({**spec, "unit": "g"})
    assert str(info.value) == message
    assert info.value.field == "accuracy_class"


def test_30kg_1g_scale_is_class_ii_and_class_iii_is_refused():
    """DOMAIN.md §2 example: Max 30 kg, e = d = 1 g gives n = 30 000, so it can only be class II (Min = 50 g)."""
    assert TYPE.validate_spec(CLASS_II_30KG)["min"] == "50"
    with pytest.raises(SpecError) as info:
        TYPE.validate_spec({**CLASS_II_30KG, "accuracy_class": "III"})
    assert info.value.field == "accuracy_class"
    assert str(info.value) == ("accuracy_class: n = Max/e = 30000 is out of range for class III with e = 1 g "
                               "(n must be 100 … 10000, OIML R 76-1 Table 3); Table 3 allows class II")


def test_30kg_class_iii_trade_scale_has_e_10g():
    """DOMAIN.md §2: a class III 30 kg trade scale has e = 10 g (n = 3 000, Min = 20 e = 200 g)."""
    clean = TYPE.validate_spec({"max": "30", "e": "0.01", "d": "0.01", "unit": "kg", "accuracy_class": "III"})
    assert clean == {"max": "30", "e": "0.01", "d": "0.01", "unit": "kg", "accuracy_class": "III", "min": "0.2",
                     "supports": "4"}


def test_table3_picks_the_row_by_e_in_grams():
    """e = 100 mg is 0.1 g: class II's second row (n ≥ 5 000, Min = 50 e) applies, not the first."""
    with pytest.raises(SpecError, match=r"n must be 5000 … 100000"):
        TYPE.validate_spec({"max": "1000", "e": "100", "d": "100", "unit": "mg", "accuracy_class": "II"})
    clean = TYPE.validate_spec({"max": "500000", "e": "100", "d": "100", "unit": "mg", "accuracy_class": "II"})
    assert clean["min"] == "5000"


@pytest.mark.parametrize("accuracy_class, e_g, min_e", [
    ("I", "0.001", "100"), ("II", "0.01", "20"), ("II", "1", "50"), ("III", "1", "20"), ("III", "10", "20"),
    ("IIII", "10", "10"),
])
def test_class_limits_give_min_in_e(accuracy_class, e_g, min_e):
    assert class_limits(accuracy_class, D(e_g))["min_e"] == D(min_e)


def test_class_is_declared_not_inferred():
    """A spec that fits class III is still refused as class II when Table 3 does not allow it."""
    with pytest.raises(SpecError, match=r"^accuracy_class: n = Max/e = 3000 is out of range for class II"):
        TYPE.validate_spec({**CLASS_III_30KG, "accuracy_class": "II"})


# --------------------------------------------------------------------------------------------------------------------
# Spec validation


def test_validate_spec_normalises_and_is_idempotent():
    clean = TYPE.validate_spec({"max": "3E+4", "e": "1.0", "d": 1, "unit": " g ", "accuracy_class": "II",
                                "min": "100.00", "supports": "6"})
    assert clean == {"max": "30000", "e": "1", "d": "1", "unit": "g", "accuracy_class": "II", "min": "100",
                     "supports": "6"}
    assert TYPE.validate_spec(clean) == clean


def test_validate_spec_fills_defaults():
    assert TYPE.validate_spec(CLASS_III_30KG) == {**CLASS_III_30KG, "min": "200", "supports": "4"}


@pytest.mark.parametrize("change, message", [
    ({"max": None}, "max: missing"),
    ({"max": ""}, "max: missing"),
    ({"max": "abc"}, "max: not a number ('abc')"),
    ({"max": "-30000"}, "max: must be greater than zero ('-30000')"),
    ({"max": "NaN"}, "max: not a finite number ('NaN')"),
    ({"e": "0"}, "e: must be greater than zero ('0')"),
    ({"e": "3", "d": "1"}, "e: must be 1, 2 or 5 × 10^k g (got 3)"),
    ({"d": "0.25"}, "d: must be 1, 2 or 5 × 10^k g (got 0.25)"),
    ({"d": "2"}, "d: must not exceed e (d = 2 g, e = 1 g)"),
    ({"d": [1]}, "d: not a number ([1])"),
    ({"max": "30001", "e": "2", "d": "2"}, "max: must be a whole number of scale intervals e (Max = 30001 g, e = 2 g)"),
    ({"unit": "lb"}, "unit: must be one of mg, g, kg, t (got 'lb')"),
    ({"unit": None}, "unit: missing"),
    ({"accuracy_class": "2"}, "accuracy_class: must be one of I, II, III, IIII (got '2')"),
    ({"accuracy_class": None}, "accuracy_class: missing"),
    ({"min": "49"}, "min: 49 g is below the minimum capacity of class II (50 e = 50 g, OIML R 76-1 Table 3)"),
    ({"min": "30000"}, "min: must be below Max (Min = 30000 g, Max = 30000 g)"),
    ({"min": "x"}, "min: not a number ('x')"),
    ({"supports": "0"}, "supports: must be greater than zero ('0')"),
    ({"supports": "4.5"}, "supports: must be a whole number ('4.5')"),
    ({"supports": 101}, "supports: at most 100 supports (got 101)"),
    ({"max": "1E+400"}, "max: out of range ('1E+400')"),
    ({"max": "1e999999999"}, "max: out of range ('1e999999999')"),
    ({"max": "30000.0000000000000000000000000001"}, "max: too many digits ('30000.0000000000000000000000000001')"),
    ({"max": "1000000000000000000"},
     "max: outside the range the engine handles (at most 15 digits before the decimal point and 12 after) "
     "('1000000000000000000')"),
    ({"colour": "red", "serial": "1"}, "colour, serial: unknown fields (allowed: max, e, d, unit, accuracy_class, "
                                       "min, supports)"),
])
def test_validate_spec_names_the_bad_field(change, message):
    with pytest.raises(SpecError) as info:
        TYPE.validate_spec({**CLASS_II_30KG, **change})
    assert str(info.value) == message


def test_validate_spec_refuses_a_non_mapping():
    with pytest.raises(SpecError, match=r"^spec: must be an object, got list$"):
        TYPE.validate_spec(["II"])


def test_helpers():
    assert unit_in_grams("t") == D("1000000")
    assert is_scale_interval(D("0.002")) and not is_scale_interval(D("0")) and not is_scale_interval(D("15"))
    assert recommended_eccentricity_load(D("30000"), 4) == D("10000")
    assert recommended_eccentricity_load(D("70000"), 8) == D("10000")


# --------------------------------------------------------------------------------------------------------------------
# Errors and the weighing test


def test_change_over_point_worked_example():
    """R 76-1 A.4.4.3: e = 10 g, L = 1 000 g, I = 1 000 g, ΔL = 3 g gives E = 1 000 + 5 − 3 − 1 000 = 2 g."""
    assert indication_error(D(1000), D(1000), D(10), D(3)) == D(2)
    point = evaluate(CLASS_III_30KG, weighing(("1000", "1000", "3"))).test("weighing").points[0]
    assert point["error"] == D(2)
    assert point["corrected_error"] == D(2)
    assert point["mpe"] == D(5)
    assert point["passed"] is True


def test_error_without_delta_l_is_indication_minus_load():
    point = evaluate(CLASS_III_30KG, weighing(("1000", "1010"))).test("weighing").points[0]
    assert point["error"] == D(10)
    assert point["delta_l"] is None
    assert point["passed"] is False


def test_corrected_error_subtracts_the_zero_error():
    """Ec = E − E0 (R 76-1 A.4.4.3): E0 = 0 + 5 − 1 = 4 g; at 1 000 g E = 1 000 + 5 − 1 − 1 000 = 4 g, Ec = 0."""
    readings = {"zero": {"indication": "0", "delta_l": "1"}, **weighing(("1000", "1000", "1"))}
    result = evaluate(CLASS_III_30KG, readings)
    point = result.test("weighing").points[0]
    assert (point["error"], point["corrected_error"]) == (D(4), D(0))
    assert result.extra["zero_error"] == D(4)


@pytest.mark.parametrize("load, indication, delta_l, passed", [
    ("5000", "5000", "0", True),          # E = +0.5 = MPE at 5 000 e
    ("5000", "5000", "1", True),          # E = −0.5 = −MPE
    ("5000", "5001", "0", False),         # E = 1.5 = MPE + d
    ("20000", "20001", None, True),       # E = 1 = MPE at 20 000 e
    ("20000", "19999", None, True),
    ("20000", "20002", None, False),      # E = 2 = MPE + d
    ("20001", "20002.5", None, True),     # 1.5 e above 20 000 e
])
def test_error_at_the_mpe_passes_and_mpe_plus_d_fails(load, indication, delta_l, passed):
    point = evaluate(CLASS_II_30KG, weighing((load, indication) + ((delta_l,) if delta_l else ()))).test(
        "weighing").points[0]
    assert point["passed"] is passed


def test_error_at_the_mpe_passes_and_a_hair_above_fails_when_d_is_smaller_than_e():
    """Class II, e = 0.01 g, d = 0.001 g: at 100 g (10 000 e) MPE = 1 e = 0.01 g; MPE + d = 0.011 g fails."""
    spec = {"max": "200", "e": "0.01", "d": "0.001", "unit": "g", "accuracy_class": "II"}
    result = evaluate(spec, weighing(("100", "100.010"), ("100", "99.990"), ("100", "100.011"), ("100", "99.989")))
    assert [p["passed"] for p in result.test("weighing").points] == [True, True, False, False]
    assert result.passed is False


def test_in_service_doubles_the_mpe_of_each_point():
    readings = weighing(("1000", "1010"))
    assert evaluate(CLASS_III_30KG, readings).passed is False
    result = evaluate(CLASS_III_30KG, readings, stage="in_service")
    assert result.passed is True
    assert result.stage == "in_service"
    assert result.test("weighing").points[0]["mpe"] == D(10)


def test_weighing_points_keep_input_values_and_order():
    readings = {"weighing": [
        {"load": "30000", "indication": "30010", "direction": "up"},
        {"load": "0", "indication": "0", "direction": "down"},
        {"load": "200", "indication": "200"},
    ]}
    points = evaluate(CLASS_III_30KG, readings).test("weighing").points
    assert [(p["load"], p["indication"], p["direction"]) for p in points] == [
        (D(30000), D(30010), "up"), (D(0), D(0), "down"), (D(200), D(200), "up")]
    assert [p["mpe"] for p in points] == [D(15), D(5), D(5)]


def test_load_up_to_max_plus_9e_is_accepted_and_above_is_refused():
    """R 76-1 4.2.3: no indication above Max + 9 e. Class II n = 100 000: the last band of Table 6 is used there."""
    spec = {"max": "100000", "e": "1", "d": "1", "unit": "g", "accuracy_class": "II"}
    point = evaluate(spec, weighing(("100009", "100010"))).test("weighing").points[0]
    assert point["mpe"] == D("1.5")
    with pytest.raises(ReadingsError) as info:
        evaluate(spec, weighing(("1", "1"), ("100010", "100010")))
    assert str(info.value) == ("weighing[1].load: 100010 g is above Max + 9 e (100009 g); the instrument shows no "
                               "indication there (OIML R 76-1 4.2.3)")


def test_result_reports_n_sources_and_json():
    result = evaluate(CLASS_II_30KG, weighing(("50", "50")))
    data = result.to_dict()
    assert data["type"] == "nawi"
    assert data["n"] == "30000"
    assert data["zero_error"] is None
    assert {s["table"] for s in data["sources"]} >= {"classes", "mpe"}
    assert data["tests"][0]["points"][0] == {
        "load": "50", "indication": "50", "delta_l": None, "error": "0", "direction": "up",
        "corrected_error": "0", "mpe": "0.5", "passed": True}
    assert json.loads(json.dumps(data)) == data


# --------------------------------------------------------------------------------------------------------------------
# Zero, eccentricity, repeatability


@pytest.mark.parametrize("delta_l, passed", [("2.5", True), ("7.5", True), ("2.4", False), ("7.6", False)])
def test_zero_error_limit_is_a_quarter_e(delta_l, passed):
    """|E0| ≤ 0.25 e [S]: e = 10 g, I0 = 0, E0 = 5 − ΔL0, so ΔL0 = 2.5 g or 7.5 g is exactly at the limit."""
    result = evaluate(CLASS_III_30KG, {"zero": {"indication": "0", "delta_l": delta_l}, **weighing(("0", "0"))})
    zero = result.test("zero")
    assert zero.passed is passed
    assert zero.points[0]["limit"] == D("2.50")
    assert zero.points[0]["error"] == 5 - D(delta_l)
    assert result.passed is passed


def eccentricity(load: str, *indications: str) -> dict:
    return {"load": load, "positions": [{"position": str(k + 1), "indication": i} for k, i in enumerate(indications)]}


def test_eccentricity_each_position_within_the_mpe_for_the_load():
    """Class III, e = 10 g, 1/3 Max = 10 000 g = 1 000 e: MPE = 1 e = 10 g; 10 020 g at one corner fails."""
    readings = {**weighing(("0", "0")), "eccentricity": eccentricity("10000", "10000", "10010", "9990", "10000",
                                                                       "10020")}
    result = evaluate(CLASS_III_30KG, readings)
    test = result.test("eccentricity")
    assert [p["passed"] for p in test.points] == [True, True, True, True, False]
    assert [p["position"] for p in test.points] == ["1", "2", "3", "4", "5"]
    assert test.points[0]["mpe"] == D("10.0")
    assert test.extra["recommended_load"] == D(10000)
    assert test.extra["warnings"] == []
    assert result.passed is False


def test_eccentricity_uses_the_corrected_error():
    readings = {"zero": {"indication": "10"}, **weighing(("0", "10")),
                "eccentricity": eccentricity("10000", "10020")}
    point = evaluate(CLASS_III_30KG, readings).test("eccentricity").points[0]
    assert (point["error"], point["corrected_error"], point["passed"]) == (D(20), D(10), True)


def test_eccentricity_load_far_off_warns_without_failing():
    readings = {**weighing(("0", "0")), "eccentricity": eccentricity("20000", *["20000"] * 5)}
    result = evaluate(CLASS_III_30KG, readings)
    test = result.test("eccentricity")
    assert test.passed is True and result.passed is True
    assert test.extra["warnings"] == [
        "eccentricity.load: 20000 g is far from the recommended 10000 g (1/3 Max, OIML R 76-1 A.4.7)"]


def test_eccentricity_load_within_tolerance_does_not_warn():
    readings = {**weighing(("0", "0")), "eccentricity": eccentricity("12000", *["12000"] * 5)}
    assert evaluate(CLASS_III_30KG, readings).test("eccentricity").extra["warnings"] == []


def test_eccentricity_with_more_than_four_supports_uses_max_over_n_minus_1():
    """R 76-1 A.4.7: n = 6 supports, Max/(n − 1) = 6 000 g on each support."""
    spec = {**CLASS_III_30KG, "supports": "6"}
    readings = {**weighing(("0", "0")), "eccentricity": eccentricity("10000", *["10000"] * 5)}
    test = evaluate(spec, readings).test("eccentricity")
    assert test.extra["recommended_load"] == D(6000)
    assert test.extra["warnings"] == [
        "eccentricity.load: 10000 g is far from the recommended 6000 g (Max/(n − 1) for 6 supports, OIML R 76-1 "
        "A.4.7)",
        "eccentricity.positions: 5 positions measured, the method asks for 6"]


def test_repeatability_spread_against_the_mpe():
    """R 76-1 3.6.1: spread ≤ |MPE|. Class III, 15 000 g = 1 500 e: MPE = 10 g; spread 10 passes, 20 fails."""
    readings = {**weighing(("0", "0")), "repeatability": [
        {"load": "15000", "readings": [{"indication": "15000"}, {"indication": "15010"}, {"indication": "15000"}]},
        {"load": "30000", "readings": [{"indication": "30000"}, {"indication": "29990", "delta_l": "5"},
                                       {"indication": "30010", "delta_l": "5"}]},
    ]}
    result = evaluate(CLASS_III_30KG, readings)
    test = result.test("repeatability")
    assert [(p["spread"], p["mpe"], p["passed"]) for p in test.points] == [
        (D(10), D(10), True), (D(20), D(15), False)]
    assert test.points[1]["readings"][1] == {"indication": D(29990), "delta_l": D(5), "error": D(-10)}
    assert (test.extra["spread"], test.extra["mpe"]) == (D(20), D(15))
    assert test.extra["warnings"] == []
    assert result.passed is False


def test_repeatability_warns_when_fewer_weighings_than_the_plan():
    spec = {"max": "200", "e": "0.01", "d": "0.001", "unit": "g", "accuracy_class": "II"}
    readings = {**weighing(("0", "0")),
                "repeatability": [{"load": "100", "readings": [{"indication": "100"}, {"indication": "100.001"}]}]}
    test = evaluate(spec, readings).test("repeatability")
    assert test.passed is True
    assert test.extra["warnings"] == ["repeatability[0].readings: 2 weighings, the method asks for 6 for class II"]


def test_overall_verdict_needs_every_test():
    good = {"zero": {"indication": "0"}, **weighing(("200", "200"), ("30000", "30000")),
            "eccentricity": eccentricity("10000", *["10000"] * 5),
            "repeatability": [{"load": "15000", "readings": [{"indication": "15000"}] * 3}]}
    result = evaluate(CLASS_III_30KG, good)
    assert result.passed is True
    assert [t.name for t in result.tests] == ["zero", "weighing", "eccentricity", "repeatability"]
    bad_zero = {**good, "zero": {"indication": "10"}}
    assert evaluate(CLASS_III_30KG, bad_zero).passed is False


# --------------------------------------------------------------------------------------------------------------------
# Readings errors


@pytest.mark.parametrize("readings, message", [
    ({}, "weighing: missing"),
    ({"weighing": []}, "weighing: needs at least 1 item"),
    ({"weighing": "1000"}, "weighing: must be a list, got str"),
    ({"weighing": [{"load": "1", "indication": "1"}, {}, None]}, "weighing[1].load: missing"),
    ({"weighing": [{"load": "1", "indication": "1"}, None]}, "weighing[1]: must be an object, got NoneType"),
    ({"weighing": [{"load": "1", "indication": "1"}] * 2 + [{"load": "1", "indication": "abc"}]},
     "weighing[2].indication: not a number ('abc')"),
    ({"weighing": [{"load": "-1", "indication": "1"}]}, "weighing[0].load: must not be negative ('-1')"),
    ({"weighing": [{"load": "1", "indication": None}]}, "weighing[0].indication: missing"),
    ({"weighing": [{"load": "1", "indication": "1", "direction": "left"}]},
     "weighing[0].direction: must be one of up, down (got 'left')"),
    ({"weighing": [{"load": "1", "indication": "1", "delta_l": "11"}]},
     "weighing[0].delta_l: must be between 0 and e (0 … 10 g), got 11"),
    ({"weighing": [{"load": "1", "indication": "1", "delta_l": "-1"}]},
     "weighing[0].delta_l: must not be negative ('-1')"),
    ({"weighing": [{"load": "1", "indication": "1", "delta_L": "1"}]},
     "weighing[0].delta_L: unknown field (allowed: load, indication, delta_l, direction)"),
    ({"weighing": [{"load": "1", "indication": "1"}], "repeatibility": []},
     "repeatibility: unknown field (allowed: weighing, zero, eccentricity, repeatability)"),
    ({"weighing": [{"load": "1", "indication": "1"}], "zero": "0"}, "zero: must be an object, got str"),
    ({"weighing": [{"load": "1", "indication": "1"}], "zero": {"indication": "x"}},
     "zero.indication: not a number ('x')"),
    ({"weighing": [{"load": "1", "indication": "1"}], "eccentricity": {"load": "10000"}},
     "eccentricity.positions: missing"),
    ({"weighing": [{"load": "1", "indication": "1"}], "eccentricity": {"load": "0", "positions": []}},
     "eccentricity.load: must be greater than zero ('0')"),
    ({"weighing": [{"load": "1", "indication": "1"}], "eccentricity": {"load": "10000", "positions": []}},
     "eccentricity.positions: needs at least 1 item"),
    ({"weighing": [{"load": "1", "indication": "1"}],
      "eccentricity": {"load": "10000", "positions": [{"indication": "10000"}]}},
     "eccentricity.positions[0].position: must be a label such as \"1\" or \"centre\" (got None)"),
    ({"weighing": [{"load": "1", "indication": "1"}],
      "eccentricity": {"load": "10000", "positions": [{"position": " ", "indication": "10000"}]}},
     "eccentricity.positions[0].position: missing"),
    ({"weighing": [{"load": "1", "indication": "1"}],
      "eccentricity": {"load": "40000", "positions": [{"position": "1", "indication": "1"}]}},
     "eccentricity.load: 40000 g is above Max + 9 e (30090 g); the instrument shows no indication there "
     "(OIML R 76-1 4.2.3)"),
    ({"weighing": [{"load": "1", "indication": "1"}], "repeatability": {"load": "1"}},
     "repeatability: must be a list, got dict"),
    ({"weighing": [{"load": "1", "indication": "1"}],
      "repeatability": [{"load": "1", "readings": [{"indication": 1}]}]},
     "repeatability[0].readings: needs at least 2 items"),
    ({"weighing": [{"load": "1", "indication": "1"}],
      "repeatability": [{"load": "1", "readings": [{"indication": 1}, {"indication": True}]}]},
     "repeatability[0].readings[1].indication: not a number (True)"),
])
def test_evaluate_names_the_bad_reading(readings, message):
    with pytest.raises(ReadingsError) as info:
        evaluate(CLASS_III_30KG, readings)
    assert str(info.value) == message


def test_evaluate_refuses_bad_stage_and_non_mapping_readings():
    with pytest.raises(ReadingsError, match=r"^stage: must be one of initial, in_service \(got 'periodic'\)$"):
        evaluate(CLASS_III_30KG, weighing(("0", "0")), stage="periodic")
    with pytest.raises(ReadingsError, match=r"^readings: must be an object, got list$"):
        evaluate(CLASS_III_30KG, [])


def test_evaluate_validates_the_spec_first():
    with pytest.raises(SpecError, match=r"^accuracy_class: n = Max/e = 30000 "):
        evaluate({**CLASS_II_30KG, "accuracy_class": "III"}, weighing(("0", "0")))


# --------------------------------------------------------------------------------------------------------------------
# Test plan


def test_plan_for_a_30kg_class_iii_scale():
    """Min 200 g, the Table 6 edges 500 e = 5 kg and 2 000 e = 20 kg, 50 % Max, Max; up and back down."""
    plan = TYPE.test_plan(CLASS_III_30KG)
    assert [item["test"] for item in plan] == ["zero", "weighing", "eccentricity", "repeatability"]
    assert all(item["required"] for item in plan)
    zero, weigh, ecc, rep = plan
    assert zero["points"] == [{"load": "0", "limit": "2.50"}]
    assert [(p["load"], p["direction"], p["mpe"]) for p in weigh["points"]] == [
        ("200", "up", "5.0"), ("5000", "up", "5.0"), ("15000", "up", "10.0"), ("20000", "up", "10.0"),
        ("30000", "up", "15.0"), ("20000", "down", "10.0"), ("15000", "down", "10.0"), ("5000", "down", "5.0"),
        ("200", "down", "5.0")]
    assert ecc["load"] == "10000"
    assert [p["position"] for p in ecc["points"]] == ["1", "2", "3", "4", "5"]
    assert ecc["points"][0]["label_en"] == "centre"
    assert rep["points"] == [{"load": "15000", "readings": 3, "mpe": "10.0"},
                             {"load": "30000", "readings": 3, "mpe": "15.0"}]
    assert rep["status"] == "unconfirmed"
    assert json.loads(json.dumps(plan)) == plan


def test_plan_class_ii_has_six_readings_and_in_service_only_weighing_required():
    plan = TYPE.test_plan(CLASS_II_30KG, stage="in_service")
    assert [item["required"] for item in plan] == [False, True, False, False]
    assert [p["readings"] for p in plan[3]["points"]] == [6, 6]
    assert [(p["load"], p["mpe"]) for p in plan[1]["points"][:5]] == [
        ("50", "1.0"), ("5000", "1.0"), ("15000", "2.0"), ("20000", "2.0"), ("30000", "3.0")]


def test_plan_fills_up_to_five_loads_for_a_small_class_iiii_scale():
    """Class IIII, e = 5 g, Max 500 g (n = 100): Min 50 g, 50 e = 250 g = 50 % Max, Max; 25 % and 75 % fill in."""
    plan = TYPE.test_plan({"max": "500", "e": "5", "d": "5", "unit": "g", "accuracy_class": "IIII"})
    assert [p["load"] for p in plan[1]["points"] if p["direction"] == "up"] == ["50", "125", "250", "375", "500"]


def test_plan_rounds_loads_to_convenient_values():
    """Max 100 kg, e = 20 g: 1/3 Max = 33 333.3 g is proposed as 33 000 g."""
    plan = TYPE.test_plan({"max": "100", "e": "0.02", "d": "0.02", "unit": "kg", "accuracy_class": "III"})
    assert plan[2]["load"] == "33"
    assert [p["load"] for p in plan[1]["points"] if p["direction"] == "up"] == ["0.4", "10", "40", "50", "100"]


def test_plan_with_more_than_four_supports_has_one_position_per_support():
    plan = TYPE.test_plan({**CLASS_III_30KG, "supports": "6"})
    ecc = plan[2]
    assert ecc["load"] == "6000"
    assert [p["position"] for p in ecc["points"]] == ["1", "2", "3", "4", "5", "6"]
    assert ecc["points"][5]["label_en"] == "support 6"


def test_plan_refuses_bad_spec_and_stage():
    with pytest.raises(SpecError):
        TYPE.test_plan({**CLASS_II_30KG, "accuracy_class": "III"})
    with pytest.raises(ReadingsError, match=r"^stage:"):
        TYPE.test_plan(CLASS_II_30KG, stage="yearly")


# --------------------------------------------------------------------------------------------------------------------
# Properties


@st.composite
def valid_specs(draw) -> dict:
    """Specs allowed by R 76-1 Table 3 (each row, its e values in grams and a range of n), in g or kg."""
    accuracy_class, e_values, n_range = draw(st.sampled_from([
        ("I", ["0.001", "0.002", "0.005", "0.01", "0.1", "1"], (50000, 300000)),
        ("II", ["0.001", "0.002", "0.005", "0.01", "0.02", "0.05"], (100, 100000)),
        ("II", ["0.1", "0.2", "0.5", "1", "2", "5"], (5000, 100000)),
        ("III", ["0.1", "0.2", "0.5", "1", "2"], (100, 10000)),
        ("III", ["5", "10", "20", "50"], (500, 10000)),
        ("IIII", ["5", "10", "20", "50", "100"], (100, 1000)),
    ]))
    e_g = D(draw(st.sampled_from(e_values)))
    n = draw(st.integers(*n_range))
    unit = draw(st.sampled_from(["g", "kg"]))
    e = e_g if unit == "g" else e_g / 1000
    spec = {"max": str(n * e), "e": str(e), "d": str(e), "unit": unit, "accuracy_class": accuracy_class,
            "supports": str(draw(st.integers(1, 8)))}
    TYPE.validate_spec(spec)  # the strategy itself must only produce valid specs
    return spec


@settings(max_examples=200, deadline=None)
@given(accuracy_class=st.sampled_from(["I", "II", "III", "IIII"]), e=st.sampled_from(["0.001", "0.1", "1", "5", "20"]),
       a=st.integers(0, 1000), b=st.integers(0, 1000), stage=st.sampled_from(["initial", "in_service"]))
def test_property_mpe_never_decreases_with_load(accuracy_class, e, a, b, stage):
    e = D(e)
    top = {"I": 300000, "II": 100000, "III": 10000, "IIII": 1000}[accuracy_class]
    low, high = sorted((a * top // 1000, b * top // 1000))
    assert mpe(accuracy_class, e, low * e, stage) <= mpe(accuracy_class, e, high * e, stage)
    assert mpe(accuracy_class, e, low * e, "in_service") == 2 * mpe(accuracy_class, e, low * e)


def random_weighing(spec: dict, data) -> list[dict]:
    max_, e = D(spec["max"]), D(spec["e"])
    count = data.draw(st.integers(1, 8))
    points = []
    for _ in range(count):
        load = data.draw(st.integers(0, int(max_ / e))) * e
        error_in_e = data.draw(st.integers(-3, 3))
        point = {"load": str(load), "indication": str(load + error_in_e * e),
                 "direction": data.draw(st.sampled_from(["up", "down"]))}
        if data.draw(st.booleans()):
            point["delta_l"] = str(data.draw(st.integers(0, 10)) * e / 10)
        points.append(point)
    return points


@settings(max_examples=100, deadline=None)
@given(spec=valid_specs(), data=st.data(), stage=st.sampled_from(["initial", "in_service"]))
def test_property_permuting_points_never_changes_the_verdict(spec, data, stage):
    points = random_weighing(spec, data)
    readings = {"weighing": points}
    if data.draw(st.booleans()):
        readings["zero"] = {"indication": "0", "delta_l": str(D(spec["e"]) / 2)}
    shuffled = data.draw(st.permutations(points))
    first = evaluate(spec, readings, stage)
    second = evaluate(spec, {**readings, "weighing": shuffled}, stage)
    assert first.passed == second.passed
    key = lambda p: json.dumps(p, sort_keys=True)  # noqa: E731
    assert sorted(map(key, first.to_dict()["tests"][-1]["points"])) == sorted(
        map(key, second.to_dict()["tests"][-1]["points"]))


@settings(max_examples=100, deadline=None)
@given(spec=valid_specs(), data=st.data())
def test_property_to_dict_survives_json_and_evaluate_is_deterministic(spec, data):
    readings = {"weighing": random_weighing(spec, data), "zero": {"indication": "0"}}
    max_, e = D(spec["max"]), D(spec["e"])
    ecc_load = str((max_ / 3 / e).to_integral_value() * e)
    readings["eccentricity"] = {"load": ecc_load, "positions": [{"position": str(k), "indication": ecc_load}
                                                                for k in range(1, 6)]}
    readings["repeatability"] = [{"load": spec["max"], "readings": [{"indication": spec["max"]}] * 3}]
    first = evaluate(spec, readings).to_dict()
    assert json.loads(json.dumps(first)) == first
    assert evaluate(spec, readings).to_dict() == first


@settings(max_examples=100, deadline=None)
@given(spec=valid_specs(), stage=st.sampled_from(["initial", "in_service"]))
def test_property_plan_loads_lie_in_min_max_on_the_scale_interval(spec, stage):
    clean = TYPE.validate_spec(spec)
    plan = TYPE.test_plan(spec, stage)
    assert json.loads(json.dumps(plan)) == plan
    min_, max_, e = D(clean["min"]), D(clean["max"]), D(clean["e"])
    up = [D(p["load"]) for p in plan[1]["points"] if p["direction"] == "up"]
    assert len(set(up)) >= 5 and up == sorted(up) and up[0] == min_ and up[-1] == max_
    loads = up + [D(plan[2]["load"])] + [D(p["load"]) for p in plan[3]["points"]]
    assert all(min_ <= load <= max_ and load % e == 0 for load in loads)
    assert TYPE.validate_spec(clean) == clean


json_leaves = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | st.sampled_from(
    ["1", "0", "-1", "1e999999999", "NaN", "30000", "0.5", "II", "g", "up", " "])
json_values = st.recursive(json_leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(max_size=6) | st.sampled_from(["load", "indication", "delta_l", "position", "readings", "positions"]),
    inner, max_size=4), max_leaves=12)


@settings(max_examples=200, deadline=None)
@given(spec=json_values | st.fixed_dictionaries({}, optional={k: json_values for k in
                                                              ("max", "e", "d", "unit", "accuracy_class", "min",
                                                               "supports")}),
       readings=json_values, stage=json_values)
def test_property_junk_raises_only_spec_or_readings_errors(spec, readings, stage):
    for call in (lambda: TYPE.validate_spec(spec), lambda: TYPE.test_plan(spec, stage),
                 lambda: TYPE.evaluate(spec, readings, stage)):
        try:
            call()
        except (SpecError, ReadingsError):
            pass


@settings(max_examples=200, deadline=None)
@given(spec=valid_specs(), readings=st.fixed_dictionaries({"weighing": json_values}, optional={
    "zero": json_values, "eccentricity": json_values, "repeatability": json_values}),
    point=st.dictionaries(st.sampled_from(["load", "indication", "delta_l", "direction"]), json_values))
def test_property_junk_readings_on_a_valid_spec_raise_only_readings_errors(spec, readings, point):
    for candidate in (readings, {"weighing": [point]}, {"weighing": [{"load": "0", "indication": "0"}],
                                                        "zero": point, "eccentricity": {"load": spec["max"],
                                                                                        "positions": [point]},
                                                        "repeatability": [{"load": spec["max"],
                                                                           "readings": [point, point]}]}):
        try:
            result = TYPE.evaluate(spec, candidate)
        except ReadingsError:
            continue
        json.dumps(result.to_dict())
