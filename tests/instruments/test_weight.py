"""Weights of classes E2 … M3 (OIML R 111-1:2004), calibrated by comparison: instruments/weight.py."""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import instruments
from instruments import ReadingsError, SpecError, rules
from instruments import weight
from instruments._decimal import CONTEXT
from instruments.weight import (
    TYPE, aba_difference, abba_difference, air_density, buoyancy_factor, buoyancy_uncertainty_mg, conformity,
    default_density_u, mpe_mg, nominal_in_g, round_up,
)

D = Decimal

# EA-4/02 M:2013, Supplement 2, example S2: a 10 kg class M1 weight against a 10 kg class F2 reference.
EA_SPEC = {"nominal": "10", "unit": "kg", "accuracy_class": "M1"}
EA_READINGS = {
    "reference": {"conventional_mass_g": "10000.005", "expanded_uncertainty_mg": "45", "k": "2", "drift_mg": "15"},
    # ABBA ABBA ABBA; EA publishes only the differences +0.010, +0.030, +0.020 g, the readings are built to give them.
    "cycles": [
        {"ref1": "0.000", "test1": "0.010", "test2": "0.010", "ref2": "0.000"},
        {"ref1": "0.000", "test1": "0.030", "test2": "0.030", "ref2": "0.000"},
        {"ref1": "0.000", "test1": "0.020", "test2": "0.020", "ref2": "0.000"},
    ],
    # Pooled standard deviation 25 mg from an earlier evaluation (it includes the comparator's resolution);
    # eccentricity and magnetic effects ±10 mg rectangular.
    "balance": {"d_mg": "0", "pooled_sd_mg": "25", "eccentricity_limit_mg": "10"},
    # No buoyancy correction; limits ±1 × 10⁻⁶ of the nominal value = ±10 mg rectangular.
    "buoyancy_limit_mg": "10",
}

M1_1KG = {"nominal": "1", "unit": "kg", "accuracy_class": "M1"}
M1_1KG_READINGS = {
    "reference": {"conventional_mass_g": "1000.002", "expanded_uncertainty_mg": "5", "k": "2"},
    "cycles": [
        {"ref1": "0.000", "test1": "0.011", "test2": "0.012", "ref2": "0.003"},
        {"ref1": "0.000", "test1": "0.013", "test2": "0.012", "ref2": "0.001"},
    ],
    "balance": {"d_mg": "1"},
}

# A 50 g class M1 weight (δm = 3.0 mg) whose only uncertainty is the reference's: U = 2 × (U_ref / 2) exactly.
BOUNDARY_SPEC = {"nominal": "50", "unit": "g", "accuracy_class": "M1"}


def boundary_readings(difference_g: str = "0.0020", reference_u_mg: str = "1.0") -> dict:
    return {
        "reference": {"conventional_mass_g": "50.0000", "expanded_uncertainty_mg": reference_u_mg, "k": "2"},
        "cycles": [{"ref1": "0", "test1": difference_g, "test2": difference_g, "ref2": "0"}],
        "balance": {"d_mg": "0", "pooled_sd_mg": "0"},
        "buoyancy_u_mg": "0",
    }


def with_changes(base: dict, **changes) -> dict:
    """A deep copy of ``base`` with dotted keys replaced (value None removes the key)."""
    result = copy.deepcopy(base)
    for dotted, value in changes.items():
        target = result
        *path, last = dotted.split("__")
        for key in path:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if isinstance(target, list):
            last = int(last)
        if value is None:
            del target[last]
        else:
            target[last] = value
    return result


# ----------------------------------------------------------------------------------------------- published example

def test_evaluate_reproduces_ea_4_02_s2_example():
    """EA-4/02 M:2013, S2 (calibration of a weight of nominal value 10 kg): mX = 10 000.025 g, U = 59 mg.

    Budget as published: reference 22.5 mg, drift 8.66 mg, observed difference 14.4 mg (25 mg/√3), eccentricity and
    magnetism 5.77 mg, buoyancy 5.77 mg; u(mX) = √856.25 mg = 29.26 mg (29.3 mg), U = 2 × 29.26 = 58.5 → 59 mg.
    The 29.1 mg / 58 mg of a GUM Workbench re-computation (metrodata.de) come from a 14.2 mg weighing term instead
    of 25/√3 = 14.4 mg; the published inputs give 29.3 mg.
    """
    result = TYPE.evaluate(EA_SPEC, EA_READINGS)
    extra = result.extra
    assert result.passed is True
    assert extra["conventional_mass_g"] == D("10000.025")
    assert extra["error_mg"] == D("25")
    assert extra["combined_uncertainty_mg"] ** 2 == pytest.approx(D("856.25"), abs=D("1e-25"))
    assert extra["combined_uncertainty_mg"].quantize(D("0.1")) == D("29.3")
    assert extra["expanded_uncertainty_unrounded_mg"].quantize(D("0.01")) == D("58.52")
    assert extra["expanded_uncertainty_mg"] == D("59")
    assert extra["k"] == D("2")
    assert extra["mpe_mg"] == D("500")
    assert extra["uncertainty_ok"] is True and extra["error_ok"] is True
    assert extra["buoyancy_correction_mg"] == 0
    assert "air_density_kg_m3" not in extra
    budget = {row["symbol"]: row["contribution_mg"] for row in extra["budget"]}
    assert budget == {"u_w": D("14.4"), "u(m_cr)": D("22.5"), "u_inst(m_cr)": D("8.66"), "u_b": D("5.77"),
                      "u_d": D("0"), "u_E": D("5.77")}
    test = result.test("cycles")
    assert [p["delta_i_g"] for p in test.points] == [D("0.010"), D("0.030"), D("0.020")]
    assert test.extra["mean_delta_i_g"] == D("0.020")
    assert test.extra["std_dev_kind"] == "pooled"


def test_evaluate_ea_example_with_aba_cycles_gives_the_same_result():
    """The same differences observed as ABA cycles (R 111-1 C.4) give the same mass and uncertainty."""
    readings = dict(EA_READINGS, cycles=[{"ref1": "0.000", "test": value, "ref2": "0.000"}
                                         for value in ("0.010", "0.030", "0.020")])
    aba, abba = TYPE.evaluate(EA_SPEC, readings), TYPE.evaluate(EA_SPEC, EA_READINGS)
    assert aba.test("cycles").extra["scheme"] == "ABA"
    assert aba.extra == abba.extra


def test_evaluate_uses_sample_standard_deviation_without_pooled_value():
    """Without a pooled value uw = s(ΔI)/√n (R 111-1 C.6.1): s of 10, 30, 20 mg is 10 mg, uw = 10/√3 mg."""
    readings = with_changes(EA_READINGS, balance__pooled_sd_mg=None)
    result = TYPE.evaluate(EA_SPEC, readings)
    assert result.test("cycles").extra["std_dev_mg"] == D("10.000")
    assert result.test("cycles").extra["u_w_mg"].quantize(D("0.0001")) == D("5.7735")
    assert result.extra["combined_uncertainty_mg"] ** 2 == pytest.approx(D("506.25") + 75 + D("100") / 3 + D("200") / 3,
                                                                           abs=D("1e-25"))


# ----------------------------------------------------------------------------------------------- MPE table

DOMAIN_TABLE = """\
50000 250 800 2500 8000
20000 100 300 1000 3000
10000 50 160 500 1600
5000 25 80 250 800
2000 10 30 100 300
1000 5.0 16 50 160
500 2.5 8.0 25 80
200 1.0 3.0 10 30
100 0.5 1.6 5.0 16
50 0.30 1.0 3.0 10
20 0.25 0.8 2.5 8.0
10 0.20 0.6 2.0 6.0
5 0.16 0.5 1.6 5.0
2 0.12 0.4 1.2 4.0
1 0.10 0.3 1.0 3.0
0.5 0.08 0.25 0.8 2.5
0.2 0.06 0.20 0.6 2.0
0.1 0.05 0.16 0.5 1.6
0.05 0.04 0.12 0.4 -
0.02 0.03 0.10 0.3 -
0.01 0.025 0.08 0.25 -
0.005 0.020 0.06 0.20 -
0.002 0.020 0.06 0.20 -
0.001 0.020 0.06 0.20 -
"""


@pytest.mark.parametrize("line", DOMAIN_TABLE.splitlines())
def test_mpe_matches_domain_table_for_f1_f2_m1_m2(line):
    """OIML R 111-1 Table 1 as given in DOMAIN.md §3 (F1, F2, M1, M2 confirmed; '-' = no such weight)."""
    nominal, *values = line.split()
    for accuracy_class, value in zip(("F1", "F2", "M1", "M2"), values):
        if value == "-":
            with pytest.raises(SpecError, match="^accuracy_class: OIML R 111-1 Table 1 has no class M2 weight of"):
                mpe_mg(accuracy_class, D(nominal))
        else:
            assert mpe_mg(accuracy_class, D(nominal)) == D(value)


@pytest.mark.parametrize("accuracy_class, nominal_g, expected", [
    ("E1", "1000", "0.5"), ("E1", "0.001", "0.003"), ("E1", "50000", "25"),
    ("E2", "1000", "1.6"), ("E2", "50000", "80"), ("E2", "10000", "16"), ("E2", "100", "0.16"),
    ("E2", "1", "0.030"), ("E2", "0.1", "0.016"), ("E2", "0.001", "0.006"),
    ("F1", "50000", "250"), ("F1", "50", "0.30"), ("F1", "0.01", "0.025"), ("F1", "0.001", "0.020"),
    ("F2", "10000", "160"), ("F2", "500", "8.0"), ("F2", "5", "0.5"), ("F2", "0.001", "0.06"),
    ("M1", "10000", "500"), ("M1", "1000", "50"), ("M1", "0.2", "0.6"), ("M1", "0.001", "0.20"),
    ("M2", "50000", "8000"), ("M2", "2000", "300"), ("M2", "0.1", "1.6"),
    ("M3", "50000", "25000"), ("M3", "1000", "500"), ("M3", "20", "25"), ("M3", "1", "10"),
])
def test_mpe_spot_checks_every_class(accuracy_class, nominal_g, expected):
    """R 111-1 Table 1 spot checks; E1, E2, M3 are secondary (manufacturers' reproductions), see weight.json."""
    assert mpe_mg(accuracy_class, D(nominal_g)) == D(expected)


@pytest.mark.parametrize("accuracy_class, nominal_g, text", [
    ("M2", "0.05", "50 mg"), ("M3", "0.5", "500 mg"), ("M3", "0.001", "1 mg")])
def test_mpe_refuses_class_without_that_nominal(accuracy_class, nominal_g, text):
    with pytest.raises(SpecError) as error:
        mpe_mg(accuracy_class, D(nominal_g))
    assert str(error.value) == f"accuracy_class: OIML R 111-1 Table 1 has no class {accuracy_class} weight of {text}"


def test_mpe_table_statuses_are_declared_per_class():
    columns = rules.data("weight")["mpe_mg"]["columns"]
    assert {c: columns[c]["status"] for c in columns} == {
        "E1": "secondary", "E2": "secondary", "F1": "confirmed", "F2": "confirmed", "M1": "confirmed",
        "M2": "confirmed", "M3": "secondary"}


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["E1", "E2", "F1", "F2", "M1", "M2", "M3"]),
       st.sampled_from(sorted(weight._mpe_table())), st.sampled_from(sorted(weight._mpe_table())))
def test_mpe_never_decreases_with_nominal_within_a_class(accuracy_class, smaller, larger):
    smaller, larger = min(smaller, larger), max(smaller, larger)
    table = weight._mpe_table()
    if table[smaller][accuracy_class] is None or table[larger][accuracy_class] is None:
        return
    assert mpe_mg(accuracy_class, smaller) <= mpe_mg(accuracy_class, larger)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(weight._mpe_table())))
def test_mpe_never_decreases_from_better_to_worse_class(nominal_g):
    values = [v for v in (weight._mpe_table()[nominal_g][c] for c in ("E1", "E2", "F1", "F2", "M1", "M2", "M3"))
              if v is not None]
    assert values == sorted(values)


def test_mpe_table_missing_classes_are_only_at_the_small_end():
    """A class, once it has a weight, has weights of every larger nominal value (M2 from 100 mg, M3 from 1 g)."""
    table = weight._mpe_table()
    for accuracy_class in ("E1", "E2", "F1", "F2", "M1", "M2", "M3"):
        present = [table[n][accuracy_class] is not None for n in sorted(table)]
        assert present == sorted(present)
    assert min(n for n in table if table[n]["M2"] is not None) == D("0.1")
    assert min(n for n in table if table[n]["M3"] is not None) == D("1")


# ----------------------------------------------------------------------------------------------- formulas

def test_air_density_cipm_approximation_at_standard_conditions():
    """R 111-1 E.3 at 1013.25 hPa, 50 % rh, 20 °C: ρa ≈ 1.199 kg/m³ (the CIPM-2007 value is 1.1990 kg/m³)."""
    rho = air_density(D("1013.25"), D("50"), D("20"))
    assert rho.quantize(D("0.001")) == D("1.199")
    assert rho.quantize(D("0.00001")) == D("1.19929")


def test_air_density_dry_air_at_zero_humidity():
    """With hr = 0 the formula reduces to 0.34848 p / (273.15 + t)."""
    with localcontext(CONTEXT):
        assert air_density(D("1000"), D("0"), D("20")) == D("348.48") / D("293.15")


def test_abba_difference_cancels_linear_drift():
    """Balance drifting +0.001 g per reading; true difference 0.010 g (R 111-1 C.4)."""
    assert abba_difference(D("0.000"), D("0.011"), D("0.012"), D("0.003")) == D("0.010")


def test_aba_difference_cancels_linear_drift():
    assert aba_difference(D("0.000"), D("0.011"), D("0.002")) == D("0.010")


def test_buoyancy_factor_sign_and_size():
    """A cast-iron (7200 kg/m³) 1 kg weight in air of 1.1 kg/m³ against steel: about −1.39 mg."""
    assert buoyancy_factor(D("1.2"), D("7200"), D("8000")) == 0
    assert (D("1000000") * buoyancy_factor(D("1.1"), D("7200"), D("8000"))).quantize(D("0.001")) == D("-1.389")
    assert buoyancy_factor(D("1.3"), D("7200"), D("8000")) > 0


def test_buoyancy_uncertainty_is_zero_when_nothing_is_uncertain_and_densities_equal():
    assert buoyancy_uncertainty_mg(D("1000"), D("1.1"), D("0.01"), D("8000"), D("0"), D("8000"), D("0")) == 0


def test_buoyancy_uncertainty_first_order_terms():
    """R 111-1 C.6.3.1 air density term: mcr |ρr − ρt|/(ρr ρt) u(ρa) = 1e6 mg × 800/(57.6e6) × 0.01 = 0.1389 mg."""
    value = buoyancy_uncertainty_mg(D("1000"), D("1.2"), D("0.01"), D("7200"), D("0"), D("8000"), D("0"))
    assert value.quantize(D("0.0001")) == D("0.1389")
    value = buoyancy_uncertainty_mg(D("1000"), D("1.1"), D("0"), D("8000"), D("640"), D("8000"), D("0"))
    assert value.quantize(D("0.0001")) == D("1.0000")  # 1e6 mg × 0.1 × 640 / 8000²


@pytest.mark.parametrize("value, expected", [
    ("58.52", "59"), ("59", "59"), ("1.0", "1.0"), ("1.000001", "1.1"), ("0.0123", "0.013"), ("99.01", "100"),
    ("166.7", "170"), ("0.5", "0.50"), ("0", "0")])
def test_round_up_two_significant_digits(value, expected):
    """ILAC P14: U to at most two significant digits, here always rounded up."""
    assert round_up(D(value)) == D(expected)


@settings(max_examples=200, deadline=None)
@given(st.decimals(min_value=D("1e-6"), max_value=D("1e6"), allow_nan=False, allow_infinity=False, places=8))
def test_round_up_never_lowers_and_keeps_two_digits(value):
    if value <= 0:
        return
    rounded = round_up(value)
    assert rounded >= value
    assert len(rounded.normalize().as_tuple().digits) <= 2
    assert rounded <= value * D("1.1") + D("1e-12")


def test_conformity_boundaries_pass_on_equality():
    assert conformity(D("2.0"), D("1.0"), D("3.0")) == (True, True)
    assert conformity(D("-2.0"), D("1.0"), D("3.0")) == (True, True)
    assert conformity(D("2.0001"), D("1.0"), D("3.0")) == (True, False)
    assert conformity(D("0"), D("1.1"), D("3.0")) == (False, True)


def test_default_density_uncertainty_follows_class_spread():
    """R 111-1 10.1 rule (Table 5): E1 ≥ 100 g allows 7 934 … 8 067 kg/m³ → ±1.04e-6 on 1/ρ → u ≈ 38.5 → 39."""
    assert default_density_u("E1", D("1000")) == D("39")
    assert default_density_u("E2", D("1000")) == D("130")
    assert default_density_u("F1", D("1000")) == D("390")
    assert default_density_u("F2", D("1000")) == D("1300")
    assert default_density_u("M1", D("1000")) == D("3900")
    assert default_density_u("M1", D("1000"), D("7200")) == D("3200")
    # M2 and M3 are limited by real materials (aluminium 2 700 … platinum 21 400 kg/m³).
    assert default_density_u("M3", D("1000")) == default_density_u("M2", D("1000")) == D("9100")


@pytest.mark.parametrize("accuracy_class, low, high, tolerance", [
    ("E1", "7934", "8067", "1"), ("F1", "7390", "8730", "10"), ("M1", "4400", None, "100")])
def test_default_density_rule_reproduces_table_5_at_100_g_and_above(accuracy_class, low, high, tolerance):
    """The class rule gives Table 5 (≥ 100 g) for E1, F1, M1 within one unit of the last printed digit (recalled)."""
    data = rules.data("weight")["density"]["class_rule"]
    half = (mpe_mg(accuracy_class, D("1000")) * D(data["error_fraction_of_mpe"])
            / (D(data["air_density_deviation_rel"]) * D("1.2") * D("1000000")))
    rho_min = 1 / (1 / D("8000") + half)
    assert abs(rho_min - D(low)) <= D(tolerance)
    if high is not None:
        assert abs(1 / (1 / D("8000") - half) - D(high)) <= D(tolerance)


# ----------------------------------------------------------------------------------------------- spec

def test_validate_spec_fills_density_defaults_and_normalises():
    assert TYPE.validate_spec({"nominal": "1.0", "unit": "kg", "accuracy_class": "M1"}) == {
        "nominal": "1", "unit": "kg", "accuracy_class": "M1", "density_kg_m3": "8000", "density_u_kg_m3": "3900"}
    assert TYPE.validate_spec({"nominal": 500, "unit": "g", "accuracy_class": "F1", "density_kg_m3": "7950",
                               "density_u_kg_m3": "70"})["density_u_kg_m3"] == "70"
    assert TYPE.validate_spec({"nominal": "2", "unit": "mg", "accuracy_class": "E2"})["nominal"] == "2"


def test_validate_spec_is_idempotent():
    clean = TYPE.validate_spec({"nominal": "200", "unit": "mg", "accuracy_class": "F2", "density_kg_m3": "7950"})
    assert TYPE.validate_spec(clean) == clean


def test_nominal_in_g_accepts_every_unit():
    assert nominal_in_g(D("0.5"), "kg") == nominal_in_g(D("500"), "g") == nominal_in_g(D("500000"), "mg") == D("500")


@pytest.mark.parametrize("spec, message", [
    ({"nominal": "3", "unit": "g", "accuracy_class": "M1"},
     "nominal: 3 g is not a nominal value of OIML R 111-1 (1, 2 or 5 × 10ⁿ from 1 mg to 50 kg)"),
    ({"nominal": "100", "unit": "kg", "accuracy_class": "M1"},
     "nominal: 100 kg is not a nominal value of OIML R 111-1 (1, 2 or 5 × 10ⁿ from 1 mg to 50 kg)"),
    ({"nominal": "0.5", "unit": "mg", "accuracy_class": "F1"},
     "nominal: 0.5 mg is not a nominal value of OIML R 111-1 (1, 2 or 5 × 10ⁿ from 1 mg to 50 kg)"),
    ({"nominal": "1e15", "unit": "kg", "accuracy_class": "M1"},
     "nominal: 1E+15 kg is not a nominal value of OIML R 111-1 (1, 2 or 5 × 10ⁿ from 1 mg to 50 kg)"),
    ({"nominal": "1e999999", "unit": "kg", "accuracy_class": "M1"}, "nominal: out of range ('1e999999')"),
    ({"nominal": "abc", "unit": "g", "accuracy_class": "M1"}, "nominal: not a number ('abc')"),
    ({"nominal": "-1", "unit": "g", "accuracy_class": "M1"}, "nominal: must be greater than zero ('-1')"),
    ({"unit": "g", "accuracy_class": "M1"}, "nominal: missing"),
    ({"nominal": "1", "unit": "lb", "accuracy_class": "M1"}, "unit: must be one of mg, g, kg (got 'lb')"),
    ({"nominal": "1", "unit": "kg", "accuracy_class": "M4"},
     "accuracy_class: must be one of E2, F1, F2, M1, M2, M3 (got 'M4')"),
    ({"nominal": "1", "unit": "kg", "accuracy_class": "E1"},
     "accuracy_class: must be one of E2, F1, F2, M1, M2, M3 (got 'E1')"),
    ({"nominal": "1", "unit": "kg"}, "accuracy_class: missing"),
    ({"nominal": "50", "unit": "mg", "accuracy_class": "M2"},
     "accuracy_class: OIML R 111-1 Table 1 has no class M2 weight of 50 mg"),
    ({"nominal": "500", "unit": "mg", "accuracy_class": "M3"},
     "accuracy_class: OIML R 111-1 Table 1 has no class M3 weight of 500 mg"),
    ({"nominal": "1", "unit": "kg", "accuracy_class": "M1", "colour": "red"},
     "colour: unknown field (expected nominal, unit, accuracy_class, density_kg_m3, density_u_kg_m3)"),
    ({"nominal": "1", "unit": "kg", "accuracy_class": "M1", "density_kg_m3": "0"},
     "density_kg_m3: must be greater than zero ('0')"),
    ({"nominal": "1", "unit": "kg", "accuracy_class": "M1", "density_kg_m3": "80000"},
     "density_kg_m3: 80000 kg/m³ is outside 1000 … 25000 kg/m³"),
    ({"nominal": "1", "unit": "kg", "accuracy_class": "M1", "density_u_kg_m3": "-5"},
     "density_u_kg_m3: must not be negative ('-5')"),
])
def test_validate_spec_errors_name_the_field(spec, message):
    with pytest.raises(SpecError) as error:
        TYPE.validate_spec(spec)
    assert str(error.value) == message


def test_validate_spec_refuses_non_mapping():
    with pytest.raises(SpecError, match=r"^spec: must be an object, got list$"):
        TYPE.validate_spec([])


# ----------------------------------------------------------------------------------------------- conformity in evaluate

def test_evaluate_error_exactly_mpe_minus_u_and_u_exactly_third_pass():
    """M1 50 g: δm = 3.0 mg, U = 1.0 mg = δm/3, |mc − m0| = 2.0 mg = δm − U: both equalities pass (R 111-1 5.2, 5.3)."""
    result = TYPE.evaluate(BOUNDARY_SPEC, boundary_readings())
    assert result.passed is True
    assert result.extra["expanded_uncertainty_mg"] == D("1.0")
    assert result.extra["error_mg"] == D("2.0")
    assert result.extra["error_limit_mg"] == D("2.0")
    assert result.extra["uncertainty_ok"] is True and result.extra["error_ok"] is True
    assert result.test("cycles").passed is True


def test_evaluate_negative_error_at_the_limit_passes():
    assert TYPE.evaluate(BOUNDARY_SPEC, boundary_readings("-0.0020")).passed is True


def test_evaluate_error_a_hair_above_mpe_minus_u_fails():
    result = TYPE.evaluate(BOUNDARY_SPEC, boundary_readings("0.00201"))
    assert result.passed is False
    assert result.extra["error_ok"] is False and result.extra["uncertainty_ok"] is True
    assert result.test("cycles").passed is False


def test_evaluate_uncertainty_a_hair_above_third_of_mpe_fails():
    """U = 1.0001 mg is reported as 1.1 mg (rounded up), above δm/3 = 1.0 mg; the verdict uses the reported U."""
    result = TYPE.evaluate(BOUNDARY_SPEC, boundary_readings("0", reference_u_mg="1.0001"))
    assert result.extra["expanded_uncertainty_mg"] == D("1.1")
    assert result.extra["uncertainty_ok"] is False and result.extra["error_ok"] is True
    assert result.passed is False


def test_evaluate_same_verdict_in_service():
    result = TYPE.evaluate(BOUNDARY_SPEC, boundary_readings(), stage="in_service")
    assert result.stage == "in_service" and result.passed is True


# ----------------------------------------------------------------------------------------------- buoyancy and air

def test_evaluate_applies_buoyancy_correction_with_given_air_density():
    """Cast-iron 1 kg M1 (7 200 kg/m³) against a steel reference in air of 1.1 kg/m³: mcr·C ≈ −1.389 mg."""
    spec = dict(M1_1KG, density_kg_m3="7200")
    result = TYPE.evaluate(spec, dict(M1_1KG_READINGS, air={"density_kg_m3": "1.1"}))
    extra = result.extra
    factor = buoyancy_factor(D("1.1"), D("7200"), D("8000"))
    with localcontext(CONTEXT):
        assert extra["buoyancy_correction_mg"] == D("1000.002") * factor * 1000
        assert extra["conventional_mass_unrounded_g"] == D("1000.002") + D("0.011") + D("1000.002") * factor
    assert extra["buoyancy_correction_mg"].quantize(D("0.001")) == D("-1.389")
    assert extra["air_density_kg_m3"] == D("1.1")
    assert extra["air_density_u_kg_m3"] == D("0.0011")  # default 1e-3 relative (weight.json, unconfirmed)
    assert extra["test_density_u_kg_m3"] == D("3200")
    assert extra["conventional_mass_g"] == D("1000.012") and extra["expanded_uncertainty_mg"] == D("15")


def test_evaluate_computes_air_density_from_climate():
    readings = dict(M1_1KG_READINGS, air={"pressure_hpa": "1013.25", "humidity_pct": "50", "temperature_c": "20",
                                          "density_u_kg_m3": "0.002"})
    extra = TYPE.evaluate(M1_1KG, readings).extra
    assert extra["air_density_kg_m3"] == air_density(D("1013.25"), D("50"), D("20"))
    assert extra["air_density_u_kg_m3"] == D("0.002")
    assert extra["buoyancy_correction_mg"] == 0  # both densities 8000 kg/m³


def test_evaluate_without_air_counts_buoyancy_uncertainty_but_no_correction():
    """No air: ρa = 1.2 kg/m³ ± 10 % assumed, no correction; uncertain densities still give ub (C.6.3 + GUM 5.1.2)."""
    result = TYPE.evaluate(M1_1KG, M1_1KG_READINGS)
    row = next(r for r in result.extra["budget"] if r["symbol"] == "u_b")
    expected = buoyancy_uncertainty_mg(D("1000.002"), D("1.2"), D("1.2") * D("0.10") / D(3).sqrt(), D("8000"),
                                       D("3900"), D("8000"), D("1300"))
    assert row["standard_uncertainty_mg"] == expected.quantize(D("0.01")) == D("4.45")
    assert result.extra["buoyancy_correction_mg"] == 0
    assert result.extra["reference_density_u_kg_m3"] == D("1300")  # class F2, one better than M1


def test_evaluate_reference_class_sets_default_reference_density_uncertainty():
    readings = with_changes(M1_1KG_READINGS, reference__accuracy_class="E2")
    assert TYPE.evaluate(M1_1KG, readings).extra["reference_density_u_kg_m3"] == D("130")


def test_evaluate_given_buoyancy_uncertainty_replaces_computed_one():
    result = TYPE.evaluate(M1_1KG, dict(M1_1KG_READINGS, buoyancy_u_mg="0.7"))
    row = next(r for r in result.extra["budget"] if r["symbol"] == "u_b")
    assert row["standard_uncertainty_mg"] == D("0.700") and row["distribution"] == "normal"


def test_evaluate_budget_rows_have_the_certificate_columns():
    readings = with_changes(M1_1KG_READINGS, balance__sensitivity_u_mg="0.3", balance__eccentricity_u_mg="0.4")
    rows = TYPE.evaluate(M1_1KG, readings).extra["budget"]
    assert [r["symbol"] for r in rows] == ["u_w", "u(m_cr)", "u_b", "u_d", "u_s", "u_E"]
    for row in rows:
        assert {"component", "symbol", "source_value", "distribution", "standard_uncertainty_mg", "sensitivity",
                "contribution_mg"} <= set(row)
    resolution = next(r for r in rows if r["symbol"] == "u_d")
    assert resolution["standard_uncertainty_mg"] == D("0.408")  # (1 mg/√12)·√2


# ----------------------------------------------------------------------------------------------- readings errors

@pytest.mark.parametrize("changes, message", [
    ({"cycles": []}, "cycles: needs at least 1 item"),
    ({"cycles": None}, "cycles: missing"),
    ({"cycles": {"ref1": "0"}}, "cycles: must be a list, got dict"),
    ({"cycles__1": "0.1"}, "cycles[1]: must be an object, got str"),
    ({"cycles__1": {"ref1": "0", "test": "0.01", "ref2": "0"}},
     "cycles[1]: is an ABA cycle but cycles[0] is ABBA; all cycles of one calibration use the same scheme"),
    ({"cycles__0__test": "0.01"}, "cycles[0]: give either test (ABA) or test1 and test2 (ABBA), not both"),
    ({"cycles__0__test1": "abc"}, "cycles[0].test1: not a number ('abc')"),
    ({"cycles__0__test1": True}, "cycles[0].test1: not a number (True)"),
    ({"cycles__1__ref2": None}, "cycles[1].ref2: missing"),
    ({"cycles__0__ref1": "2000000"}, "cycles[0].ref1: 2000000 g is outside -1000000 … 1000000 g"),
    ({"cycles__0__ref3": "0"}, "cycles[0].ref3: unknown field (expected ref1, test1, test2, ref2)"),
    ({"reference": None}, "reference: missing"),
    ({"reference": "F2"}, "reference: must be an object, got str"),
    ({"reference__expanded_uncertainty_mg": "-1"}, "reference.expanded_uncertainty_mg: must not be negative ('-1')"),
    ({"reference__expanded_uncertainty_mg": None}, "reference.expanded_uncertainty_mg: missing"),
    ({"reference__k": "0"}, "reference.k: must be greater than zero ('0')"),
    ({"reference__k": "-2"}, "reference.k: must be greater than zero ('-2')"),
    ({"reference__k": "20"}, "reference.k: 20 is above 10"),
    ({"reference__conventional_mass_g": "1"},
     "reference.conventional_mass_g: 1 g is farther from the nominal 1 kg than the weight's MPE (50 mg); "
     "the reference must be a weight of the same nominal value, in g"),
    ({"reference__drift_mg": "-3"}, "reference.drift_mg: must not be negative ('-3')"),
    ({"reference__density_kg_m3": "500"}, "reference.density_kg_m3: 500 kg/m³ is outside 1000 … 25000 kg/m³"),
    ({"reference__accuracy_class": "M1"},
     "reference.accuracy_class: a class M1 reference cannot calibrate a class M1 weight; use class F2 or better"),
    ({"reference__accuracy_class": "X"},
     "reference.accuracy_class: must be one of E1, E2, F1, F2, M1, M2, M3 (got 'X')"),
    ({"reference__serial": "A1"},
     "reference.serial: unknown field (expected conventional_mass_g, expanded_uncertainty_mg, k, density_kg_m3, "
     "density_u_kg_m3, drift_mg, accuracy_class)"),
    ({"balance": None}, "balance: missing"),
    ({"balance__d_mg": None}, "balance.d_mg: missing"),
    ({"balance__d_mg": "-1"}, "balance.d_mg: must not be negative ('-1')"),
    ({"balance__eccentricity_u_mg": "1", "balance__eccentricity_limit_mg": "2"},
     "balance.eccentricity_limit_mg: give either eccentricity_u_mg (standard uncertainty) or eccentricity_limit_mg "
     "(± rectangular limit), not both"),
    ({"buoyancy_u_mg": "1", "buoyancy_limit_mg": "2"},
     "buoyancy_limit_mg: give either buoyancy_u_mg (standard uncertainty) or buoyancy_limit_mg "
     "(± rectangular limit), not both"),
    ({"air": {}}, "air: give density_kg_m3, or pressure_hpa, humidity_pct and temperature_c"),
    ({"air": {"density_kg_m3": "1.1", "temperature_c": "20"}},
     "air.temperature_c: give either density_kg_m3 or pressure_hpa, humidity_pct and temperature_c, not both"),
    ({"air": {"pressure_hpa": "1000", "humidity_pct": "50", "temperature_c": "28"}},
     "air.temperature_c: 28 °C is outside the 18 … 27 °C allowed for calibrating class M1 weights"),
    ({"air": {"pressure_hpa": "1000", "humidity_pct": "50"}}, "air.temperature_c: missing"),
    ({"air": {"pressure_hpa": "100", "humidity_pct": "50", "temperature_c": "20"}},
     "air.pressure_hpa: 100 hPa is outside 600 … 1100 hPa"),
    ({"air": {"pressure_hpa": "1000", "humidity_pct": "120", "temperature_c": "20"}},
     "air.humidity_pct: 120 % is outside 0 … 100 %"),
    ({"air": {"density_kg_m3": "12"}}, "air.density_kg_m3: 12 kg/m³ is outside 0.6 … 1.4 kg/m³"),
    ({"air": "humid"}, "air: must be an object, got str"),
    ({"temperature_c": "20"}, "temperature_c: unknown field (expected reference, cycles, balance, air, buoyancy_u_mg, "
                              "buoyancy_limit_mg)"),
])
def test_evaluate_readings_errors_name_the_field(changes, message):
    readings = with_changes(M1_1KG_READINGS, **changes)
    with pytest.raises(ReadingsError) as error:
        TYPE.evaluate(M1_1KG, readings)
    assert str(error.value) == message


def test_evaluate_one_cycle_needs_a_pooled_standard_deviation():
    readings = dict(M1_1KG_READINGS, cycles=M1_1KG_READINGS["cycles"][:1])
    with pytest.raises(ReadingsError) as error:
        TYPE.evaluate(M1_1KG, readings)
    assert str(error.value) == ("cycles: one cycle gives no standard deviation; measure at least 2 cycles or give "
                                "balance.pooled_sd_mg")
    assert TYPE.evaluate(M1_1KG, with_changes(readings, balance__pooled_sd_mg="2")).passed is True


def test_evaluate_refuses_bad_stage_and_non_mapping_readings():
    with pytest.raises(ReadingsError, match=r"^stage: must be one of initial, in_service \(got 'final'\)$"):
        TYPE.evaluate(M1_1KG, M1_1KG_READINGS, stage="final")
    with pytest.raises(ReadingsError, match=r"^readings: must be an object, got list$"):
        TYPE.evaluate(M1_1KG, [])


def test_evaluate_accepts_floats_through_their_shortest_repr():
    readings = with_changes(EA_READINGS, reference__conventional_mass_g=10000.005, reference__k=2,
                            cycles__0__test1=0.01, cycles__0__test2=0.01)
    assert TYPE.evaluate(EA_SPEC, readings).extra == TYPE.evaluate(EA_SPEC, EA_READINGS).extra


# ----------------------------------------------------------------------------------------------- plan, interval, shape

def test_test_plan_for_m1_asks_three_abba_cycles_an_f2_reference_and_m1_conditions():
    plan = TYPE.test_plan(EA_SPEC)
    assert [entry["test"] for entry in plan] == ["cycles", "reference", "balance", "air"]
    cycles, reference, balance, air = plan
    assert cycles["scheme"] == "ABBA" and cycles["fields"] == ["ref1", "test1", "test2", "ref2"]
    assert cycles["points"] == [{"cycle": n, "ref1": None, "test1": None, "test2": None, "ref2": None}
                                for n in (1, 2, 3)]
    assert reference["accuracy_class_at_least"] == "F2"
    assert reference["max_expanded_uncertainty_mg"] == "55"  # δm/9 = 55.6 mg, rounded down
    assert balance["target_expanded_uncertainty_mg"] == "160"  # δm/3 = 166.7 mg, rounded down
    assert air["conditions"]["temperature_c"] == ["18", "27"]
    assert air["conditions"]["change_per_hour_c"] == "3" and air["conditions"]["change_per_12h_c"] == "5"
    assert air["conditions"]["status"] == "confirmed"
    assert json.loads(json.dumps(plan)) == plan


@pytest.mark.parametrize("accuracy_class, cycles, reference_class", [
    ("E2", 6, "E1"), ("F1", 4, "E2"), ("F2", 3, "F1"), ("M1", 3, "F2"), ("M2", 3, "M1"), ("M3", 3, "M2")])
def test_test_plan_cycle_count_and_reference_by_class(accuracy_class, cycles, reference_class):
    plan = TYPE.test_plan({"nominal": "1", "unit": "kg", "accuracy_class": accuracy_class})
    assert len(plan[0]["points"]) == cycles
    assert plan[1]["accuracy_class_at_least"] == reference_class


def test_test_plan_validates_spec():
    with pytest.raises(SpecError, match="^nominal: 3 g is not"):
        TYPE.test_plan({"nominal": "3", "unit": "g", "accuracy_class": "M1"})


def test_interval_criteria_is_empty_and_interval_found():
    assert TYPE.interval_criteria(TYPE.validate_spec(M1_1KG)) == {}
    assert TYPE.interval_months(M1_1KG, on=dt.date(2025, 1, 1)) == 12


def test_type_is_registered():
    assert instruments.get("weight") is TYPE
    assert TYPE.code == "weight" and TYPE.name_vi == "Quả cân"


def test_to_dict_is_json_ready():
    data = TYPE.evaluate(EA_SPEC, EA_READINGS).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["tests"][0]["name"] == "cycles"
    assert data["expanded_uncertainty_mg"] == "59" and data["conventional_mass_g"] == "10000.025"
    assert data["combined_uncertainty_mg"].startswith("29.2617")


# ----------------------------------------------------------------------------------------------- properties

reading = st.decimals(min_value=D("-0.5"), max_value=D("0.5"), places=4, allow_nan=False, allow_infinity=False)
abba_cycle = st.fixed_dictionaries({"ref1": reading, "test1": reading, "test2": reading, "ref2": reading}).map(
    lambda c: {k: str(v) for k, v in c.items()})


def _comparable(result) -> dict:
    data = result.to_dict()
    test = data["tests"][0]
    test["points"] = sorted(json.dumps({k: v for k, v in p.items() if k != "cycle"}, sort_keys=True)
                            for p in test["points"])
    return data


@settings(max_examples=100, deadline=None)
@given(st.lists(abba_cycle, min_size=2, max_size=6), st.randoms(use_true_random=False))
def test_reordering_cycles_never_changes_the_result(cycles, random):
    readings = dict(M1_1KG_READINGS, cycles=cycles)
    shuffled = list(cycles)
    random.shuffle(shuffled)
    first, second = TYPE.evaluate(M1_1KG, readings), TYPE.evaluate(M1_1KG, dict(readings, cycles=shuffled))
    assert _comparable(first) == _comparable(second)
    assert [p["delta_i_g"] for p in second.test("cycles").points] == [
        abba_difference(*(D(c[k]) for k in ("ref1", "test1", "test2", "ref2"))) for c in shuffled]


@settings(max_examples=100, deadline=None)
@given(st.lists(abba_cycle, min_size=2, max_size=5),
       st.sampled_from(["E2", "F1", "F2", "M1", "M2", "M3"]),
       st.sampled_from(["1", "2", "5", "10", "20", "50"]),
       st.one_of(st.none(), st.fixed_dictionaries({"density_kg_m3": st.sampled_from(["1.05", "1.2", "1.18"])})))
def test_evaluate_is_deterministic_and_json_round_trips(cycles, accuracy_class, nominal, air):
    spec = {"nominal": nominal, "unit": "g", "accuracy_class": accuracy_class}
    readings = {"reference": {"conventional_mass_g": nominal, "expanded_uncertainty_mg": "0.01", "k": "2"},
                "cycles": cycles, "balance": {"d_mg": "0.01"}}
    if air is not None:
        readings["air"] = air
    first, second = TYPE.evaluate(spec, readings), TYPE.evaluate(spec, readings)
    data = first.to_dict()
    assert data == second.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert first.passed == (first.extra["uncertainty_ok"] and first.extra["error_ok"])
    assert first.extra["expanded_uncertainty_mg"] >= 2 * first.extra["combined_uncertainty_mg"]


json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8),
                      st.sampled_from(["0", "1", "-1", "1e999999", "1e-999999", "NaN", "inf", "10", "kg", "M1",
                                       "ABBA", "0.001"]))
json_value = st.recursive(json_leaf, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)), max_leaves=12)


@settings(max_examples=200, deadline=None)
@given(json_value, json_value)
def test_junk_raises_only_spec_or_readings_errors(spec, readings):
    try:
        TYPE.evaluate(spec, readings)
    except (SpecError, ReadingsError):
        pass


def _replace_leaf(data, path, value):
    data = copy.deepcopy(data)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


LEAF_PATHS = [("reference", "conventional_mass_g"), ("reference", "expanded_uncertainty_mg"), ("reference", "k"),
              ("reference", "drift_mg"), ("reference", "density_kg_m3"), ("reference", "density_u_kg_m3"),
              ("reference", "accuracy_class"), ("cycles",), ("cycles", 0), ("cycles", 0, "ref1"),
              ("cycles", 1, "test2"), ("balance", "d_mg"), ("balance", "pooled_sd_mg"), ("balance",),
              ("air",), ("air", "temperature_c"), ("air", "pressure_hpa"), ("air", "density_u_kg_m3"),
              ("buoyancy_u_mg",), ("buoyancy_limit_mg",), ("reference",)]
SPEC_PATHS = ["nominal", "unit", "accuracy_class", "density_kg_m3", "density_u_kg_m3"]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(LEAF_PATHS), json_value, st.sampled_from(SPEC_PATHS), json_value, st.booleans())
def test_near_valid_junk_raises_only_spec_or_readings_errors(path, value, spec_key, spec_value, spoil_spec):
    base = dict(M1_1KG_READINGS, air={"pressure_hpa": "1000", "humidity_pct": "60", "temperature_c": "22"})
    readings = _replace_leaf(base, path, value)
    spec = dict(M1_1KG, **({spec_key: spec_value} if spoil_spec else {}))
    try:
        result = TYPE.evaluate(spec, readings)
    except (SpecError, ReadingsError):
        return
    json.dumps(result.to_dict())
