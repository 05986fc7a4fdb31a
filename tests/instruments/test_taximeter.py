"""Taximeter: OIML R 21:2007 / Directive 2014/32/EU Annex IX (MI-007) / ĐLVN 01:2019.

Limits of the taximeter alone (MI-007 point 17): time ±0.1 % (at least 0.2 s), distance ±0.2 % (at least 4 m), fare
±0.1 % (at least one least-significant digit). Installed in a vehicle: ±2 % for distance (Vietnamese provincial
report, secondary). The effective limit is max(relative × reference, floor); an error equal to it passes.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import instruments
from instruments import ReadingsError, SpecError, rules
from instruments.taximeter import TYPE, MODES, limit, mpe, permissible_error, relative_error_pct

D = Decimal


def alone(distance, time=None, **extra):
    """Readings of a taximeter tested alone; ``distance``/``time`` are (reference, indicated) pairs."""
    readings = {"mode": "alone",
                "distance": [{"reference_m": r, "indicated_m": i} for r, i in distance],
                "time": [{"reference_s": r, "indicated_s": i} for r, i in (time or [("60", "60")])]}
    readings.update(extra)
    return readings


def installed(distance, time=None, **extra):
    readings = {"mode": "installed", "distance": [{"reference_m": r, "indicated_m": i} for r, i in distance]}
    if time is not None:
        readings["time"] = [{"reference_s": r, "indicated_s": i} for r, i in time]
    readings.update(extra)
    return readings


def point(result, test, index=0):
    return result.test(test).points[index]


def message(excinfo) -> str:
    return str(excinfo.value)


# --- contract ---------------------------------------------------------------------------------------------------


def test_registered_under_its_code():
    assert instruments.get("taximeter") is TYPE
    assert TYPE.code == "taximeter"
    assert TYPE.name_vi == "Taximet"
    assert TYPE.name_en == "Taximeter"
    assert any("R 21" in ref for ref in TYPE.references)
    assert any("ĐLVN 01" in ref for ref in TYPE.references)


# --- worked examples (MI-007 point 17; DOMAIN.md §5) ----------------------------------------------------------------


def test_alone_1000_m_indicated_1003_m_is_within_the_4_m_floor():
    """MI-007 point 17: 0.2 % of 1 000 m is 2 m, below the 4 m minimum, so 3 m (0.3 %) passes."""
    result = TYPE.evaluate({}, alone([("1000", "1003")]))
    p = point(result, "distance")
    assert p["error_m"] == D("3")
    assert p["error_pct"] == D("0.3")
    assert p["limit_pct"] == D("0.2")
    assert p["limit_m"] == D("4")
    assert p["passed"] is True
    assert result.passed is True


def test_alone_5000_m_indicated_5011_m_fails():
    """MI-007 point 17: 0.2 % of 5 000 m is 10 m (above the 4 m floor); 11 m fails."""
    result = TYPE.evaluate({}, alone([("5000", "5011")]))
    p = point(result, "distance")
    assert p["limit_m"] == D("10")
    assert p["error_m"] == D("11")
    assert p["error_pct"] == D("0.22")
    assert p["passed"] is False
    assert result.test("distance").passed is False
    assert result.passed is False


@pytest.mark.parametrize("indicated, passed", [
    ("5010", True), ("4990", True), ("5010.001", False), ("4989.999", False),
])
def test_alone_distance_exactly_at_0_2_percent_passes(indicated, passed):
    """An error equal to the limit passes (DESIGN §6); a hair above fails."""
    assert point(TYPE.evaluate({}, alone([("5000", indicated)])), "distance")["passed"] is passed


@pytest.mark.parametrize("indicated, passed", [
    ("1004", True), ("996", True), ("1004.001", False), ("995.999", False),
])
def test_alone_distance_exactly_at_the_4_m_floor_passes(indicated, passed):
    assert point(TYPE.evaluate({}, alone([("1000", indicated)])), "distance")["passed"] is passed


def test_alone_distance_floor_and_relative_part_meet_at_2000_m():
    """0.2 % × 2 000 m = 4 m: both parts give the same limit."""
    assert mpe("distance", D("2000")) == D("4")
    assert mpe("distance", D("1999")) == D("4")
    assert mpe("distance", D("2001")) == D("4.002")


@pytest.mark.parametrize("indicated, passed", [
    ("60.2", True), ("59.8", True), ("60.21", False), ("59.79", False),
])
def test_alone_time_60_s_uses_the_0_2_s_floor(indicated, passed):
    """MI-007 point 17: 0.1 % of 60 s is 0.06 s, below the 0.2 s minimum."""
    result = TYPE.evaluate({}, alone([("1000", "1000")], [("60", indicated)]))
    p = point(result, "time")
    assert p["limit_s"] == D("0.2")
    assert p["limit_pct"] == D("0.1")
    assert p["passed"] is passed
    assert result.passed is passed


def test_alone_time_reports_error_in_seconds_and_percent():
    p = point(TYPE.evaluate({}, alone([("1000", "1000")], [("60", "60.2")])), "time")
    assert p["reference_s"] == D("60")
    assert p["indicated_s"] == D("60.2")
    assert p["error_s"] == D("0.2")
    assert abs(p["error_pct"] - D("0.3333333333")) < D("1E-9")


@pytest.mark.parametrize("indicated, passed", [("3603.6", True), ("3596.4", True), ("3603.61", False)])
def test_alone_time_3600_s_relative_part_governs(indicated, passed):
    result = TYPE.evaluate({}, alone([("1000", "1000")], [("3600", indicated)]))
    assert point(result, "time")["limit_s"] == D("3.6")
    assert point(result, "time")["passed"] is passed


# --- installed in the vehicle --------------------------------------------------------------------------------------


@pytest.mark.parametrize("indicated, passed", [
    ("1020", True), ("980", True), ("1020.01", False), ("979.99", False), ("1015", True),
])
def test_installed_distance_limit_is_2_percent(indicated, passed):
    """±2 % for the taximeter in the vehicle (Vietnamese provincial report [S])."""
    result = TYPE.evaluate({}, installed([("1000", indicated)]))
    p = point(result, "distance")
    assert p["limit_pct"] == D("2")
    assert p["limit_m"] == D("20")
    assert p["passed"] is passed
    assert result.passed is passed


def test_installed_is_the_default_mode_and_time_is_optional():
    readings = {"distance": [{"reference_m": "1000", "indicated_m": "1010"}]}
    result = TYPE.evaluate({}, readings)
    assert result.extra["mode"] == "installed"
    assert [t.name for t in result.tests] == ["distance"]
    assert result.passed is True
    # the same error fails the taximeter-alone limit
    with pytest.raises(ReadingsError):
        TYPE.evaluate({}, {**readings, "mode": "alone"})
    assert TYPE.evaluate({}, {**readings, "mode": "alone", "time": [{"reference_s": "60", "indicated_s": "60"}]}
                         ).passed is False


@pytest.mark.parametrize("mode", [None, ""])
def test_an_empty_mode_means_installed(mode):
    result = TYPE.evaluate({}, {"mode": mode, "distance": [{"reference_m": "1000", "indicated_m": "1010"}]})
    assert result.extra["mode"] == "installed"


def test_installed_time_uses_the_taximeter_alone_limit():
    """No separate installed time limit was found: MI-007's ±0.1 %, at least 0.2 s, applies (unconfirmed)."""
    result = TYPE.evaluate({}, installed([("1000", "1000")], [("600", "600.6"), ("60", "60.21")]))
    assert [p["limit_s"] for p in result.test("time").points] == [D("0.6"), D("0.2")]
    assert [p["passed"] for p in result.test("time").points] == [True, False]
    assert result.test("time").passed is False
    assert result.passed is False
    assert limit("time", "installed").status == "unconfirmed"


def test_passed_only_when_every_performed_test_passed():
    good = TYPE.evaluate({}, alone([("1000", "1001"), ("5000", "5005")], [("60", "60.1"), ("600", "600.5")]))
    assert good.passed is True
    bad_time = TYPE.evaluate({}, alone([("1000", "1001")], [("60", "60.1"), ("600", "600.7")]))
    assert bad_time.test("distance").passed is True
    assert bad_time.test("time").passed is False
    assert bad_time.passed is False


def test_points_keep_their_input_order():
    result = TYPE.evaluate({}, alone([("5000", "5000"), ("1000", "1000"), ("2000", "2000")]))
    assert [p["reference_m"] for p in result.test("distance").points] == [D("5000"), D("1000"), D("2000")]


def test_in_service_uses_the_same_limits():
    readings = alone([("5000", "5010")], [("60", "60.2")])
    initial = TYPE.evaluate({}, readings, stage="initial")
    in_service = TYPE.evaluate({}, readings, stage="in_service")
    assert in_service.stage == "in_service"
    assert initial.to_dict()["tests"] == in_service.to_dict()["tests"]


def test_pulses_are_echoed_with_the_distance_point():
    readings = alone([("1000", "1000")])
    readings["distance"][0]["pulses"] = "1600"
    assert point(TYPE.evaluate({"k_imp_per_km": "1600"}, readings), "distance")["pulses"] == D("1600")


# --- fare ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("indicated, passed", [("250250", True), ("249750", True), ("250251", False)])
def test_fare_relative_limit_0_1_percent(indicated, passed):
    """MI-007 point 17: ±0.1 % of 250 000 VND = 250 VND (above one digit of 1 VND)."""
    result = TYPE.evaluate({}, installed([("1000", "1000")], fare=[{"indicated": indicated, "computed": "250000"}]))
    p = point(result, "fare")
    assert p["limit"] == D("250")
    assert p["limit_pct"] == D("0.1")
    assert p["passed"] is passed
    assert result.passed is passed


@pytest.mark.parametrize("indicated, passed", [("26000", True), ("24000", True), ("26001", False)])
def test_fare_floor_is_one_least_significant_digit(indicated, passed):
    """A fare shown in steps of 1 000 VND: 0.1 % of 25 000 VND is 25 VND, below one digit (1 000 VND)."""
    readings = installed([("1000", "1000")], fare=[{"indicated": indicated, "computed": "25000"}],
                         fare_resolution="1000")
    result = TYPE.evaluate({}, readings)
    assert point(result, "fare")["limit"] == D("1000")
    assert point(result, "fare")["error"] == D(indicated) - D("25000")
    assert result.test("fare").to_dict()["resolution"] == "1000"
    assert point(result, "fare")["passed"] is passed


def test_fare_default_resolution_is_1():
    result = TYPE.evaluate({}, alone([("1000", "1000")], fare=[{"indicated": "501", "computed": "500"},
                                                              {"indicated": "502", "computed": "500"}]))
    assert [p["limit"] for p in result.test("fare").points] == [D("1"), D("1")]
    assert [p["passed"] for p in result.test("fare").points] == [True, False]
    assert result.test("fare").extra["resolution"] == D("1")
    assert result.passed is False


def test_fare_equal_passes():
    result = TYPE.evaluate({}, installed([("1000", "1000")], fare=[{"indicated": "17000", "computed": "17000"}]))
    assert point(result, "fare")["error"] == 0
    assert point(result, "fare")["error_pct"] == 0
    assert result.passed is True


# --- formulas ------------------------------------------------------------------------------------------------------


def test_relative_error_formula():
    assert relative_error_pct(D("1003"), D("1000")) == D("0.3")
    assert relative_error_pct(D("990"), D("1000")) == D("-1")


def test_permissible_error_without_floor():
    assert permissible_error(D("10"), D("2")) == D("0.2")
    assert permissible_error(D("10"), D("2"), None) == D("0.2")


def test_limit_rejects_unknown_mode_and_quantity():
    with pytest.raises(ReadingsError, match=r"^mode: must be one of installed, alone \(got 'road'\)$"):
        limit("distance", "road")
    with pytest.raises(ReadingsError, match=r"^quantity: "):
        limit("speed")


def test_mpe_of_each_quantity():
    assert mpe("time", D("60")) == D("0.2")
    assert mpe("fare", D("500")) == D("1")
    assert mpe("fare", D("500"), fare_resolution=D("100")) == D("100")
    assert mpe("distance", D("100"), mode="installed") == D("2")


def test_data_table_has_a_source_and_status_for_every_limit():
    data = rules.data("taximeter")
    for mode in MODES:
        for quantity in ("distance", "time", "fare"):
            row = limit(quantity, mode)
            assert row.source
            assert row.status in rules.STATUSES
            assert row.relative_pct > 0
    assert limit("distance", "alone").status == "confirmed"
    assert limit("distance", "installed").status == "secondary"
    assert "ĐLVN 01" in limit("distance", "installed").source
    for mode in MODES:
        for entry in data["test_plan"][mode].values():
            assert entry["status"] in rules.STATUSES and entry["source"]


def test_results_carry_the_legal_basis_of_each_limit():
    result = TYPE.evaluate({}, installed([("1000", "1000")])).to_dict()
    basis = result["tests"][0]["basis"]
    assert basis["limit_pct"] == "2"
    assert basis["status"] == "secondary"
    assert basis["floor"] is None


# --- spec ----------------------------------------------------------------------------------------------------------


def test_validate_spec_normalises():
    assert TYPE.validate_spec({}) == {}
    assert TYPE.validate_spec({"k_imp_per_km": 1600}) == {"k_imp_per_km": "1600"}
    assert TYPE.validate_spec({"k_imp_per_km": "1.6E+3"}) == {"k_imp_per_km": "1600"}
    assert TYPE.validate_spec({"k_imp_per_km": "1234.50"}) == {"k_imp_per_km": "1234.50"}
    assert TYPE.validate_spec({"vehicle_plate": "  30a -  123.45 "}) == {"vehicle_plate": "30A - 123.45"}
    assert TYPE.validate_spec({"k_imp_per_km": "", "vehicle_plate": "  "}) == {}
    assert TYPE.validate_spec({"k_imp_per_km": None, "vehicle_plate": None}) == {}
    assert TYPE.validate_spec({"vehicle_plate": "x" * 20}) == {"vehicle_plate": "X" * 20}


def test_validate_spec_is_idempotent_and_does_not_change_its_input():
    spec = {"k_imp_per_km": " 1600 ", "vehicle_plate": "51a-123.45"}
    clean = TYPE.validate_spec(spec)
    assert TYPE.validate_spec(clean) == clean
    assert spec == {"k_imp_per_km": " 1600 ", "vehicle_plate": "51a-123.45"}


@pytest.mark.parametrize("spec, expected", [
    ({"k_imp_per_km": "0"}, "k_imp_per_km: must be greater than zero ('0')"),
    ({"k_imp_per_km": "-5"}, "k_imp_per_km: must be greater than zero ('-5')"),
    ({"k_imp_per_km": "abc"}, "k_imp_per_km: not a number ('abc')"),
    ({"k_imp_per_km": True}, "k_imp_per_km: not a number (True)"),
    ({"k_imp_per_km": [1]}, "k_imp_per_km: not a number ([1])"),
    ({"k_imp_per_km": "1E+20"}, "k_imp_per_km: out of range ('1E+20')"),
    ({"vehicle_plate": "x" * 21}, "vehicle_plate: longer than 20 characters ('" + "x" * 21 + "')"),
    ({"vehicle_plate": 1234}, "vehicle_plate: must be text, got int"),
    ({"tariff": "1"}, "tariff: unknown field (allowed: k_imp_per_km, vehicle_plate)"),
    ({"b": 1, "a": 2}, "a, b: unknown fields (allowed: k_imp_per_km, vehicle_plate)"),
    ({1: "x"}, "1: unknown field (allowed: k_imp_per_km, vehicle_plate)"),
])
def test_spec_errors(spec, expected):
    with pytest.raises(SpecError) as excinfo:
        TYPE.validate_spec(spec)
    assert message(excinfo) == expected


@pytest.mark.parametrize("spec", [None, [], "k=1600", 5])
def test_spec_must_be_an_object(spec):
    with pytest.raises(SpecError) as excinfo:
        TYPE.evaluate(spec, installed([("1000", "1000")]))
    assert excinfo.value.field == "spec"


def test_evaluate_returns_the_clean_spec():
    result = TYPE.evaluate({"vehicle_plate": "51a-123.45"}, installed([("1000", "1000")]))
    assert result.spec == {"vehicle_plate": "51A-123.45"}
    assert result.to_dict()["spec"] == {"vehicle_plate": "51A-123.45"}


# --- readings errors -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("readings, expected", [
    ({"mode": "road", "distance": []}, "mode: must be one of installed, alone (got 'road')"),
    ({"mode": 3}, "mode: must be one of installed, alone (got 3)"),
    ({}, "distance: missing"),
    ({"distance": None}, "distance: missing"),
    ({"distance": []}, "distance: needs at least 1 item"),
    ({"distance": "1000"}, "distance: must be a list, got str"),
    ({"distance": {"reference_m": "1000"}}, "distance: must be a list, got dict"),
    ({"distance": ["1000"]}, "distance[0]: must be an object, got str"),
    ({"distance": [{"reference_m": "0", "indicated_m": "1"}]},
     "distance[0].reference_m: must be greater than zero ('0')"),
    ({"distance": [{"reference_m": "1000", "indicated_m": "1000"}, {"reference_m": "-1000", "indicated_m": "1"}]},
     "distance[1].reference_m: must be greater than zero ('-1000')"),
    ({"distance": [{"indicated_m": "1"}]}, "distance[0].reference_m: missing"),
    ({"distance": [{"reference_m": "1000"}]}, "distance[0].indicated_m: missing"),
    ({"distance": [{"reference_m": "1000", "indicated_m": "abc"}]}, "distance[0].indicated_m: not a number ('abc')"),
    ({"distance": [{"reference_m": "1000", "indicated_m": "-1"}]},
     "distance[0].indicated_m: must not be negative ('-1')"),
    ({"distance": [{"reference_m": "NaN", "indicated_m": "1"}]},
     "distance[0].reference_m: not a finite number ('NaN')"),
    ({"distance": [{"reference_m": "1E+13", "indicated_m": "1"}]}, "distance[0].reference_m: out of range ('1E+13')"),
    ({"distance": [{"reference_m": "1E-13", "indicated_m": "1"}]}, "distance[0].reference_m: out of range ('1E-13')"),
    ({"distance": [{"reference_m": "1000", "indicated_m": "1000", "pulses": "-1"}]},
     "distance[0].pulses: must not be negative ('-1')"),
    ({"distance": [{"reference_m": "1000", "indicated": "1000"}]},
     "distance[0].indicated: unknown field (allowed: reference_m, indicated_m, pulses)"),
    ({"distance": [{"reference_m": "1000", "indicated_m": "1000"}], "fares": []},
     "fares: unknown field (allowed: mode, distance, time, fare, fare_resolution)"),
    ({"mode": "alone", "distance": [{"reference_m": "1000", "indicated_m": "1000"}]},
     "time: missing (required when mode is alone)"),
    ({"distance": [{"reference_m": "1000", "indicated_m": "1000"}], "time": []}, "time: needs at least 1 item"),
    ({"distance": [{"reference_m": "1000", "indicated_m": "1000"}], "time": [{"reference_s": "0", "indicated_s": "1"}]},
     "time[0].reference_s: must be greater than zero ('0')"),
    ({"distance": [{"reference_m": "1000", "indicated_m": "1000"}],
      "time": [{"reference_s": "-60", "indicated_s": "60"}]}, "time[0].reference_s: must be greater than zero ('-60')"),
    ({"distance": [{"reference_m": "1000", "indicated_m": "1000"}], "time": [{"reference_s": "60"}]},
     "time[0].indicated_s: missing"),
    ({"distance": [{"reference_m": "1000", "indicated_m": "1000"}],
      "time": [{"reference_s": "60", "indicated_s": "60", "pulses": "1"}]},
     "time[0].pulses: unknown field (allowed: reference_s, indicated_s)"),
    ({"distance": [{"reference_m": "1000", "indicated_m": "1000"}], "fare": [{"indicated": "1", "computed": "0"}]},
     "fare[0].computed: must be greater than zero ('0')"),
    ({"distance": [{"reference_m": "1000", "indicated_m": "1000"}], "fare": [{"indicated": "-1", "computed": "1"}]},
     "fare[0].indicated: must not be negative ('-1')"),
    ({"distance": [{"reference_m": "1000", "indicated_m": "1000"}], "fare": [{"computed": "1"}]},
     "fare[0].indicated: missing"),
    ({"distance": [{"reference_m": "1000", "indicated_m": "1000"}], "fare": []}, "fare: needs at least 1 item"),
    ({"distance": [{"reference_m": "1000", "indicated_m": "1000"}], "fare_resolution": "0"},
     "fare_resolution: must be greater than zero ('0')"),
    ({"distance": [{"reference_m": "1000", "indicated_m": "1000"}], "fare_resolution": "x"},
     "fare_resolution: not a number ('x')"),
])
def test_readings_errors(readings, expected):
    with pytest.raises(ReadingsError) as excinfo:
        TYPE.evaluate({}, readings)
    assert message(excinfo) == expected


@pytest.mark.parametrize("readings", [None, [], "distance", 0])
def test_readings_must_be_an_object(readings):
    with pytest.raises(ReadingsError) as excinfo:
        TYPE.evaluate({}, readings)
    assert excinfo.value.field == "readings"


def test_reference_zero_names_the_field():
    with pytest.raises(ReadingsError) as excinfo:
        TYPE.evaluate({}, alone([("1000", "1000")], [("60", "60"), ("0", "1")]))
    assert excinfo.value.field == "time[1].reference_s"


def test_unknown_stage():
    with pytest.raises(ReadingsError) as excinfo:
        TYPE.evaluate({}, installed([("1000", "1000")]), stage="periodic")
    assert excinfo.value.field == "stage"


# --- test plan -----------------------------------------------------------------------------------------------------


def test_plan_installed_by_default():
    plan = TYPE.test_plan({})
    assert [t["test"] for t in plan] == ["distance", "time", "fare"]
    assert [t["required"] for t in plan] == [True, False, False]
    assert all(t["mode"] == "installed" for t in plan)
    assert plan[0]["points"] == [{"reference_m": "1000", "indicated_m": None},
                                 {"reference_m": "2000", "indicated_m": None}]
    assert plan[1]["points"] == [{"reference_s": "600", "indicated_s": None}]
    assert plan[2]["points"] == [{"indicated": None, "computed": None}] * 2
    assert plan[2]["fare_resolution"] == "1"
    assert all(t["title_vi"] and t["title_en"] and t["source"] and t["status"] == "unconfirmed" for t in plan)
    assert json.loads(json.dumps(plan)) == plan


def test_plan_alone_with_pulses_from_k():
    plan = TYPE.test_plan({"k_imp_per_km": "1234.5"}, stage="in_service", mode="alone")
    assert [t["required"] for t in plan] == [True, True, False]
    assert plan[0]["points"] == [
        {"reference_m": "1000", "indicated_m": None, "pulses": "1234.5"},
        {"reference_m": "5000", "indicated_m": None, "pulses": "6172.5"},
        {"reference_m": "10000", "indicated_m": None, "pulses": "12345"},
    ]
    assert [p["reference_s"] for p in plan[1]["points"]] == ["60", "600", "3600"]
    assert json.loads(json.dumps(plan)) == plan


def test_plan_points_are_valid_readings_once_filled_in():
    for mode in MODES:
        plan = TYPE.test_plan({"k_imp_per_km": "1600"}, mode=mode)
        readings = {"mode": mode}
        for test in plan:
            points = []
            for p in test["points"]:
                filled = dict(p)
                for key, value in p.items():
                    if value is None:
                        filled[key] = "1000"
                points.append(filled)
            readings[test["test"]] = points
        result = TYPE.evaluate({"k_imp_per_km": "1600"}, readings)
        assert [t.name for t in result.tests] == ["distance", "time", "fare"]


def test_plan_errors():
    with pytest.raises(ReadingsError, match=r"^mode: "):
        TYPE.test_plan({}, mode="road")
    with pytest.raises(ReadingsError, match=r"^stage: "):
        TYPE.test_plan({}, stage="x")
    with pytest.raises(SpecError, match=r"^k_imp_per_km: "):
        TYPE.test_plan({"k_imp_per_km": "0"})


# --- verification interval (TT 03/2024/TT-BKHCN) ------------------------------------------------------------------


def test_interval_12_months_before_15_october_2024():
    assert TYPE.interval_months({}, on=dt.date(2024, 10, 14)) == 12


def test_interval_18_months_from_15_october_2024():
    assert TYPE.interval_months({}, on=dt.date(2024, 10, 15)) == 18
    assert TYPE.interval_months({"vehicle_plate": "51A-123.45"}, on=dt.date(2030, 1, 1)) == 18


def test_interval_rule_names_tt_03_2024():
    rule = TYPE.interval_rule({}, on=dt.date(2024, 10, 15))
    assert "03/2024" in rule.source
    assert rule.status == "confirmed"
    assert TYPE.interval_criteria(TYPE.validate_spec({"k_imp_per_km": "1600"})) == {}


# --- JSON shape ----------------------------------------------------------------------------------------------------


def test_to_dict_shape():
    readings = alone([("1000", "1003")], [("60", "60.2")], fare=[{"indicated": "12000", "computed": "12000"}])
    data = TYPE.evaluate({"k_imp_per_km": "1600"}, readings).to_dict()
    assert data["type"] == "taximeter"
    assert data["stage"] == "initial"
    assert data["passed"] is True
    assert data["mode"] == "alone"
    assert [t["name"] for t in data["tests"]] == ["distance", "time", "fare"]
    assert data["tests"][0]["points"][0] == {
        "reference_m": "1000", "indicated_m": "1003", "error_m": "3", "error_pct": "0.3", "limit_pct": "0.2",
        "limit_m": "4", "passed": True,
    }
    assert data["tests"][1]["points"][0]["limit_s"] == "0.2"
    assert data["tests"][2]["points"][0]["limit"] == "12.0"
    assert json.loads(json.dumps(data)) == data


# --- properties ----------------------------------------------------------------------------------------------------

positive = st.decimals(min_value=D("0.001"), max_value=D("100000"), places=3, allow_nan=False, allow_infinity=False)
offset = st.decimals(min_value=D("-0.05"), max_value=D("0.05"), places=4, allow_nan=False, allow_infinity=False)


@st.composite
def measured(draw, reference_key, indicated_key):
    reference = draw(positive)
    indicated = max(D("0"), reference * (1 + draw(offset)))
    return {reference_key: str(reference), indicated_key: str(indicated)}


@st.composite
def valid_readings(draw):
    mode = draw(st.sampled_from(MODES))
    readings = {"mode": mode,
                "distance": draw(st.lists(measured("reference_m", "indicated_m"), min_size=1, max_size=6))}
    if mode == "alone" or draw(st.booleans()):
        readings["time"] = draw(st.lists(measured("reference_s", "indicated_s"), min_size=1, max_size=6))
    if draw(st.booleans()):
        readings["fare"] = draw(st.lists(measured("computed", "indicated"), min_size=1, max_size=4))
        readings["fare_resolution"] = draw(st.sampled_from(["1", "100", "1000"]))
    return readings


@settings(max_examples=150, deadline=None)
@given(valid_readings(), st.sampled_from(instruments.STAGES))
def test_to_dict_survives_a_json_round_trip(readings, stage):
    data = TYPE.evaluate({"k_imp_per_km": "1600"}, readings, stage=stage).to_dict()
    assert json.loads(json.dumps(data)) == data


@settings(max_examples=100, deadline=None)
@given(valid_readings())
def test_evaluate_is_deterministic(readings):
    assert TYPE.evaluate({}, readings).to_dict() == TYPE.evaluate({}, json.loads(json.dumps(readings))).to_dict()


@settings(max_examples=150, deadline=None)
@given(valid_readings(), st.randoms(use_true_random=False))
def test_permuting_points_never_changes_the_verdict(readings, random):
    shuffled = {key: (random.sample(value, len(value)) if isinstance(value, list) else value)
                for key, value in readings.items()}
    original = TYPE.evaluate({}, readings)
    permuted = TYPE.evaluate({}, shuffled)
    assert permuted.passed == original.passed
    for test in original.tests:
        assert permuted.test(test.name).passed == test.passed


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(("distance", "time", "fare")), st.sampled_from(MODES), positive, positive,
       st.sampled_from([None, D("1"), D("1000")]))
def test_effective_limit_never_decreases_as_the_reference_grows(quantity, mode, a, b, resolution):
    low, high = sorted((a, b))
    assert mpe(quantity, low, mode, resolution) <= mpe(quantity, high, mode, resolution)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(MODES), positive, offset)
def test_verdict_agrees_with_the_absolute_limit(mode, reference, relative):
    indicated = max(D("0"), reference * (1 + relative))
    readings = {"mode": mode, "distance": [{"reference_m": str(reference), "indicated_m": str(indicated)}],
                "time": [{"reference_s": "60", "indicated_s": "60"}]}
    result = TYPE.evaluate({}, readings)
    p = point(result, "distance")
    assert p["passed"] == (abs(indicated - reference) <= mpe("distance", reference, mode))
    assert p["limit_m"] >= (limit("distance", mode).floor or 0)


scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | st.sampled_from(
    ["1000", "0", "-1", "60.2", "1E+30", "1E-30", "NaN", "alone", "installed", " "])
junk = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.sampled_from(["mode", "distance", "time", "fare", "fare_resolution", "reference_m", "indicated_m",
                     "reference_s", "indicated_s", "indicated", "computed", "pulses", "k_imp_per_km",
                     "vehicle_plate", "x"]) | st.text(max_size=4), inner, max_size=5), max_leaves=20)


@st.composite
def shaped_junk(draw):
    """Readings with the right keys but junk values, to get past the first checks."""
    def junk_point(keys):
        return st.dictionaries(st.sampled_from(keys), scalars, max_size=3) | junk
    readings = {"mode": draw(st.sampled_from([None, "alone", "installed"]) | scalars)}
    readings["distance"] = draw(st.lists(junk_point(["reference_m", "indicated_m", "pulses"]), max_size=3) | junk)
    if draw(st.booleans()):
        readings["time"] = draw(st.lists(junk_point(["reference_s", "indicated_s"]), max_size=3) | junk)
    if draw(st.booleans()):
        readings["fare"] = draw(st.lists(junk_point(["indicated", "computed"]), max_size=3) | junk)
    if draw(st.booleans()):
        readings["fare_resolution"] = draw(scalars)
    return readings


@settings(max_examples=200, deadline=None)
@given(junk | st.dictionaries(st.sampled_from(["k_imp_per_km", "vehicle_plate"]), scalars), junk | shaped_junk(),
       st.sampled_from(instruments.STAGES) | scalars)
def test_junk_raises_only_spec_or_readings_errors(spec, readings, stage):
    try:
        result = TYPE.evaluate(spec, readings, stage=stage)
    except (SpecError, ReadingsError):
        return
    json.dumps(result.to_dict())


@settings(max_examples=100, deadline=None)
@given(junk, st.sampled_from(instruments.STAGES) | scalars, st.sampled_from(MODES) | scalars)
def test_junk_plan_raises_only_spec_or_readings_errors(spec, stage, mode):
    try:
        plan = TYPE.test_plan(spec, stage=stage, mode=mode)
    except (SpecError, ReadingsError):
        return
    json.dumps(plan)
