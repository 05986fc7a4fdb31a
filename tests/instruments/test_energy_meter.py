"""Single-phase electricity meters: errors by the four methods, limits, starting and no-load tests, intervals.

Worked numbers follow the formulas of DOMAIN.md §4 (IEC 62053-21:2003 8.1, 8.3.2, 8.3.3; ĐLVN 39:2004 5.3):
e = (E_meter − E_ref)/E_ref × 100 %, E_meter = N/C kWh, t_exp = N·3.6×10⁶/(C·P) s, e = (t_exp − t)/t × 100 %.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import instruments
from instruments import energy_meter as em
from instruments import rules
from instruments.errors import ReadingsError, SpecError

SPEC = {"accuracy_class": "1", "un_v": "220", "ib_a": "5", "imax_a": "20", "constant_imp_per_kwh": "1600"}
SPEC2 = {**SPEC, "accuracy_class": "2"}


def point(current_a="5", pf="1", **measured):
    return {"current_a": current_a, "pf": pf, **(measured or {"error_pct": "0"})}


def evaluate(points, spec=SPEC, **tests):
    return em.TYPE.evaluate(spec, {"accuracy": points, **tests})


def only_point(p, spec=SPEC):
    return evaluate([p], spec).test("accuracy").points[0]


def full_readings():
    return {
        "accuracy": [
            point("0.25", error_pct="1.2", position=1),
            point("0.5", meter_energy_wh="10", reference_energy_wh="10.05"),
            point("5", pulses="16", reference_energy_wh="10.05"),
            point("20", power_w="4400", pulses="10", time_s="5.1"),
            point("1", "0.5L", error_pct="-0.3"),
            point("5", "0.5L", error_pct="0.4"),
            point("5", "0.8C", error_pct="0.2"),
        ],
        "starting": {"current_a": "0.02", "started": True},
        "no_load": {"voltage_v": "253", "pulses": "0"},
    }


# ---------------------------------------------------------------------------------------------------------------------
# The type and its data


def test_type_is_registered_with_names_and_references():
    t = instruments.get("energy_meter")
    assert t is em.TYPE
    assert (t.code, t.name_vi, t.name_en) == ("energy_meter", "Công tơ điện xoay chiều 1 pha",
                                              "Single-phase electricity meter")
    assert "ĐLVN 39:2004" in t.references and "IEC 62053-21:2003" in t.references


def test_data_tables_carry_source_and_status():
    data = rules.data("energy_meter")
    tables = [data["accuracy_classes"], data["power_factors"], data["error_rounding"],
              data["no_load_voltage_tolerance"], data["test_plan"]]
    for section in ("error_limits", "starting", "no_load"):
        tables += [data[section]["electronic"], data[section]["induction"]]
    for table in tables:
        assert table["source"]
        assert table["status"] in rules.STATUSES
    assert data["error_limits"]["electronic"]["status"] == "unconfirmed"  # DOMAIN.md §4: values UNCONFIRMED
    assert data["starting"]["electronic"]["status"] == "confirmed"
    assert data["starting"]["induction"]["status"] == "unconfirmed"


# ---------------------------------------------------------------------------------------------------------------------
# The four ways of computing the error


def test_pulse_method_worked_example():
    """C = 1600 imp/kWh and N = 16 pulses give E = 16/1600 kWh = 10 Wh; against 10.05 Wh, e = −0.4975… %."""
    assert em.pulse_energy_wh(Decimal("16"), Decimal("1600")) == Decimal("10")
    p = only_point(point("5", pulses="16", reference_energy_wh="10.05"))
    assert p["method"] == "pulses"
    assert p["meter_energy_wh"] == Decimal("10")
    assert p["error_pct"] == Decimal("-0.4975124378109452736318407960199005")
    assert p["error_pct_rounded"] == Decimal("-0.50")
    assert p["limit_pct"] == Decimal("1.0")
    assert p["passed"] is True
    assert (p["pulses"], p["reference_energy_wh"]) == (Decimal("16"), Decimal("10.05"))


def test_energy_method_worked_example():
    """E_meter = 10 Wh, E_ref = 10.05 Wh: e = (10 − 10.05)/10.05 × 100 = −0.4975… %."""
    p = only_point(point("0.5", meter_energy_wh="10", reference_energy_wh="10.05"))
    assert p["method"] == "energy"
    assert p["error_pct"] == Decimal("-0.4975124378109452736318407960199005")
    assert (p["meter_energy_wh"], p["reference_energy_wh"]) == (Decimal("10"), Decimal("10.05"))
    assert em.energy_error_pct(Decimal("10"), Decimal("10.05")) == p["error_pct"]


def test_time_method_worked_example():
    """N = 10, C = 1600 imp/kWh, P = 1100 W: t_exp = 10·3.6×10⁶/(1600·1100) = 20.4545… s; measured 20.5 s gives
    e = (20.4545… − 20.5)/20.5 × 100 = −0.2217… %."""
    assert em.expected_time_s(Decimal("10"), Decimal("1600"), Decimal("1100")) == Decimal(
        "20.45454545454545454545454545454545")
    p = only_point(point("5", power_w="1100", pulses="10", time_s="20.5"))
    assert p["method"] == "time"
    assert p["expected_time_s"] == Decimal("20.45454545454545454545454545454545")
    assert p["error_pct"] == Decimal("-0.2217294900221729490022172949002217")
    assert p["error_pct_rounded"] == Decimal("-0.22")
    assert (p["power_w"], p["pulses"], p["time_s"]) == (Decimal("1100"), Decimal("10"), Decimal("20.5"))
    assert em.time_error_pct(Decimal("10"), Decimal("1600"), Decimal("1100"), Decimal("20.5")) == p["error_pct"]


def test_time_method_exact_time_gives_zero_error():
    """N = 10, C = 1600, P = 1000 W: t_exp = 22.5 s exactly."""
    assert only_point(point("5", power_w="1000", pulses="10", time_s="22.5"))["error_pct"] == 0


def test_error_pct_method_is_taken_as_given():
    p = only_point(point("5", error_pct="-0.73"))
    assert p["method"] == "error_pct"
    assert p["error_pct"] == Decimal("-0.73")
    assert p["passed"] is True


def test_error_pct_rounded_is_half_up_to_a_hundredth():
    assert only_point(point(error_pct="0.125"))["error_pct_rounded"] == Decimal("0.13")
    assert only_point(point(error_pct="-0.125"))["error_pct_rounded"] == Decimal("-0.13")


def test_verdict_uses_the_exact_error_not_the_rounded_one():
    p = only_point(point(error_pct="1.004"))
    assert p["error_pct_rounded"] == Decimal("1.00")
    assert p["passed"] is False


# ---------------------------------------------------------------------------------------------------------------------
# Limits and band edges


@pytest.mark.parametrize("current_a, pf, limit_1, limit_2", [
    ("0.25", "1", "1.5", "2.5"),      # 0.05 Ib, lower edge included
    ("0.4999", "1", "1.5", "2.5"),    # just below 0.1 Ib
    ("0.5", "1", "1.0", "2.0"),       # exactly 0.1 Ib
    ("5", "1", "1.0", "2.0"),
    ("20", "1", "1.0", "2.0"),        # Imax included
    ("0.5", "0.5L", "1.5", "2.5"),    # 0.1 Ib at PF 0.5 inductive
    ("0.9999", "0.5L", "1.5", "2.5"),
    ("1", "0.5L", "1.0", "2.0"),      # exactly 0.2 Ib
    ("20", "0.8C", "1.0", "2.0"),
    ("0.5", "0.8C", "1.5", "2.5"),
])
@pytest.mark.parametrize("kind", ["electronic", "induction"])
def test_limits_by_band(current_a, pf, limit_1, limit_2, kind):
    assert only_point(point(current_a, pf), {**SPEC, "kind": kind})["limit_pct"] == Decimal(limit_1)
    assert only_point(point(current_a, pf), {**SPEC2, "kind": kind})["limit_pct"] == Decimal(limit_2)


def test_band_label_is_reported():
    assert only_point(point("0.25"))["band"] == "0.05 Ib ≤ I < 0.1 Ib"
    assert only_point(point("20"))["band"] == "0.1 Ib ≤ I ≤ Imax"
    assert only_point(point("0.5", "0.5L"))["band"] == "0.1 Ib ≤ I < 0.2 Ib"


@pytest.mark.parametrize("error, passed", [("1.0", True), ("-1.0", True), ("1.0000000001", False),
                                           ("-1.0000000001", False)])
def test_error_exactly_at_the_limit_passes_and_a_hair_above_fails(error, passed):
    assert only_point(point("5", error_pct=error))["passed"] is passed


def test_energy_error_exactly_at_the_limit_passes():
    """10.1 Wh against 10 Wh is exactly +1 %."""
    assert only_point(point("5", meter_energy_wh="10.1", reference_energy_wh="10"))["passed"] is True
    p = only_point(point("5", meter_energy_wh="10.1000001", reference_energy_wh="10"))
    assert p["passed"] is False and p["error_pct"] == Decimal("1.000001")


def test_pulse_error_exactly_at_the_limit_passes():
    """C = 1000 imp/kWh: 101 pulses are 101 Wh, +1 % against 100 Wh; 102 pulses are +2 %."""
    spec = {**SPEC, "constant_imp_per_kwh": "1000"}
    p = only_point(point("5", pulses="101", reference_energy_wh="100"), spec)
    assert (p["error_pct"], p["passed"]) == (Decimal("1"), True)
    assert only_point(point("5", pulses="102", reference_energy_wh="100"), spec)["passed"] is False


def test_time_error_exactly_at_the_limit_passes():
    """C = 3600 imp/kWh, P = 1000 W, N = 101: t_exp = 101 s; measured 100 s is +1 %, 99.99 s is over."""
    spec = {**SPEC, "constant_imp_per_kwh": "3600"}
    p = only_point(point("5", power_w="1000", pulses="101", time_s="100"), spec)
    assert (p["expected_time_s"], p["error_pct"], p["passed"]) == (Decimal("101"), Decimal("1"), True)
    assert only_point(point("5", power_w="1000", pulses="101", time_s="99.99"), spec)["passed"] is False


def test_class_2_meter_passes_where_class_1_fails():
    assert only_point(point("5", error_pct="1.5"))["passed"] is False
    assert only_point(point("5", error_pct="1.5"), SPEC2)["passed"] is True
    assert only_point(point("0.25", error_pct="-2.5"), SPEC2)["passed"] is True


def test_limit_pct_function():
    assert em.limit_pct("1", "1", Decimal("0.5"), Decimal("5"), Decimal("20")) == Decimal("1.0")
    assert em.limit_pct("2", "0.8c", Decimal("0.5"), Decimal("5"), Decimal("20"), "induction") == Decimal("2.5")


# ---------------------------------------------------------------------------------------------------------------------
# Currents outside the range


@pytest.mark.parametrize("current_a", ["0.2", "20.01", "0", "-5"])
def test_current_outside_the_range_is_an_error_naming_the_point(current_a):
    points = [point("5"), point("5"), point(current_a)]
    with pytest.raises(ReadingsError) as exc:
        evaluate(points)
    assert str(exc.value) == (f"accuracy[2].current_a: {current_a} A is outside 0.05 Ib … Imax (0.25 … 20 A)")
    assert exc.value.field == "accuracy[2].current_a"


def test_power_factor_below_a_tenth_of_ib_is_an_error():
    with pytest.raises(ReadingsError, match=r"^accuracy\[0\]\.current_a: 0\.4 A is outside 0\.1 Ib … Imax "
                                            r"\(0\.5 … 20 A\) at PF 0\.5L$"):
        evaluate([point("0.4", "0.5L")])
    with pytest.raises(ReadingsError, match=r"at PF 0\.8C$"):
        evaluate([point("0.25", "0.8C")])


# ---------------------------------------------------------------------------------------------------------------------
# How a point gives its error


@pytest.mark.parametrize("measured, got", [
    ({}, "none of them"),
    ({"error_pct": "0.1", "pulses": "16"}, "error_pct, pulses"),
    ({"pulses": "16"}, "pulses"),
    ({"meter_energy_wh": "10"}, "meter_energy_wh"),
    ({"power_w": "1100", "pulses": "10"}, "pulses, power_w"),
    ({"power_w": "1100", "pulses": "10", "time_s": "20", "reference_energy_wh": "1"},
     "reference_energy_wh, pulses, power_w, time_s"),
    ({"error_pct": "", "pulses": " "}, "none of them"),
])
def test_ambiguous_or_incomplete_point_is_an_error(measured, got):
    p = {"current_a": "5", "pf": "1", **measured}
    with pytest.raises(ReadingsError) as exc:
        evaluate([point(), p])
    assert str(exc.value) == (
        "accuracy[1]: give error_pct, or meter_energy_wh and reference_energy_wh, or pulses and "
        f"reference_energy_wh, or power_w, pulses and time_s (got {got})")


@pytest.mark.parametrize("p, message", [
    ({"pf": "1", "error_pct": "0"}, "accuracy[0].current_a: missing"),
    ({"current_a": "abc", "pf": "1", "error_pct": "0"}, "accuracy[0].current_a: not a number ('abc')"),
    ({"current_a": "5", "error_pct": "0"}, "accuracy[0].pf: missing"),
    ({"current_a": "5", "pf": "0.5", "error_pct": "0"}, "accuracy[0].pf: must be one of 1, 0.5L, 0.8C (got '0.5')"),
    ({"current_a": "5", "pf": True, "error_pct": "0"}, "accuracy[0].pf: must be one of 1, 0.5L, 0.8C (got True)"),
    ({"current_a": "5", "pf": "1", "error_pct": "x"}, "accuracy[0].error_pct: not a number ('x')"),
    ({"current_a": "5", "pf": "1", "error_pct": "NaN"}, "accuracy[0].error_pct: not a finite number ('NaN')"),
    ({"current_a": "5", "pf": "1", "pulses": "-1", "reference_energy_wh": "1"},
     "accuracy[0].pulses: must not be negative ('-1')"),
    ({"current_a": "5", "pf": "1", "pulses": "1.5", "reference_energy_wh": "1"},
     "accuracy[0].pulses: must be a whole number ('1.5')"),
    ({"current_a": "5", "pf": "1", "pulses": "16", "reference_energy_wh": "0"},
     "accuracy[0].reference_energy_wh: must be greater than zero ('0')"),
    ({"current_a": "5", "pf": "1", "meter_energy_wh": "-1", "reference_energy_wh": "1"},
     "accuracy[0].meter_energy_wh: must not be negative ('-1')"),
    ({"current_a": "5", "pf": "1", "power_w": "0", "pulses": "1", "time_s": "1"},
     "accuracy[0].power_w: must be greater than zero ('0')"),
    ({"current_a": "5", "pf": "1", "power_w": "1", "pulses": "0", "time_s": "1"},
     "accuracy[0].pulses: must be greater than zero ('0')"),
    ({"current_a": "5", "pf": "1", "power_w": "1", "pulses": "1", "time_s": "-2"},
     "accuracy[0].time_s: must be greater than zero ('-2')"),
    ({"current_a": "1e999999999", "pf": "1", "error_pct": "0"}, "accuracy[0].current_a: out of range ('1e999999999')"),
    ({"current_a": "5", "pf": "1", "meter_energy_wh": "1e20", "reference_energy_wh": "1e-20"},
     "accuracy[0]: the readings give an error out of range"),
    ({"current_a": "5", "pf": "1", "error_pct": "0", "position": [1]},
     "accuracy[0].position: must be a text or a whole number (got [1])"),
    ("5", "accuracy[0]: must be an object, got str"),
])
def test_bad_point_is_an_error_naming_the_field(p, message):
    with pytest.raises(ReadingsError) as exc:
        evaluate([p])
    assert str(exc.value) == message


def test_zero_pulses_is_a_reading_of_minus_100_percent():
    p = only_point(point("5", pulses="0", reference_energy_wh="10"))
    assert (p["error_pct"], p["passed"]) == (Decimal("-100"), False)


def test_position_and_lower_case_power_factor_are_accepted_and_echoed():
    p = only_point({"current_a": "5", "pf": "0.5l", "error_pct": "0.1", "position": " 3 ", "note": "ignored"})
    assert (p["position"], p["pf"]) == ("3", "0.5L")
    assert "note" not in p
    assert only_point({**point(), "position": 2})["position"] == 2


@pytest.mark.parametrize("readings, message", [
    (None, "readings: must be an object, got NoneType"),
    ([], "readings: must be an object, got list"),
    ({}, "accuracy: missing"),
    ({"accuracy": []}, "accuracy: needs at least 1 item"),
    ({"accuracy": {"current_a": "5"}}, "accuracy: must be a list, got dict"),
    ({"accuracy": [point()], "creep": {}}, "creep: unknown test; known: accuracy, starting, no_load"),
])
def test_bad_readings_are_errors(readings, message):
    with pytest.raises(ReadingsError) as exc:
        em.TYPE.evaluate(SPEC, readings)
    assert str(exc.value) == message


def test_points_keep_their_order_and_the_verdict_needs_every_point():
    result = evaluate([point("0.25", error_pct="1.4"), point("5", error_pct="1.1"), point("20", error_pct="0")])
    accuracy = result.test("accuracy")
    assert [p["current_a"] for p in accuracy.points] == [Decimal("0.25"), Decimal("5"), Decimal("20")]
    assert [p["passed"] for p in accuracy.points] == [True, False, True]
    assert accuracy.passed is False and result.passed is False


# ---------------------------------------------------------------------------------------------------------------------
# Starting and no-load tests


def test_starting_current_by_class_and_kind():
    assert em.starting_current_a("1", Decimal("5")) == Decimal("0.02")
    assert em.starting_current_a("2", Decimal("5")) == Decimal("0.025")
    assert em.starting_current_a("2", Decimal("5"), "induction") == Decimal("0.025")


@pytest.mark.parametrize("started", [True, False])
def test_starting_test_passes_when_the_meter_starts(started):
    result = evaluate([point()], starting={"current_a": "0.02", "started": started})
    test = result.test("starting")
    assert test.passed is started and result.passed is started
    assert test.points[0] == {"current_a": Decimal("0.02"), "starting_current_a": Decimal("0.020"),
                              "started": started, "passed": started}


def test_starting_below_the_starting_current_is_accepted():
    assert evaluate([point()], starting={"current_a": "0.015", "started": True}).passed is True


def test_starting_above_the_starting_current_is_an_error():
    with pytest.raises(ReadingsError) as exc:
        evaluate([point()], starting={"current_a": "0.021", "started": True})
    assert str(exc.value) == ("starting.current_a: 0.021 A is above the starting current 0.02 A (0.004 Ib, class 1): "
                              "the test was not done at the starting current")
    # class 2 allows 0.005 Ib = 0.025 A
    assert evaluate([point()], SPEC2, starting={"current_a": "0.025", "started": True}).passed is True


@pytest.mark.parametrize("starting, message", [
    ({"current_a": "0.02"}, "starting.started: missing"),
    ({"current_a": "0.02", "started": "yes"}, "starting.started: must be true or false (got 'yes')"),
    ({"started": True}, "starting.current_a: missing"),
    ({"current_a": "0", "started": True}, "starting.current_a: must be greater than zero ('0')"),
    ([1], "starting: must be an object, got list"),
])
def test_bad_starting_readings(starting, message):
    with pytest.raises(ReadingsError) as exc:
        evaluate([point()], starting=starting)
    assert str(exc.value) == message


@pytest.mark.parametrize("pulses, passed", [("0", True), ("1", True), ("2", False)])
def test_no_load_test_allows_at_most_one_pulse(pulses, passed):
    result = evaluate([point()], no_load={"voltage_v": "253", "pulses": pulses})
    test = result.test("no_load")
    assert test.passed is passed and result.passed is passed
    assert test.points[0]["test_voltage_v"] == Decimal("253")
    assert test.points[0]["max_pulses"] == 1


@pytest.mark.parametrize("voltage_v", ["250.47", "255.53", "253.9"])
def test_no_load_voltage_within_one_percent_of_115_percent_un(voltage_v):
    assert evaluate([point()], no_load={"voltage_v": voltage_v, "pulses": "0"}).passed is True


@pytest.mark.parametrize("voltage_v", ["250.46", "255.54", "220"])
def test_no_load_at_the_wrong_voltage_is_an_error(voltage_v):
    with pytest.raises(ReadingsError) as exc:
        evaluate([point()], no_load={"voltage_v": voltage_v, "pulses": "0"})
    assert str(exc.value) == (f"no_load.voltage_v: {voltage_v} V is not 115 % Un (253 V ± 1 %, "
                              "250.47 … 255.53 V)")


@pytest.mark.parametrize("no_load, message", [
    ({"voltage_v": "253"}, "no_load.pulses: missing"),
    ({"voltage_v": "253", "pulses": "0.5"}, "no_load.pulses: must be a whole number ('0.5')"),
    ({"pulses": "0"}, "no_load.voltage_v: missing"),
    ("253", "no_load: must be an object, got str"),
])
def test_bad_no_load_readings(no_load, message):
    with pytest.raises(ReadingsError) as exc:
        evaluate([point()], no_load=no_load)
    assert str(exc.value) == message


def test_no_load_voltage_function():
    assert em.no_load_voltage_v(Decimal("230")) == Decimal("264.5")


# ---------------------------------------------------------------------------------------------------------------------
# Spec


def test_validate_spec_normalises_and_fills_the_kind():
    assert em.TYPE.validate_spec({"accuracy_class": 2, "un_v": 220, "ib_a": " 10 ", "imax_a": "4E+1",
                                  "constant_imp_per_kwh": 1600.0}) == {
        "accuracy_class": "2", "un_v": "220", "ib_a": "10", "imax_a": "40", "constant_imp_per_kwh": "1600.0",
        "kind": "electronic"}
    assert em.TYPE.validate_spec({**SPEC, "kind": "induction"})["kind"] == "induction"
    assert em.TYPE.validate_spec({**SPEC, "kind": ""})["kind"] == "electronic"


@pytest.mark.parametrize("change, message", [
    ({"accuracy_class": "0.5"}, "accuracy_class: must be one of 1, 2 (got '0.5')"),
    ({"accuracy_class": None}, "accuracy_class: missing"),
    ({"kind": "static"}, "kind: must be one of electronic, induction (got 'static')"),
    ({"un_v": "abc"}, "un_v: not a number ('abc')"),
    ({"un_v": "0"}, "un_v: must be greater than zero ('0')"),
    ({"ib_a": "-5"}, "ib_a: must be greater than zero ('-5')"),
    ({"ib_a": None}, "ib_a: missing"),
    ({"imax_a": "5"}, "imax_a: must be greater than ib_a (5 A ≤ 5 A)"),
    ({"imax_a": "4.5"}, "imax_a: must be greater than ib_a (4.5 A ≤ 5 A)"),
    ({"constant_imp_per_kwh": "0"}, "constant_imp_per_kwh: must be greater than zero ('0')"),
    ({"constant_imp_per_kwh": [1]}, "constant_imp_per_kwh: not a number ([1])"),
    ({"ib_a": "1e-999999999"}, "ib_a: out of range ('1e-999999999')"),
    ({"serial": "X1"}, "serial: unknown field; known: accuracy_class, un_v, ib_a, imax_a, constant_imp_per_kwh, kind"),
    ({"zz": 1, "model": 2}, "model: unknown field (also zz); known: accuracy_class, un_v, ib_a, imax_a, "
                            "constant_imp_per_kwh, kind"),
])
def test_bad_spec_is_an_error_naming_the_field(change, message):
    with pytest.raises(SpecError) as exc:
        em.TYPE.validate_spec({**SPEC, **change})
    assert str(exc.value) == message
    with pytest.raises(SpecError):
        em.TYPE.evaluate({**SPEC, **change}, {"accuracy": [point()]})


def test_spec_must_be_an_object():
    with pytest.raises(SpecError, match=r"^spec: must be an object, got list$"):
        em.TYPE.validate_spec([])


def test_missing_spec_field():
    spec = dict(SPEC)
    del spec["constant_imp_per_kwh"]
    with pytest.raises(SpecError, match=r"^constant_imp_per_kwh: missing$"):
        em.TYPE.validate_spec(spec)


# ---------------------------------------------------------------------------------------------------------------------
# Stage, result shape, intervals


def test_stage_is_checked_and_does_not_change_the_limits():
    initial = em.TYPE.evaluate(SPEC, full_readings())
    in_service = em.TYPE.evaluate(SPEC, full_readings(), stage="in_service")
    assert in_service.stage == "in_service"
    assert in_service.to_dict()["tests"] == initial.to_dict()["tests"]
    with pytest.raises(ReadingsError, match=r"^stage: "):
        em.TYPE.evaluate(SPEC, full_readings(), stage="periodic")
    with pytest.raises(ReadingsError, match=r"^stage: "):
        em.TYPE.test_plan(SPEC, stage="periodic")


def test_result_to_dict_is_json_with_strings_for_numbers():
    result = em.TYPE.evaluate(SPEC, full_readings())
    assert result.passed is True
    data = json.loads(json.dumps(result.to_dict()))
    assert data["type"] == "energy_meter"
    assert [t["name"] for t in data["tests"]] == ["accuracy", "starting", "no_load"]
    first = data["tests"][0]["points"][0]
    assert first == {"position": 1, "current_a": "0.25", "pf": "1", "method": "error_pct", "error_pct": "1.2",
                     "error_pct_rounded": "1.20", "limit_pct": "1.5", "band": "0.05 Ib ≤ I < 0.1 Ib", "passed": True}
    assert data["spec"]["kind"] == "electronic"
    assert data["starting_current_a"] == "0.020" and data["no_load_voltage_v"] == "253.00"
    assert data["verdict_basis"].startswith("error_pct (exact)")
    assert {r["table"] for r in data["rules"]} >= {"energy_meter.error_limits.electronic"}
    assert "float" not in json.dumps(data)


def test_interval_by_kind_and_date():
    assert em.TYPE.interval_criteria(em.TYPE.validate_spec(SPEC)) == {"kind": "electronic"}
    assert em.TYPE.interval_months(SPEC, on=dt.date(2025, 1, 1)) == 60
    induction = {**SPEC, "kind": "induction"}
    assert em.TYPE.interval_months(induction, on=dt.date(2024, 10, 14)) == 60
    assert em.TYPE.interval_months(induction, on=dt.date(2024, 10, 15)) is None


# ---------------------------------------------------------------------------------------------------------------------
# Test plan


def test_test_plan_points_limits_and_pulses():
    plan = em.TYPE.test_plan(SPEC)
    assert [t["test"] for t in plan] == ["accuracy", "starting", "no_load"]
    accuracy = plan[0]
    assert [(p["current_a"], p["pf"], p["current_ib"], p["limit_pct"]) for p in accuracy["points"]] == [
        ("0.25", "1", "0.05 Ib", "1.5"), ("0.5", "1", "0.1 Ib", "1.0"), ("5", "1", "Ib", "1.0"),
        ("20", "1", "Imax", "1.0"), ("1", "0.5L", "0.2 Ib", "1.0"), ("5", "0.5L", "Ib", "1.0"),
        ("5", "0.8C", "Ib", "1.0")]
    at_ib = accuracy["points"][2]
    # P = 220 V · 5 A = 1100 W; 5 pulses at 1600 imp/kWh last 5·3.6e6/(1600·1100) = 10.23 s ≥ 10 s; 4 would not
    assert (at_ib["test_power_w"], at_ib["suggested_pulses"], at_ib["expected_time_s"],
            at_ib["expected_energy_wh"]) == ("1100", 5, "10.23", "3.125")
    assert accuracy["points"][5]["test_power_w"] == "550"   # cos φ = 0.5
    assert accuracy["points"][0]["suggested_pulses"] == 1   # 55 W: one pulse already takes 40.91 s
    assert {m["method"]: m["fields"] for m in accuracy["methods"]} == {
        "error_pct": ["error_pct"], "energy": ["meter_energy_wh", "reference_energy_wh"],
        "pulses": ["pulses", "reference_energy_wh"], "time": ["power_w", "pulses", "time_s"]}
    assert plan[1]["points"][0]["current_a"] == "0.02"
    no_load = plan[2]["points"][0]
    # IEC 62053-21 8.3.2, class 1: 600×10⁶/(1600 · 220 · 20) = 85.23 min, rounded up
    assert (no_load["voltage_v"], no_load["voltage_min_v"], no_load["voltage_max_v"], no_load["max_pulses"],
            no_load["min_duration_min"]) == ("253", "250.47", "255.53", 1, "85.3")
    json.dumps(plan)


def test_test_plan_for_induction_meter():
    plan = em.TYPE.test_plan({**SPEC2, "kind": "induction"})
    assert plan[1]["points"][0]["current_a"] == "0.025"
    assert plan[2]["title_vi"] == "Kiểm tra tự quay"
    assert "min_duration_min" not in plan[2]["points"][0]


@pytest.mark.parametrize("spec", [SPEC, SPEC2, {**SPEC, "ib_a": "10", "imax_a": "40", "kind": "induction"}])
def test_test_plan_points_can_be_evaluated(spec):
    plan = em.TYPE.test_plan(spec)
    points = [{**p, "error_pct": "0"} for p in plan[0]["points"]]  # guidance keys are ignored
    starting = {"current_a": plan[1]["points"][0]["current_a"], "started": True}
    no_load = {"voltage_v": plan[2]["points"][0]["voltage_v"], "pulses": "0"}
    assert em.TYPE.evaluate(spec, {"accuracy": points, "starting": starting, "no_load": no_load}).passed is True


# ---------------------------------------------------------------------------------------------------------------------
# Batches


def test_evaluate_many_matches_evaluate_and_names_the_meter():
    good, bad = full_readings(), full_readings()
    bad["accuracy"][1]["pf"] = "2"
    results = em.evaluate_many(SPEC, [good, good])
    assert [r.to_dict() for r in results] == [em.TYPE.evaluate(SPEC, good).to_dict()] * 2
    with pytest.raises(ReadingsError) as exc:
        em.evaluate_many(SPEC, [good, bad])
    assert str(exc.value) == "meters[1].accuracy[1].pf: must be one of 1, 0.5L, 0.8C (got '2')"
    with pytest.raises(ReadingsError, match=r"^meters\[0\]: must be an object, got int$"):
        em.evaluate_many(SPEC, [1])
    with pytest.raises(ReadingsError, match=r"^meters: must be a list"):
        em.evaluate_many(SPEC, "x")
    assert em.evaluate_many(SPEC, []) == []


def test_evaluate_many_five_thousand_meters_is_fast():
    """A utility lot: 5 000 meters with 7 points each, starting and no-load, well under 2 s."""
    batch = [full_readings() for _ in range(5000)]
    start = time.perf_counter()
    results = em.evaluate_many(SPEC, batch)
    elapsed = time.perf_counter() - start
    assert len(results) == 5000 and all(r.passed for r in results)
    assert elapsed < 2.0


# ---------------------------------------------------------------------------------------------------------------------
# Properties

CLASSES = st.sampled_from(["1", "2"])
KINDS = st.sampled_from(["electronic", "induction"])
PFS = st.sampled_from(["1", "0.5L", "0.8C"])
# Currents in mA over 0.05 Ib … Imax for Ib = 5 A, Imax = 20 A
MILLIAMPS = st.integers(min_value=250, max_value=20000)


@settings(max_examples=200, deadline=None)
@given(CLASSES, KINDS, PFS, MILLIAMPS, MILLIAMPS)
def test_limits_never_increase_with_current(accuracy_class, kind, pf, ma1, ma2):
    floor_ma = 250 if pf == "1" else 500  # 0.05 Ib at PF 1, else 0.1 Ib
    low, high = sorted(Decimal(max(ma, floor_ma)) / 1000 for ma in (ma1, ma2))

    def limit(current):
        return em.limit_pct(accuracy_class, pf, current, Decimal("5"), Decimal("20"), kind)

    assert limit(high) <= limit(low)


def reading_points():
    current = st.integers(min_value=250, max_value=20000).map(lambda ma: str(Decimal(ma) / 1000))
    error = st.decimals(min_value=-3, max_value=3, places=3).map(str)
    return st.lists(st.fixed_dictionaries({"current_a": current, "pf": st.just("1"), "error_pct": error}),
                    min_size=1, max_size=8)


@settings(max_examples=200, deadline=None)
@given(CLASSES, reading_points(), st.randoms(use_true_random=False))
def test_permuting_points_never_changes_the_verdict(accuracy_class, points, rnd):
    spec = {**SPEC, "accuracy_class": accuracy_class}
    shuffled = list(points)
    rnd.shuffle(shuffled)
    assert evaluate(points, spec).passed == evaluate(shuffled, spec).passed


@settings(max_examples=100, deadline=None)
@given(CLASSES, KINDS, reading_points())
def test_to_dict_survives_json_and_evaluate_is_deterministic(accuracy_class, kind, points):
    spec = {**SPEC, "accuracy_class": accuracy_class, "kind": kind}
    first = evaluate(points, spec).to_dict()
    assert json.loads(json.dumps(first)) == first
    assert evaluate(points, spec).to_dict() == first


@settings(max_examples=100, deadline=None)
@given(st.fixed_dictionaries({
    "accuracy_class": CLASSES, "un_v": st.decimals(min_value="0.001", max_value="1000", places=3).map(str),
    "ib_a": st.decimals(min_value="0.01", max_value="100", places=2).map(str),
    "imax_a": st.decimals(min_value="100.01", max_value="1000", places=2).map(str),
    "constant_imp_per_kwh": st.integers(min_value=1, max_value=100000).map(str), "kind": KINDS}))
def test_validate_spec_is_idempotent_and_plans_are_json(spec):
    clean = em.TYPE.validate_spec(spec)
    assert em.TYPE.validate_spec(clean) == clean
    plan = em.TYPE.test_plan(clean)
    assert json.loads(json.dumps(plan)) == plan


JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=8),
                         st.sampled_from(["1", "0.5L", "0.8C", "5", "0.25", "20", "-1", "1e999999", "NaN", "inf",
                                          "0", "16", "10.05", "1e-30", "253", ""]))
JSON = st.recursive(JSON_SCALARS, lambda children: st.lists(children, max_size=4) | st.dictionaries(
    st.text(max_size=8), children, max_size=4), max_leaves=12)
FIELDS = st.sampled_from(["current_a", "pf", "error_pct", "meter_energy_wh", "reference_energy_wh", "pulses",
                          "power_w", "time_s", "position", "started", "voltage_v"])
JUNK_POINT = st.one_of(JSON, st.dictionaries(FIELDS, JSON_SCALARS, max_size=6))
JUNK_READINGS = st.one_of(JSON, st.fixed_dictionaries({}, optional={
    "accuracy": st.one_of(JSON, st.lists(JUNK_POINT, max_size=4)),
    "starting": st.one_of(JSON, st.dictionaries(FIELDS, JSON_SCALARS, max_size=3)),
    "no_load": st.one_of(JSON, st.dictionaries(FIELDS, JSON_SCALARS, max_size=3)),
}))
JUNK_SPEC = st.one_of(JSON, st.just(SPEC), st.dictionaries(
    st.sampled_from(list(SPEC) + ["kind", "other"]), JSON_SCALARS, max_size=7))


@settings(max_examples=200, deadline=None)
@given(JUNK_SPEC, JUNK_READINGS, st.sampled_from(["initial", "in_service", "x", None]))
def test_junk_never_raises_anything_but_spec_or_readings_errors(spec, readings, stage):
    try:
        result = em.TYPE.evaluate(spec, readings, stage)
    except (SpecError, ReadingsError) as exc:
        assert str(exc).split(":", 1)[0]
    else:
        json.dumps(result.to_dict())
    try:
        json.dumps(em.TYPE.test_plan(spec))
    except SpecError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.lists(JUNK_POINT, min_size=1, max_size=3))
def test_junk_points_with_a_valid_spec_only_raise_readings_errors(points):
    try:
        json.dumps(evaluate(points).to_dict())
    except ReadingsError:
        pass
