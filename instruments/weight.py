"""Weights of classes E2, F1, F2, M1, M2 and M3 (quả cân, OIML R 111-1:2004), calibrated by comparison.

The weight under test (t) is compared on a balance or mass comparator with a reference weight (r) of a better class,
in ABBA cycles (r, t, t, r) or ABA cycles (r, t, r), R 111-1 Annex C:

- difference of one cycle, C.4: ABBA ΔI = (It1 − Ir1 − Ir2 + It2)/2; ABA ΔI = It − (Ir1 + Ir2)/2; mean ΔĪ over n;
- air buoyancy: C = (ρa − ρ0)(1/ρt − 1/ρr), ρ0 = 1.2 kg/m³; conventional mass mct = mcr + ΔĪ + mcr·C;
- air density from p, hr, t with the approximation formula of Annex E (E.3);
- uncertainty, C.6: uw = s(ΔI)/√n (C.6.1), u(mcr)² = (U/k)² + (drift/√3)² (C.6.2), ub from the densities (C.6.3),
  uba² = us² + ud² + uE² with ud = d/√6 for the two readings of a difference (C.6.4), uc the root sum of squares
  (C.6.5), U = 2·uc (C.6.6);
- conformity, R 111-1 5.2 and 5.3: U ≤ δm/3 and |mc − m0| ≤ δm − U, with δm from Table 1.

The numbers come from ``data/weight.json`` (with their sources and how sure we are of them). Masses of weights and
balance readings are in g; errors and uncertainties in mg; densities in kg/m³.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping, Sequence
from decimal import Decimal, localcontext
from functools import cache
from typing import Any

from . import rules
from ._base import InstrumentType, Result, TestResult, check_stage, readings_mapping, spec_mapping
from ._decimal import CONTEXT, choice, optional, parse, require_list, require_mapping, to_str
from .errors import MetrologyError, ReadingsError, SpecError

SPEC_KEYS = ("nominal", "unit", "accuracy_class", "density_kg_m3", "density_u_kg_m3")
READINGS_KEYS = ("reference", "cycles", "balance", "air", "buoyancy_u_mg", "buoyancy_limit_mg")
REFERENCE_KEYS = ("conventional_mass_g", "expanded_uncertainty_mg", "k", "density_kg_m3", "density_u_kg_m3",
                  "drift_mg", "accuracy_class")
BALANCE_KEYS = ("d_mg", "eccentricity_u_mg", "eccentricity_limit_mg", "sensitivity_u_mg", "pooled_sd_mg")
AIR_KEYS = ("pressure_hpa", "humidity_pct", "temperature_c", "density_kg_m3", "density_u_kg_m3")
ABBA_FIELDS = ("ref1", "test1", "test2", "ref2")
ABA_FIELDS = ("ref1", "test", "ref2")

_MG_PER_G = Decimal(1000)


# --------------------------------------------------------------------------------------------------- rule tables

def _data() -> dict:
    return rules.data("weight")


def _dec(text: Any) -> Decimal:
    return Decimal(str(text))


@cache
def _mpe_table() -> dict[Decimal, dict[str, Decimal | None]]:
    table: dict[Decimal, dict[str, Decimal | None]] = {}
    for row in _data()["mpe_mg"]["rows"]:
        table[_dec(row["nominal_g"])] = {cls: None if row.get(cls) is None else _dec(row[cls])
                                         for cls in _data()["classes"]["order"]}
    return table


def _classes() -> tuple[str, ...]:
    """Every class of R 111-1 Table 1 kept in the data, best first (E1 … M3)."""
    return tuple(_data()["classes"]["order"])


def _calibrated_classes() -> tuple[str, ...]:
    return tuple(_data()["classes"]["calibrated"])


def _units_g() -> dict[str, Decimal]:
    return {unit: _dec(value) for unit, value in _data()["units_g"]["values"].items()}


def _show(number: Decimal) -> str:
    """A number for a message: plain decimal unless its exponent is absurd (a typing error)."""
    return to_str(number) if -12 <= number.adjusted() <= 12 else str(number)


def format_nominal(nominal_g: Decimal) -> str:
    """A nominal value in the unit it is marked in: mg below 1 g, kg from 1 kg.

    >>> format_nominal(Decimal("0.05")), format_nominal(Decimal("500")), format_nominal(Decimal("10000"))
    ('50 mg', '500 g', '10 kg')
    """
    with localcontext(CONTEXT):
        if nominal_g >= 1000:
            return f"{_show((nominal_g / 1000).normalize())} kg"
        if nominal_g >= 1:
            return f"{_show(nominal_g.normalize())} g"
        return f"{_show((nominal_g * 1000).normalize())} mg"


def nominal_in_g(nominal: Decimal, unit: str) -> Decimal:
    """The nominal value m0 in grams, checked against the nominal values of OIML R 111-1 (clause 4, Table 1).

    Nominal values are 1, 2 or 5 × 10ⁿ from 1 mg to 50 kg.

    :raises SpecError: (field ``nominal``) for any other value, or ``unit`` for an unknown unit.

    >>> nominal_in_g(Decimal("0.5"), "kg")
    Decimal('500.0')
    >>> nominal_in_g(Decimal("3"), "g")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    instruments.errors.SpecError: nominal: 3 g is not a nominal value of OIML R 111-1 (1, 2 or 5 × 10ⁿ from 1 mg ...
    """
    units = _units_g()
    if unit not in units:
        raise SpecError(f"unit: must be one of {', '.join(units)} (got {unit!r})")
    nominal_g = None
    if -12 <= nominal.adjusted() <= 12:  # anything else is a typing error, and would overflow below
        with localcontext(CONTEXT):
            nominal_g = nominal * units[unit]
    if nominal_g not in _mpe_table():
        raise SpecError(f"nominal: {_show(nominal)} {unit} is not a nominal value of OIML R 111-1 "
                        "(1, 2 or 5 × 10ⁿ from 1 mg to 50 kg)")
    return nominal_g


def mpe_mg(accuracy_class: str, nominal_g: Decimal) -> Decimal:
    """Maximum permissible error ±δm of a weight on verification, in mg.

    OIML R 111-1:2004, 5.1, Table 1 (``mpe_mg`` in data/weight.json, with the status of each class column).

    :param accuracy_class: "E1", "E2", "F1", "F2", "M1", "M2" or "M3".
    :param nominal_g: the nominal value m0 in g (one of the table's rows).
    :raises SpecError: for an unknown class or nominal value, or a class the table has no weight of at that value.

    >>> mpe_mg("M1", Decimal("1000")), mpe_mg("E2", Decimal("1000")), mpe_mg("M3", Decimal("1000"))
    (Decimal('50'), Decimal('1.6'), Decimal('500'))
    >>> mpe_mg("F1", Decimal("0.05"))
    Decimal('0.04')
    >>> mpe_mg("M2", Decimal("0.05"))
    Traceback (most recent call last):
    ...
    instruments.errors.SpecError: accuracy_class: OIML R 111-1 Table 1 has no class M2 weight of 50 mg
    """
    classes = _classes()
    if accuracy_class not in classes:
        raise SpecError(f"accuracy_class: must be one of {', '.join(classes)} (got {accuracy_class!r})")
    row = _mpe_table().get(nominal_g)
    if row is None:
        raise SpecError(f"nominal: {_show(nominal_g)} g is not a nominal value of OIML R 111-1 "
                        "(1, 2 or 5 × 10ⁿ from 1 mg to 50 kg)")
    value = row[accuracy_class]
    if value is None:
        raise SpecError(f"accuracy_class: OIML R 111-1 Table 1 has no class {accuracy_class} weight of "
                        f"{format_nominal(nominal_g)}")
    return value


def better_class(accuracy_class: str) -> str:
    """The class just above ``accuracy_class`` (R 111-1 class order), the least a reference weight may be.

    >>> better_class("M1"), better_class("E2")
    ('F2', 'E1')
    """
    classes = _classes()
    index = classes.index(accuracy_class)
    return classes[max(index - 1, 0)]


# --------------------------------------------------------------------------------------------------- formulas

def round_up(value: Decimal, digits: int = 2) -> Decimal:
    """``value`` rounded up to ``digits`` significant digits: how an expanded uncertainty is reported.

    ILAC P14 (at most two significant digits); always up, so the reported U is never below the computed one.

    >>> round_up(Decimal("58.5234")), round_up(Decimal("1.0")), round_up(Decimal("0.01201")), round_up(Decimal("99.5"))
    (Decimal('59'), Decimal('1.0'), Decimal('0.013'), Decimal('1.0E+2'))
    """
    if value <= 0:
        return Decimal(0)
    with localcontext(CONTEXT):
        rounded = value.quantize(Decimal(1).scaleb(value.adjusted() - digits + 1), rounding=decimal.ROUND_CEILING)
        # 99.5 rounds up to 100: keep two significant digits (1.0E+2), which also sets the reporting resolution.
        return rounded.quantize(Decimal(1).scaleb(rounded.adjusted() - digits + 1))


def _round_sig(value: Decimal, digits: int, rounding: str = decimal.ROUND_HALF_EVEN) -> Decimal:
    if value == 0:
        return Decimal(0)
    with localcontext(CONTEXT):
        return value.quantize(Decimal(1).scaleb(value.adjusted() - digits + 1), rounding=rounding)


def abba_difference(ref1: Decimal, test1: Decimal, test2: Decimal, ref2: Decimal) -> Decimal:
    """Indication difference of one ABBA cycle, ΔI = (It1 − Ir1 − Ir2 + It2)/2 (R 111-1 C.4), in the readings' unit.

    >>> abba_difference(Decimal("0.000"), Decimal("0.012"), Decimal("0.008"), Decimal("0.002"))
    Decimal('0.009')
    """
    with localcontext(CONTEXT):
        return (test1 - ref1 - ref2 + test2) / 2


def aba_difference(ref1: Decimal, test: Decimal, ref2: Decimal) -> Decimal:
    """Indication difference of one ABA cycle, ΔI = It − (Ir1 + Ir2)/2 (R 111-1 C.4), in the readings' unit.

    >>> aba_difference(Decimal("1000.002"), Decimal("1000.010"), Decimal("1000.004"))
    Decimal('0.007')
    """
    with localcontext(CONTEXT):
        return test - (ref1 + ref2) / 2


def air_density(pressure_hpa: Decimal, humidity_pct: Decimal, temperature_c: Decimal) -> Decimal:
    """Air density in kg/m³ by the approximation formula of OIML R 111-1 Annex E (E.3).

    ρa = (0.34848 p − 0.009 hr · exp(0.061 t)) / (273.15 + t), p in hPa, hr in %, t in °C; relative uncertainty
    about 2 × 10⁻⁴ for 900 … 1 100 hPa, 10 … 30 °C and hr below 80 %.

    >>> air_density(Decimal("1013.25"), Decimal("50"), Decimal("20")).quantize(Decimal("0.00001"))
    Decimal('1.19929')
    """
    with localcontext(CONTEXT):
        vapour = Decimal("0.009") * humidity_pct * (Decimal("0.061") * temperature_c).exp()
        return (Decimal("0.34848") * pressure_hpa - vapour) / (Decimal("273.15") + temperature_c)


def buoyancy_factor(rho_a: Decimal, rho_t: Decimal, rho_r: Decimal, rho_0: Decimal = Decimal("1.2")) -> Decimal:
    """Air buoyancy correction factor C = (ρa − ρ0)(1/ρt − 1/ρr) (R 111-1 C.4), densities in kg/m³.

    The conventional mass of the test weight is then mct = mcr + ΔĪ + mcr·C.

    >>> buoyancy_factor(Decimal("1.1"), Decimal("8000"), Decimal("8000"))
    Decimal('0')
    >>> (buoyancy_factor(Decimal("1.1"), Decimal("7200"), Decimal("8000")) * 1000000).quantize(Decimal("0.001"))
    Decimal('-1.389')
    """
    with localcontext(CONTEXT):
        factor = (rho_a - rho_0) * (1 / rho_t - 1 / rho_r)
    return factor if factor != 0 else Decimal(0)


def buoyancy_uncertainty_mg(m_cr_g: Decimal, rho_a: Decimal, u_rho_a: Decimal, rho_t: Decimal, u_rho_t: Decimal,
                            rho_r: Decimal, u_rho_r: Decimal, rho_0: Decimal = Decimal("1.2")) -> Decimal:
    """Standard uncertainty ub of the air buoyancy correction, in mg (densities and their u in kg/m³).

    R 111-1 C.6.3.1 (air density during the reference's own calibration taken as ρ0)::

        ub² = [mcr (ρr − ρt)/(ρr ρt)]² u²(ρa) + [mcr (ρa − ρ0)]² [u²(ρt)/ρt⁴ + u²(ρr)/ρr⁴]

    plus the second-order term of GUM 5.1.2, mcr² u²(ρa) [u²(ρt)/ρt⁴ + u²(ρr)/ρr⁴], which is what remains when the
    air density is not measured (ρa taken as ρ0) and the densities are uncertain.

    >>> buoyancy_uncertainty_mg(Decimal("1000"), Decimal("1.2"), Decimal("0.0693"), Decimal("8000"), Decimal("3900"),
    ...                         Decimal("8000"), Decimal("1300")).quantize(Decimal("0.01"))
    Decimal('4.45')
    """
    with localcontext(CONTEXT):
        m = m_cr_g * _MG_PER_G
        densities = (u_rho_t / rho_t ** 2) ** 2 + (u_rho_r / rho_r ** 2) ** 2
        square = ((m * (rho_r - rho_t) / (rho_r * rho_t)) ** 2 * u_rho_a ** 2
                  + (m * (rho_a - rho_0)) ** 2 * densities
                  + m ** 2 * u_rho_a ** 2 * densities)
        return square.sqrt()


def default_density_u(accuracy_class: str, nominal_g: Decimal, density: Decimal | None = None) -> Decimal:
    """Default standard uncertainty of a weight's density, in kg/m³, when only its class is known.

    OIML R 111-1:2004, 10.1 / Table 5: the density of a weight must keep the buoyancy error under a 10 % deviation
    of the air density from 1.2 kg/m³ within δm/4, i.e. |1/ρ − 1/8000| ≤ δm/(4 · 0.12 kg/m³ · m0). That half-width,
    limited to real weight materials, over √3 (rectangular on 1/ρ), converted at ``density`` (default 8000) and
    rounded up to two significant digits. The rule's numbers are in data/weight.json (``density``).

    >>> default_density_u("M1", Decimal("1000")), default_density_u("F2", Decimal("10000"))
    (Decimal('3.9E+3'), Decimal('1.3E+3'))
    >>> default_density_u("E2", Decimal("1000")), default_density_u("E1", Decimal("100"))
    (Decimal('1.3E+2'), Decimal('39'))
    """
    data = _data()["density"]
    rule = data["class_rule"]
    rho_c = _dec(data["conventional_kg_m3"])
    rho_0 = _dec(data["reference_air_kg_m3"])
    rho = density if density is not None else _dec(data["default_weight_density_kg_m3"])
    delta_m = mpe_mg(accuracy_class, nominal_g)
    with localcontext(CONTEXT):
        half = delta_m * _dec(rule["error_fraction_of_mpe"]) / (
            _dec(rule["air_density_deviation_rel"]) * rho_0 * nominal_g * _MG_PER_G)
        inverse = 1 / rho_c
        low = max(inverse - half, 1 / _dec(data["material_range_kg_m3"]["max"]))
        high = min(inverse + half, 1 / _dec(data["material_range_kg_m3"]["min"]))
        width = max(inverse - low, high - inverse)
        return round_up(rho * rho * width / Decimal(3).sqrt())


def standard_deviation(values: Sequence[Decimal]) -> Decimal:
    """Sample standard deviation s (n − 1 in the denominator) of at least two values; order does not matter.

    >>> standard_deviation([Decimal("0.010"), Decimal("0.030"), Decimal("0.020")])
    Decimal('0.010')
    """
    ordered = sorted(values)
    with localcontext(CONTEXT):
        mean = sum(ordered, Decimal(0)) / len(ordered)
        squares = sorted((value - mean) ** 2 for value in ordered)
        return (sum(squares, Decimal(0)) / (len(ordered) - 1)).sqrt()


def conformity(error_mg: Decimal, expanded_uncertainty_mg: Decimal, mpe: Decimal) -> tuple[bool, bool]:
    """The two conditions of R 111-1 5.2 and 5.3: (U ≤ δm/3, |mc − m0| ≤ δm − U); equality passes.

    >>> conformity(Decimal("2.0"), Decimal("1.0"), Decimal("3.0"))
    (True, True)
    >>> conformity(Decimal("-2.01"), Decimal("1.0"), Decimal("3.0"))
    (True, False)
    """
    fraction = _dec(_data()["conformity"]["uncertainty_fraction_of_mpe"])
    with localcontext(CONTEXT):
        return fraction * expanded_uncertainty_mg <= mpe, abs(error_mg) <= mpe - expanded_uncertainty_mg


# --------------------------------------------------------------------------------------------------- input parsing

def _reject_unknown(mapping: Mapping, allowed: Sequence[str], prefix: str, error: type[MetrologyError]) -> None:
    unknown = sorted(str(key) for key in mapping if key not in allowed)
    if unknown:
        raise error(f"{prefix}{unknown[0]}: unknown field (expected {', '.join(allowed)})")


def _bounded(value: Any, field: str, error: type[MetrologyError], low: Decimal | None, high: Decimal | None,
             unit: str, **checks: bool) -> Decimal:
    number = parse(value, field, error, **checks)
    unit = f" {unit}" if unit else ""
    if low is not None and high is not None and not low <= number <= high:
        raise error(f"{field}: {_show(number)}{unit} is outside {_show(low)} … {_show(high)}{unit}")
    if low is not None and number < low:
        raise error(f"{field}: {_show(number)}{unit} is below {_show(low)}{unit}")
    if high is not None and number > high:
        raise error(f"{field}: {_show(number)}{unit} is above {_show(high)}{unit}")
    return number


def _optional_bounded(mapping: Mapping, key: str, field: str, error: type[MetrologyError], low: Decimal | None,
                      high: Decimal | None, unit: str, **checks: bool) -> Decimal | None:
    if optional(mapping, key, field, error, **checks) is None:
        return None
    return _bounded(mapping[key], field, error, low, high, unit, **checks)


def _section(readings: Mapping, key: str, required: bool) -> Mapping | None:
    value = readings.get(key)
    if value is None:
        if required:
            raise ReadingsError(f"{key}: missing")
        return None
    return require_mapping(value, key, ReadingsError)


def _density_bounds() -> tuple[Decimal, Decimal]:
    plausible = _data()["density"]["plausible_kg_m3"]
    return _dec(plausible["min"]), _dec(plausible["max"])


def _bound(name: str) -> Decimal:
    return _dec(_data()["bounds"][name])


# --------------------------------------------------------------------------------------------------- the type

class Weight(InstrumentType):
    """Weights of OIML R 111-1 classes E2 … M3, calibrated by comparison with a reference weight."""

    code = "weight"
    name_vi = "Quả cân"
    name_en = "Weight"
    references = (
        "OIML R 111-1:2004 Weights of classes E1 … M3 (Table 1; 10.1; Annex C; Annex E)",
        "EA-4/02 M:2013 Evaluation of the uncertainty of measurement in calibration (S2)",
        "ILAC P14:09/2020 (reporting of the expanded uncertainty)",
    )

    # ----------------------------------------------------------------------------------------------- spec

    def validate_spec(self, spec: Mapping[str, Any]) -> dict:
        """Check and normalise ``{"nominal", "unit", "accuracy_class", "density_kg_m3"?, "density_u_kg_m3"?}``.

        The density defaults to 8000 kg/m³ and its uncertainty to the spread the class allows
        (:func:`default_density_u`).

        >>> TYPE.validate_spec({"nominal": "1.0", "unit": "kg", "accuracy_class": "M1"})
        {'nominal': '1', 'unit': 'kg', 'accuracy_class': 'M1', 'density_kg_m3': '8000', 'density_u_kg_m3': '3900'}
        """
        spec = spec_mapping(spec)
        _reject_unknown(spec, SPEC_KEYS, "", SpecError)
        unit = choice(spec.get("unit"), "unit", tuple(_units_g()), SpecError)
        nominal = parse(spec.get("nominal"), "nominal", SpecError, positive=True)
        nominal_g = nominal_in_g(nominal, unit)
        accuracy_class = choice(spec.get("accuracy_class"), "accuracy_class", _calibrated_classes(), SpecError)
        mpe_mg(accuracy_class, nominal_g)
        low, high = _density_bounds()
        density = _optional_bounded(spec, "density_kg_m3", "density_kg_m3", SpecError, low, high, "kg/m³",
                                    positive=True)
        density_u = _optional_bounded(spec, "density_u_kg_m3", "density_u_kg_m3", SpecError, Decimal(0), high,
                                      "kg/m³", non_negative=True)
        if density is None:
            density = _dec(_data()["density"]["default_weight_density_kg_m3"])
        if density_u is None:
            density_u = default_density_u(accuracy_class, nominal_g, density)
        return {
            "nominal": to_str(nominal.normalize()),
            "unit": unit,
            "accuracy_class": accuracy_class,
            "density_kg_m3": to_str(density),
            "density_u_kg_m3": to_str(density_u),
        }

    def interval_criteria(self, spec: dict) -> dict:
        """Weights are matched on their type only in data/intervals.json."""
        return {}

    # ----------------------------------------------------------------------------------------------- plan

    def test_plan(self, spec: Mapping[str, Any], stage: str = "initial") -> list[dict]:
        """What to measure: the ABBA cycles, the reference weight needed, the balance and the air conditions.

        >>> plan = TYPE.test_plan({"nominal": "10", "unit": "kg", "accuracy_class": "M1"})
        >>> [(entry["test"], len(entry["points"])) for entry in plan]
        [('cycles', 3), ('reference', 1), ('balance', 1), ('air', 1)]
        >>> plan[1]["accuracy_class_at_least"], plan[1]["max_expanded_uncertainty_mg"]
        ('F2', '55')
        """
        clean = self.validate_spec(spec)
        check_stage(stage)
        accuracy_class = clean["accuracy_class"]
        nominal_g = nominal_in_g(Decimal(clean["nominal"]), clean["unit"])
        delta_m = mpe_mg(accuracy_class, nominal_g)
        data = _data()
        cycles = data["cycles"]
        count = int(cycles["plan_abba"][accuracy_class])
        conformity_data = data["conformity"]
        with localcontext(CONTEXT):
            reference_u = _round_sig(delta_m / _dec(conformity_data["reference_uncertainty_fraction_of_mpe"]), 2,
                                     decimal.ROUND_FLOOR)
            own_u = _round_sig(delta_m / _dec(conformity_data["uncertainty_fraction_of_mpe"]), 2, decimal.ROUND_FLOOR)
        conditions = data["conditions"]["classes"][accuracy_class]
        nominal_text = format_nominal(nominal_g)
        return [
            {
                "test": "cycles",
                "title_vi": f"Cân so sánh quả cân {nominal_text} cấp {accuracy_class} với quả cân chuẩn, "
                            "chu trình ABBA",
                "title_en": f"Comparison weighing of the {nominal_text} class {accuracy_class} weight against the "
                            "reference, ABBA cycles",
                "required": True,
                "scheme": "ABBA",
                "alternative_scheme": {"scheme": "ABA", "fields": list(ABA_FIELDS),
                                       "minimum_cycles": cycles["r111_minimum"]["ABA"][accuracy_class]},
                "unit": "g",
                "fields": list(ABBA_FIELDS),
                "minimum_cycles": cycles["r111_minimum"]["ABBA"][accuracy_class],
                "source": cycles["plan_source"],
                "status": cycles["plan_status"],
                "points": [{"cycle": number, **{name: None for name in ABBA_FIELDS}} for number in range(1, count + 1)],
            },
            {
                "test": "reference",
                "title_vi": f"Quả cân chuẩn {nominal_text}, cấp {better_class(accuracy_class)} trở lên",
                "title_en": f"Reference weight {nominal_text}, class {better_class(accuracy_class)} or better",
                "required": True,
                "accuracy_class_at_least": better_class(accuracy_class),
                "max_expanded_uncertainty_mg": to_str(reference_u),
                "fields": list(REFERENCE_KEYS),
                "required_fields": ["conventional_mass_g", "expanded_uncertainty_mg", "k"],
                "points": [{name: None for name in REFERENCE_KEYS}],
            },
            {
                "test": "balance",
                "title_vi": "Cân so sánh: độ phân giải và các thành phần độ không đảm bảo đo",
                "title_en": "Comparator balance: resolution and uncertainty components",
                "required": True,
                "fields": list(BALANCE_KEYS),
                "required_fields": ["d_mg"],
                "target_expanded_uncertainty_mg": to_str(own_u),
                "points": [{name: None for name in BALANCE_KEYS}],
            },
            {
                "test": "air",
                "title_vi": "Điều kiện môi trường và khối lượng riêng của không khí",
                "title_en": "Environmental conditions and air density",
                "required": False,
                "fields": list(AIR_KEYS),
                "conditions": {
                    "temperature_c": [conditions["temperature_c"][0], conditions["temperature_c"][1]],
                    "change_per_hour_c": conditions["change_per_hour_c"],
                    "change_per_12h_c": conditions["change_per_12h_c"],
                    "source": conditions["source"],
                    "status": conditions["status"],
                },
                "points": [{name: None for name in ("pressure_hpa", "humidity_pct", "temperature_c")}],
            },
        ]

    # ----------------------------------------------------------------------------------------------- evaluate

    def evaluate(self, spec: Mapping[str, Any], readings: Mapping[str, Any], stage: str = "initial") -> Result:
        """Conventional mass, error, uncertainty budget and verdict of one weight (R 111-1 Annex C, 5.2, 5.3).

        >>> spec = {"nominal": "50", "unit": "g", "accuracy_class": "M1"}
        >>> readings = {"reference": {"conventional_mass_g": "50.0000", "expanded_uncertainty_mg": "1.0", "k": "2"},
        ...             "cycles": [{"ref1": "0", "test1": "0.0020", "test2": "0.0020", "ref2": "0"}],
        ...             "balance": {"d_mg": "0", "pooled_sd_mg": "0"}, "buoyancy_u_mg": "0"}
        >>> result = TYPE.evaluate(spec, readings)
        >>> result.passed, result.extra["error_mg"], result.extra["expanded_uncertainty_mg"]
        (True, Decimal('2.0'), Decimal('1.0'))
        """
        clean = self.validate_spec(spec)
        stage = check_stage(stage)
        readings = readings_mapping(readings)
        _reject_unknown(readings, READINGS_KEYS, "", ReadingsError)
        accuracy_class = clean["accuracy_class"]
        nominal_g = nominal_in_g(Decimal(clean["nominal"]), clean["unit"])
        delta_m = mpe_mg(accuracy_class, nominal_g)
        reference = _reference(readings, nominal_g, delta_m, accuracy_class)
        scheme, cycles = _cycles(readings)
        balance = _balance(readings)
        air = _air(readings, accuracy_class)
        buoyancy = _buoyancy_given(readings)
        rho_t, u_rho_t = Decimal(clean["density_kg_m3"]), Decimal(clean["density_u_kg_m3"])
        rho_r, u_rho_r = reference["density_kg_m3"], reference["density_u_kg_m3"]
        density = _data()["density"]
        rho_0 = _dec(density["reference_air_kg_m3"])
        coverage = _dec(_data()["conformity"]["coverage_factor"])

        with localcontext(CONTEXT):
            differences = [abba_difference(c["ref1"], c["test1"], c["test2"], c["ref2"]) if scheme == "ABBA"
                           else aba_difference(c["ref1"], c["test"], c["ref2"]) for c in cycles]
            n = len(differences)
            mean_g = sum(sorted(differences), Decimal(0)) / n
            if balance["pooled_sd_mg"] is not None:
                s_mg, s_kind = balance["pooled_sd_mg"], "pooled"
            elif n < 2:
                raise ReadingsError("cycles: one cycle gives no standard deviation; measure at least 2 cycles "
                                    "or give balance.pooled_sd_mg")
            else:
                s_mg, s_kind = standard_deviation(differences) * _MG_PER_G, "sample"
            u_w = s_mg / Decimal(n).sqrt()

            if air is not None:
                rho_a, u_rho_a = air["density_kg_m3"], air["density_u_kg_m3"]
                factor = buoyancy_factor(rho_a, rho_t, rho_r, rho_0)
            else:
                no_air = _data()["air"]["no_measurement"]
                rho_a = _dec(no_air["density_kg_m3"])
                u_rho_a = rho_a * _dec(no_air["half_width_rel"]) / Decimal(3).sqrt()
                factor = Decimal(0)
            m_cr = reference["conventional_mass_g"]
            correction_g = m_cr * factor
            correction_mg = correction_g * _MG_PER_G
            m_c = m_cr + mean_g + correction_g
            error_mg = (m_c - nominal_g) * _MG_PER_G

            rows = _budget(reference, balance, buoyancy, n, s_mg, s_kind, u_w,
                           buoyancy_uncertainty_mg(m_cr, rho_a, u_rho_a, rho_t, u_rho_t, rho_r, u_rho_r, rho_0),
                           air is not None)
            u_c = sum(sorted(row["standard_uncertainty_mg"] ** 2 for row in rows), Decimal(0)).sqrt()
            expanded = coverage * u_c
        # The budget is printed: three significant digits, as in EA-4/02; u_c above used the unrounded values.
        budget = [{**row, "standard_uncertainty_mg": _round_sig(row["standard_uncertainty_mg"], 3),
                   "contribution_mg": _round_sig(row["contribution_mg"], 3)} for row in rows]

        reported = round_up(expanded)
        uncertainty_ok, error_ok = conformity(error_mg, reported, delta_m)
        passed = uncertainty_ok and error_ok
        exponent = max(reported.as_tuple().exponent if reported else -6, -6)
        with localcontext(CONTEXT):
            mass_reported = m_c.quantize(Decimal(1).scaleb(exponent - 3), rounding=decimal.ROUND_HALF_UP)
            error_reported = error_mg.quantize(Decimal(1).scaleb(exponent), rounding=decimal.ROUND_HALF_UP)
            uncertainty_limit = _round_sig(delta_m / _dec(_data()["conformity"]["uncertainty_fraction_of_mpe"]), 4,
                                           decimal.ROUND_FLOOR)
            error_limit = delta_m - reported

        fields = ABBA_FIELDS if scheme == "ABBA" else ABA_FIELDS
        points = tuple({"cycle": number, **{name: cycle[name] for name in fields}, "delta_i_g": difference}
                       for number, (cycle, difference) in enumerate(zip(cycles, differences), start=1))
        test = TestResult(name="cycles", passed=passed, points=points, extra={
            "scheme": scheme, "n": n, "mean_delta_i_g": mean_g, "std_dev_mg": s_mg, "std_dev_kind": s_kind,
            "u_w_mg": u_w})
        mpe_column = _data()["mpe_mg"]["columns"][accuracy_class]
        extra: dict[str, Any] = {
            "nominal_g": nominal_g,
            "conventional_mass_g": mass_reported,
            "conventional_mass_unrounded_g": m_c,
            "error_mg": error_reported,
            "error_unrounded_mg": error_mg,
            "expanded_uncertainty_mg": reported,
            "expanded_uncertainty_unrounded_mg": expanded,
            "combined_uncertainty_mg": u_c,
            "k": coverage,
            "mpe_mg": delta_m,
            "uncertainty_limit_mg": uncertainty_limit,
            "uncertainty_ok": uncertainty_ok,
            "error_limit_mg": error_limit,
            "error_ok": error_ok,
            "buoyancy_correction_mg": correction_mg,
            "test_density_kg_m3": rho_t,
            "test_density_u_kg_m3": u_rho_t,
            "reference_density_kg_m3": rho_r,
            "reference_density_u_kg_m3": u_rho_r,
            "budget": budget,
            "sources": {"mpe_mg": {"source": _data()["mpe_mg"]["source"] + "; " + mpe_column["source"],
                                   "status": mpe_column["status"]}},
        }
        if air is not None:
            extra["air_density_kg_m3"] = air["density_kg_m3"]
            extra["air_density_u_kg_m3"] = air["density_u_kg_m3"]
        return Result(type_code=self.code, stage=stage, passed=passed, tests=(test,), spec=clean, extra=extra)


# --------------------------------------------------------------------------------------------------- readings

def _reference(readings: Mapping, nominal_g: Decimal, delta_m: Decimal, accuracy_class: str) -> dict:
    section = _section(readings, "reference", required=True)
    _reject_unknown(section, REFERENCE_KEYS, "reference.", ReadingsError)
    m_cr = _bounded(section.get("conventional_mass_g"), "reference.conventional_mass_g", ReadingsError, None,
                    _bound("reading_g"), "g", positive=True)
    with localcontext(CONTEXT):
        far = abs(m_cr - nominal_g) * _MG_PER_G > delta_m
    if far:
        raise ReadingsError(f"reference.conventional_mass_g: {_show(m_cr)} g is farther from the nominal "
                            f"{format_nominal(nominal_g)} than the weight's MPE ({_show(delta_m)} mg); "
                            "the reference must be a weight of the same nominal value, in g")
    high = _bound("uncertainty_mg")
    u = _bounded(section.get("expanded_uncertainty_mg"), "reference.expanded_uncertainty_mg", ReadingsError,
                 Decimal(0), high, "mg", non_negative=True)
    k = _bounded(section.get("k"), "reference.k", ReadingsError, None, _bound("k_max"), "", positive=True)
    drift = _optional_bounded(section, "drift_mg", "reference.drift_mg", ReadingsError, Decimal(0), high, "mg",
                              non_negative=True)
    reference_class = None
    if section.get("accuracy_class") not in (None, ""):
        reference_class = choice(section.get("accuracy_class"), "reference.accuracy_class", _classes(), ReadingsError)
        if _classes().index(reference_class) >= _classes().index(accuracy_class):
            raise ReadingsError(f"reference.accuracy_class: a class {reference_class} reference cannot calibrate a "
                                f"class {accuracy_class} weight; use class {better_class(accuracy_class)} or better")
    low_rho, high_rho = _density_bounds()
    rho_r = _optional_bounded(section, "density_kg_m3", "reference.density_kg_m3", ReadingsError, low_rho, high_rho,
                              "kg/m³", positive=True)
    u_rho_r = _optional_bounded(section, "density_u_kg_m3", "reference.density_u_kg_m3", ReadingsError, Decimal(0),
                                high_rho, "kg/m³", non_negative=True)
    if rho_r is None:
        rho_r = _dec(_data()["density"]["default_weight_density_kg_m3"])
    if u_rho_r is None:
        try:
            u_rho_r = default_density_u(reference_class or better_class(accuracy_class), nominal_g, rho_r)
        except SpecError as exc:  # a reference class with no weight of this nominal value
            raise ReadingsError(f"reference.{exc}") from None
    return {"conventional_mass_g": m_cr, "expanded_uncertainty_mg": u, "k": k, "drift_mg": drift,
            "accuracy_class": reference_class, "density_kg_m3": rho_r, "density_u_kg_m3": u_rho_r}


def _cycles(readings: Mapping) -> tuple[str, list[dict[str, Decimal]]]:
    items = require_list(readings.get("cycles"), "cycles", ReadingsError)
    limit = _bound("reading_g")
    scheme: str | None = None
    cycles = []
    for index, item in enumerate(items):
        path = f"cycles[{index}]"
        cycle = require_mapping(item, path, ReadingsError)
        if "test" in cycle and ("test1" in cycle or "test2" in cycle):
            raise ReadingsError(f"{path}: give either test (ABA) or test1 and test2 (ABBA), not both")
        kind = "ABA" if "test" in cycle else "ABBA"
        fields = ABA_FIELDS if kind == "ABA" else ABBA_FIELDS
        _reject_unknown(cycle, fields, f"{path}.", ReadingsError)
        if scheme is None:
            scheme = kind
        elif kind != scheme:
            raise ReadingsError(f"{path}: is an {kind} cycle but cycles[0] is {scheme}; "
                                "all cycles of one calibration use the same scheme")
        cycles.append({name: _bounded(cycle.get(name), f"{path}.{name}", ReadingsError, -limit, limit, "g")
                       for name in fields})
    assert scheme is not None  # require_list guarantees one item
    return scheme, cycles


def _balance(readings: Mapping) -> dict[str, Decimal | None]:
    section = _section(readings, "balance", required=True)
    _reject_unknown(section, BALANCE_KEYS, "balance.", ReadingsError)
    high = _bound("uncertainty_mg")
    values: dict[str, Decimal | None] = {
        "d_mg": _bounded(section.get("d_mg"), "balance.d_mg", ReadingsError, Decimal(0), high, "mg",
                         non_negative=True)}
    for key in BALANCE_KEYS[1:]:
        values[key] = _optional_bounded(section, key, f"balance.{key}", ReadingsError, Decimal(0), high, "mg",
                                        non_negative=True)
    if values["eccentricity_u_mg"] is not None and values["eccentricity_limit_mg"] is not None:
        raise ReadingsError("balance.eccentricity_limit_mg: give either eccentricity_u_mg (standard uncertainty) "
                            "or eccentricity_limit_mg (± rectangular limit), not both")
    return values


def _air(readings: Mapping, accuracy_class: str) -> dict[str, Decimal] | None:
    section = _section(readings, "air", required=False)
    if section is None:
        return None
    _reject_unknown(section, AIR_KEYS, "air.", ReadingsError)
    air = _data()["air"]
    ranges = air["ranges"]
    given = optional(section, "density_kg_m3", "air.density_kg_m3", ReadingsError, positive=True)
    climate = [key for key in ("pressure_hpa", "humidity_pct", "temperature_c")
               if section.get(key) is not None and not (isinstance(section.get(key), str) and not section[key].strip())]
    if given is not None and climate:
        raise ReadingsError(f"air.{climate[0]}: give either density_kg_m3 or pressure_hpa, humidity_pct and "
                            "temperature_c, not both")
    if given is not None:
        rho_a = _bounded(section["density_kg_m3"], "air.density_kg_m3", ReadingsError,
                         _dec(ranges["density_kg_m3"][0]), _dec(ranges["density_kg_m3"][1]), "kg/m³")
    elif not climate:
        raise ReadingsError("air: give density_kg_m3, or pressure_hpa, humidity_pct and temperature_c")
    else:
        conditions = _data()["conditions"]["classes"][accuracy_class]
        pressure = _bounded(section.get("pressure_hpa"), "air.pressure_hpa", ReadingsError,
                            _dec(ranges["pressure_hpa"][0]), _dec(ranges["pressure_hpa"][1]), "hPa")
        humidity = _bounded(section.get("humidity_pct"), "air.humidity_pct", ReadingsError,
                            _dec(ranges["humidity_pct"][0]), _dec(ranges["humidity_pct"][1]), "%")
        temperature = parse(section.get("temperature_c"), "air.temperature_c", ReadingsError)
        low, high = _dec(conditions["temperature_c"][0]), _dec(conditions["temperature_c"][1])
        if not low <= temperature <= high:
            raise ReadingsError(f"air.temperature_c: {_show(temperature)} °C is outside the {_show(low)} … "
                                f"{_show(high)} °C allowed for calibrating class {accuracy_class} weights")
        rho_a = air_density(pressure, humidity, temperature)
    u_rho_a = _optional_bounded(section, "density_u_kg_m3", "air.density_u_kg_m3", ReadingsError, Decimal(0),
                                _dec(ranges["density_kg_m3"][1]), "kg/m³", non_negative=True)
    if u_rho_a is None:
        with localcontext(CONTEXT):
            u_rho_a = rho_a * _dec(air["measured_u_rel"]["value"])
    return {"density_kg_m3": rho_a, "density_u_kg_m3": u_rho_a}


def _buoyancy_given(readings: Mapping) -> tuple[str, Decimal] | None:
    high = _bound("uncertainty_mg")
    u = _optional_bounded(readings, "buoyancy_u_mg", "buoyancy_u_mg", ReadingsError, Decimal(0), high, "mg",
                          non_negative=True)
    limit = _optional_bounded(readings, "buoyancy_limit_mg", "buoyancy_limit_mg", ReadingsError, Decimal(0), high,
                              "mg", non_negative=True)
    if u is not None and limit is not None:
        raise ReadingsError("buoyancy_limit_mg: give either buoyancy_u_mg (standard uncertainty) or "
                            "buoyancy_limit_mg (± rectangular limit), not both")
    if u is not None:
        return "u", u
    if limit is not None:
        return "limit", limit
    return None


# --------------------------------------------------------------------------------------------------- budget

def _row(component: str, component_vi: str, symbol: str, source_value: Decimal | None, distribution: str,
         divisor: str, standard_uncertainty_mg: Decimal, note: str = "") -> dict:
    """One line of the uncertainty budget; every contribution enters mc with sensitivity 1 (all in mg)."""
    return {
        "component": component,
        "component_vi": component_vi,
        "symbol": symbol,
        "source_value": source_value,
        "distribution": distribution,
        "divisor": divisor,
        "standard_uncertainty_mg": standard_uncertainty_mg,
        "sensitivity": Decimal(1),
        "contribution_mg": standard_uncertainty_mg,
        "note": note,
    }


def _budget(reference: Mapping, balance: Mapping, buoyancy: tuple[str, Decimal] | None, n: int, s_mg: Decimal,
            s_kind: str, u_w: Decimal, u_b_computed: Decimal, air_measured: bool) -> list[dict]:
    """Rows of R 111-1 C.6: weighing process, reference, buoyancy, balance (call inside the engine context)."""
    root3 = Decimal(3).sqrt()
    rows = [
        _row("Weighing process (repeatability of ΔI)", "Quá trình cân (độ lặp lại của ΔI)", "u_w", s_mg, "normal",
             f"√{n}", u_w, "pooled standard deviation from earlier evaluations" if s_kind == "pooled"
             else f"sample standard deviation of {n} cycle differences"),
        _row("Reference weight (calibration certificate)", "Quả cân chuẩn (giấy chứng nhận hiệu chuẩn)", "u(m_cr)",
             reference["expanded_uncertainty_mg"], "normal", to_str(reference["k"]),
             reference["expanded_uncertainty_mg"] / reference["k"], "expanded uncertainty U / k"),
    ]
    if reference["drift_mg"] is not None:
        rows.append(_row("Instability (drift) of the reference weight", "Độ không ổn định (trôi) của quả cân chuẩn",
                         "u_inst(m_cr)", reference["drift_mg"], "rectangular", "√3", reference["drift_mg"] / root3,
                         "± limit of the drift since the last calibration"))
    if buoyancy is None:
        rows.append(_row("Air buoyancy correction", "Hiệu chỉnh sức đẩy không khí", "u_b", None, "normal", "1",
                         u_b_computed, "R 111-1 C.6.3 from the air and weight densities" if air_measured
                         else "air density not measured: 1.2 kg/m³ ± 10 % assumed (R 111-1 C.6.3)"))
    elif buoyancy[0] == "u":
        rows.append(_row("Air buoyancy correction", "Hiệu chỉnh sức đẩy không khí", "u_b", buoyancy[1], "normal", "1",
                         buoyancy[1], "standard uncertainty given"))
    else:
        rows.append(_row("Air buoyancy correction", "Hiệu chỉnh sức đẩy không khí", "u_b", buoyancy[1],
                         "rectangular", "√3", buoyancy[1] / root3, "± limit given"))
    rows.append(_row("Balance resolution (two readings)", "Độ phân giải của cân (hai lần đọc)", "u_d", balance["d_mg"],
                     "rectangular", "√6", balance["d_mg"] / Decimal(6).sqrt(), "(d/√12)·√2"))
    if balance["sensitivity_u_mg"] is not None:
        rows.append(_row("Balance sensitivity", "Độ nhạy của cân", "u_s", balance["sensitivity_u_mg"], "normal", "1",
                         balance["sensitivity_u_mg"], "standard uncertainty given"))
    if balance["eccentricity_u_mg"] is not None:
        rows.append(_row("Eccentric loading", "Tải lệch tâm", "u_E", balance["eccentricity_u_mg"], "normal", "1",
                         balance["eccentricity_u_mg"], "standard uncertainty given"))
    elif balance["eccentricity_limit_mg"] is not None:
        rows.append(_row("Eccentric loading", "Tải lệch tâm", "u_E", balance["eccentricity_limit_mg"], "rectangular",
                         "√3", balance["eccentricity_limit_mg"] / root3, "± limit given"))
    return rows


TYPE = Weight()
