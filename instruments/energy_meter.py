"""Single-phase electricity meters (công tơ điện xoay chiều 1 pha): basic error, starting and no-load tests.

Static meters of classes 1 and 2 (IEC 62053-21:2003; verified under ĐLVN 39:2004) and induction meters
(IEC 62053-11:2003; ĐLVN 07:2012). The limits, starting currents and the no-load test voltage are data in
``data/energy_meter.json``, each with its source and status.

The percentage error of a meter (IEC 62053-21:2003 8.1; ĐLVN 39:2004 5.3.3) is
``e = (E_meter − E_ref) / E_ref × 100 %``. A point gives it in exactly one of four ways:

- ``error_pct``: the error as the bench computed it;
- ``meter_energy_wh`` + ``reference_energy_wh``: the energies registered by the meter and by the reference meter;
- ``pulses`` + ``reference_energy_wh``: N pulses of the meter's test output, ``E_meter = N / C`` kWh (C in imp/kWh);
- ``power_w`` + ``pulses`` + ``time_s``: the time method at constant power P,
  ``t_exp = N · 3.6×10⁶ / (C · P)`` s and ``e = (t_exp − t_meas) / t_meas × 100 %``.

Every error is computed with a single rounding at 34 significant digits (``_decimal.CONTEXT``) and compared, unrounded,
with the limit; an error equal to the limit passes. ``error_pct_rounded`` (to the resolution in the data file) is for
printing only. The stage (initial or in service) does not change the limits of this type.

>>> r = TYPE.evaluate({"accuracy_class": "1", "un_v": "220", "ib_a": "5", "imax_a": "20",
...                    "constant_imp_per_kwh": "1600"},
...                   {"accuracy": [{"current_a": "5", "pf": "1", "pulses": "16", "reference_energy_wh": "10.05"}]})
>>> r.passed, r.test("accuracy").points[0]["error_pct_rounded"]
(True, Decimal('-0.50'))
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from . import rules
from ._base import InstrumentType, Result, TestResult, check_stage, readings_mapping, spec_mapping
from ._decimal import CONTEXT, choice, parse, require_list, require_mapping, to_str
from .errors import MetrologyError, ReadingsError, SpecError

__all__ = [
    "KINDS", "EnergyMeter", "TYPE", "energy_error_pct", "pulse_energy_wh", "expected_time_s", "time_error_pct",
    "limit_pct", "starting_current_a", "no_load_voltage_v", "evaluate_many",
]

KINDS = ("electronic", "induction")
SPEC_FIELDS = ("accuracy_class", "un_v", "ib_a", "imax_a", "constant_imp_per_kwh", "kind")
TESTS = ("accuracy", "starting", "no_load")

#: The four ways a point may give its error, and the measured fields each needs (no more, no fewer).
METHODS: dict[str, tuple[str, ...]] = {
    "error_pct": ("error_pct",),
    "energy": ("meter_energy_wh", "reference_energy_wh"),
    "pulses": ("pulses", "reference_energy_wh"),
    "time": ("power_w", "pulses", "time_s"),
}
_METHOD_BY_FIELDS = {frozenset(fields): method for method, fields in METHODS.items()}
MEASURED = ("error_pct", "meter_energy_wh", "reference_energy_wh", "pulses", "power_w", "time_s")
_METHOD_HELP = ("give error_pct, or meter_energy_wh and reference_energy_wh, or pulses and reference_energy_wh, "
                "or power_w, pulses and time_s")

_HUNDRED = Decimal(100)
_WH_PER_KWH = Decimal(1000)
_J_PER_KWH = Decimal(3600000)  # 3.6×10⁶ W·s in one kWh
# Inputs are limited to |x| < 10^21 and, when not zero, |x| ≥ 10^-20: no product or quotient of a few of them can
# leave the exponent range of the context, so no arithmetic exception can escape.
_MAX_ADJUSTED = 20


def _data() -> dict:
    return rules.data("energy_meter")


def _number(value: Any, field: str, error: type[MetrologyError], **checks: bool) -> Decimal:
    """``_decimal.parse`` plus a magnitude check, so that no ``decimal`` exception escapes later arithmetic."""
    try:
        number = parse(value, field, error, **checks)
    except decimal.DecimalException:
        raise error(f"{field}: out of range ({value!r})") from None
    if checks.get("positive") and number <= 0:  # a tiny positive value that parse rounded to zero
        raise error(f"{field}: out of range ({value!r})")
    if not number:
        # A zero written (or rounded) with a huge negative exponent would print as a million zeros.
        return number if number.as_tuple().exponent >= -_MAX_ADJUSTED else Decimal(0)
    if not -_MAX_ADJUSTED <= number.adjusted() <= _MAX_ADJUSTED:
        raise error(f"{field}: out of range ({value!r})")
    return number


def _display(number: Decimal, quantum: str, rounding: str = decimal.ROUND_HALF_EVEN) -> str:
    """A figure of a test plan rounded for display; absurd magnitudes (from absurd specs) are left unrounded."""
    if number.adjusted() < _MAX_ADJUSTED:
        number = number.quantize(Decimal(quantum), rounding=rounding)
    return _fmt(number)


def _fmt(number: Decimal) -> str:
    """A number for a message or a plan: plain decimal string without trailing zeros ("0.25", "20")."""
    return to_str(number.normalize(CONTEXT))


# --------------------------------------------------------------------------------------------------------------------
# Formulas


def energy_error_pct(meter_energy_wh: Decimal, reference_energy_wh: Decimal) -> Decimal:
    """Percentage error of a meter from the energy it registered and the reference energy.

    ``e = (E_meter − E_ref) / E_ref × 100`` (IEC 62053-21:2003 8.1; ĐLVN 39:2004 5.3.3), computed as
    ``(E_meter − E_ref) · 100 / E_ref`` so that it is rounded once, at 34 significant digits.

    :param meter_energy_wh: energy registered by the meter under test, Wh.
    :param reference_energy_wh: energy measured by the reference meter, Wh (> 0).
    :returns: the error in %.
    :raises ReadingsError: when the reference energy is not positive.

    >>> energy_error_pct(Decimal("10"), Decimal("10.05"))
    Decimal('-0.4975124378109452736318407960199005')
    >>> energy_error_pct(Decimal("1010"), Decimal("1000"))
    Decimal('1')
    """
    if reference_energy_wh <= 0:
        raise ReadingsError(f"reference_energy_wh: must be greater than zero ({_fmt(reference_energy_wh)})")
    with decimal.localcontext(CONTEXT):
        return (meter_energy_wh - reference_energy_wh) * _HUNDRED / reference_energy_wh


def pulse_energy_wh(pulses: Decimal, constant_imp_per_kwh: Decimal) -> Decimal:
    """Energy registered by a meter from the pulses of its test output: ``E = N / C`` kWh, i.e. ``N · 1000 / C`` Wh.

    Meter constant C as marked on the meter (defined in IEC 62052-11); ĐLVN 39:2004 5.3.3.

    :param pulses: number of pulses N counted.
    :param constant_imp_per_kwh: meter constant C, imp/kWh (> 0).
    :returns: the energy in Wh.

    >>> pulse_energy_wh(Decimal("16"), Decimal("1600"))
    Decimal('10')
    """
    if constant_imp_per_kwh <= 0:
        raise SpecError(f"constant_imp_per_kwh: must be greater than zero ({_fmt(constant_imp_per_kwh)})")
    with decimal.localcontext(CONTEXT):
        return pulses * _WH_PER_KWH / constant_imp_per_kwh


def expected_time_s(pulses: Decimal, constant_imp_per_kwh: Decimal, power_w: Decimal) -> Decimal:
    """Time a perfect meter takes to emit N pulses at constant power P: ``t_exp = N · 3.6×10⁶ / (C · P)`` s.

    Time method of ĐLVN 39:2004 5.3.3 (DOMAIN.md §4).

    :param pulses: number of pulses N.
    :param constant_imp_per_kwh: meter constant C, imp/kWh (> 0).
    :param power_w: constant active power P applied, W (> 0).
    :returns: the expected time in s.

    >>> expected_time_s(Decimal("10"), Decimal("1600"), Decimal("1100"))
    Decimal('20.45454545454545454545454545454545')
    """
    if constant_imp_per_kwh <= 0:
        raise SpecError(f"constant_imp_per_kwh: must be greater than zero ({_fmt(constant_imp_per_kwh)})")
    if power_w <= 0:
        raise ReadingsError(f"power_w: must be greater than zero ({_fmt(power_w)})")
    with decimal.localcontext(CONTEXT):
        return pulses * _J_PER_KWH / (constant_imp_per_kwh * power_w)


def time_error_pct(pulses: Decimal, constant_imp_per_kwh: Decimal, power_w: Decimal, time_s: Decimal) -> Decimal:
    """Percentage error by the time method: ``e = (t_exp − t_meas) / t_meas × 100`` with ``t_exp`` as above.

    Computed as ``(N · 3.6×10⁶ − t · C · P) · 100 / (t · C · P)``, rounded once (ĐLVN 39:2004 5.3.3).

    :param pulses: number of pulses N counted (> 0).
    :param constant_imp_per_kwh: meter constant C, imp/kWh (> 0).
    :param power_w: constant active power P, W (> 0).
    :param time_s: measured time t for the N pulses, s (> 0).
    :returns: the error in %.

    >>> time_error_pct(Decimal("10"), Decimal("1600"), Decimal("1100"), Decimal("20.5"))
    Decimal('-0.2217294900221729490022172949002217')
    >>> time_error_pct(Decimal("10"), Decimal("1600"), Decimal("1000"), Decimal("22.5"))
    Decimal('0')
    """
    if constant_imp_per_kwh <= 0:
        raise SpecError(f"constant_imp_per_kwh: must be greater than zero ({_fmt(constant_imp_per_kwh)})")
    if power_w <= 0 or time_s <= 0:
        field = "power_w" if power_w <= 0 else "time_s"
        raise ReadingsError(f"{field}: must be greater than zero")
    with decimal.localcontext(CONTEXT):
        energy_ws = time_s * constant_imp_per_kwh * power_w
        return (pulses * _J_PER_KWH - energy_ws) * _HUNDRED / energy_ws


# --------------------------------------------------------------------------------------------------------------------
# Limits


@dataclass(frozen=True)
class _Band:
    """One row of the limits table applied to a meter: ``low_a ≤ I < high_a`` (``≤ high_a`` at Imax)."""

    low_a: Decimal
    high_a: Decimal
    high_included: bool
    limit_pct: Decimal
    label: str


def _kind_table(section: str, kind: str) -> dict:
    try:
        return _data()[section][kind]
    except KeyError:
        raise SpecError(f"kind: must be one of {', '.join(KINDS)} (got {kind!r})") from None


def _class_value(values: Mapping, accuracy_class: str) -> Any:
    try:
        return values[accuracy_class]
    except (KeyError, TypeError):
        raise SpecError(f"accuracy_class: must be one of {', '.join(_data()['accuracy_classes']['value'])} "
                        f"(got {accuracy_class!r})") from None


@lru_cache(maxsize=256)
def _bands(kind: str, accuracy_class: str, ib_a: Decimal, imax_a: Decimal) -> dict[str, tuple[_Band, ...]]:
    """The limit bands of one meter, in amperes, by power factor (sorted by current)."""
    table = _kind_table("error_limits", kind)
    by_pf: dict[str, list[_Band]] = {}
    with decimal.localcontext(CONTEXT):
        for row in table["bands"]:
            limit = Decimal(_class_value(row["limits_pct"], accuracy_class))
            from_ib = Decimal(row["from_ib"])
            to_imax = row["to_ib"] == "imax"
            high = imax_a if to_imax else Decimal(row["to_ib"]) * ib_a
            label = f"{_fmt(from_ib)} Ib ≤ I ≤ Imax" if to_imax else f"{_fmt(from_ib)} Ib ≤ I < {row['to_ib']} Ib"
            for pf in row["pf"]:
                by_pf.setdefault(pf, []).append(_Band(from_ib * ib_a, high, to_imax, limit, label))
    return {pf: tuple(sorted(bands, key=lambda b: b.low_a)) for pf, bands in by_pf.items()}


def _power_factor(value: Any, field: str) -> str:
    """The power factor code ("1", "0.5L", "0.8C"); letters are accepted in either case."""
    factors = _data()["power_factors"]["value"]
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ReadingsError(f"{field}: missing")
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        text = str(value).strip().upper()
        if text in factors:
            return text
    raise ReadingsError(f"{field}: must be one of {', '.join(factors)} (got {value!r})")


def _band_for(bands: Mapping[str, tuple[_Band, ...]], pf: str, current_a: Decimal, field: str,
              ib_a: Decimal) -> _Band:
    rows = bands.get(pf)
    if not rows:
        raise ReadingsError(f"{field}: no error limit for PF {pf}")
    for band in rows:
        if band.low_a <= current_a and (current_a < band.high_a or (band.high_included and current_a <= band.high_a)):
            return band
    low, high = rows[0].low_a, rows[-1].high_a
    low_ib = _fmt(low / ib_a) if ib_a else "?"
    where = "" if pf == "1" else f" at PF {pf}"
    raise ReadingsError(f"{field}: {_fmt(current_a)} A is outside {low_ib} Ib … Imax ({_fmt(low)} … {_fmt(high)} A)"
                        f"{where}")


def limit_pct(accuracy_class: str, pf: str, current_a: Decimal, ib_a: Decimal, imax_a: Decimal,
              kind: str = "electronic", *, field: str = "current_a") -> Decimal:
    """Limit of the percentage error at a current and power factor (± this value), in %.

    IEC 62053-21:2003 8.1, Table 6 (static meters) and IEC 62053-11:2003 8.1 (induction meters), as kept in
    ``data/energy_meter.json`` with their status. A band includes its lower edge and excludes its upper edge, except
    Imax, which is included: at PF 1 a class 1 meter has ±1.5 % for 0.05 Ib ≤ I < 0.1 Ib and ±1.0 % from 0.1 Ib.

    :param accuracy_class: "1" or "2".
    :param pf: "1", "0.5L" (inductive) or "0.8C" (capacitive).
    :param current_a: test current, A.
    :param ib_a: basic current Ib, A; ``imax_a``: maximum current Imax, A.
    :param kind: "electronic" or "induction".
    :param field: the path named in the error.
    :raises ReadingsError: when the current is outside the range the table covers for that power factor.

    >>> limit_pct("1", "1", Decimal("0.5"), Decimal("5"), Decimal("20"))
    Decimal('1.0')
    >>> limit_pct("2", "1", Decimal("0.49"), Decimal("5"), Decimal("20"))
    Decimal('2.5')
    >>> limit_pct("1", "0.5L", Decimal("0.4"), Decimal("5"), Decimal("20"))
    Traceback (most recent call last):
    ...
    instruments.errors.ReadingsError: current_a: 0.4 A is outside 0.1 Ib … Imax (0.5 … 20 A) at PF 0.5L
    """
    pf = _power_factor(pf, "pf")
    return _band_for(_bands(kind, accuracy_class, ib_a, imax_a), pf, current_a, field, ib_a).limit_pct


def starting_current_a(accuracy_class: str, ib_a: Decimal, kind: str = "electronic") -> Decimal:
    """Starting current: the meter must start and keep registering at this current (PF 1), in A.

    IEC 62053-21:2003 8.3.3 (class 1: 0.004 Ib, class 2: 0.005 Ib, direct-connected); IEC 62053-11:2003 8.3.3 for
    induction meters (see the data file for the status).

    >>> starting_current_a("1", Decimal("5"))
    Decimal('0.020')
    >>> starting_current_a("2", Decimal("10"))
    Decimal('0.050')
    """
    table = _kind_table("starting", kind)
    with decimal.localcontext(CONTEXT):
        return Decimal(_class_value(table["current_ib"], accuracy_class)) * ib_a


def no_load_voltage_v(un_v: Decimal, kind: str = "electronic") -> Decimal:
    """Voltage of the no-load (creep) test, in V: 115 % of the reference voltage Un.

    IEC 62053-21:2003 8.3.2: with no current, at 1.15 Un, the test output gives at most one pulse.

    >>> no_load_voltage_v(Decimal("220"))
    Decimal('253.00')
    """
    table = _kind_table("no_load", kind)
    with decimal.localcontext(CONTEXT):
        return Decimal(table["voltage_un"]) * un_v


# --------------------------------------------------------------------------------------------------------------------
# One meter's figures, computed once per spec


@dataclass(frozen=True)
class _Setup:
    spec: dict
    accuracy_class: str
    kind: str
    un_v: Decimal
    ib_a: Decimal
    imax_a: Decimal
    constant: Decimal
    bands: Mapping[str, tuple[_Band, ...]]
    starting_ib: Decimal
    starting_a: Decimal
    no_load_un: Decimal
    no_load_v: Decimal
    no_load_low_v: Decimal
    no_load_high_v: Decimal
    no_load_tolerance: Decimal
    max_pulses: Decimal
    resolution: Decimal
    rounding: str
    extra: dict


@lru_cache(maxsize=256)
def _setup(items: tuple) -> _Setup:
    """Limits and test values of a validated spec (given as its items, so that it can be cached)."""
    spec = dict(items)
    data = _data()
    accuracy_class, kind = spec["accuracy_class"], spec["kind"]
    un_v, ib_a, imax_a = Decimal(spec["un_v"]), Decimal(spec["ib_a"]), Decimal(spec["imax_a"])
    constant = Decimal(spec["constant_imp_per_kwh"])
    starting = _kind_table("starting", kind)
    no_load = _kind_table("no_load", kind)
    tolerance_rule = data["no_load_voltage_tolerance"]
    rounding_rule = data["error_rounding"]
    limits = _kind_table("error_limits", kind)
    with decimal.localcontext(CONTEXT):
        starting_ib = Decimal(_class_value(starting["current_ib"], accuracy_class))
        no_load_un = Decimal(no_load["voltage_un"])
        no_load_v = no_load_un * un_v
        tolerance = Decimal(tolerance_rule["value"])
        low_v, high_v = no_load_v * (1 - tolerance), no_load_v * (1 + tolerance)
        starting_a = starting_ib * ib_a

    def source(table: str, rule: Mapping) -> Mapping:
        # read-only: the setup is cached and shared by every result computed with it
        return MappingProxyType({"table": table, "source": rule["source"], "status": rule["status"]})

    extra = {
        "kind": kind,
        "accuracy_class": accuracy_class,
        "starting_current_a": starting_a,
        "no_load_voltage_v": no_load_v,
        "verdict_basis": "error_pct (exact); error_pct_rounded is for printing",
        "rules": (
            source(f"energy_meter.error_limits.{kind}", limits),
            source(f"energy_meter.starting.{kind}", starting),
            source(f"energy_meter.no_load.{kind}", no_load),
            source("energy_meter.no_load_voltage_tolerance", tolerance_rule),
            source("energy_meter.error_rounding", rounding_rule),
        ),
    }
    return _Setup(
        spec=spec, accuracy_class=accuracy_class, kind=kind, un_v=un_v, ib_a=ib_a, imax_a=imax_a, constant=constant,
        bands=_bands(kind, accuracy_class, ib_a, imax_a), starting_ib=starting_ib, starting_a=starting_a,
        no_load_un=no_load_un, no_load_v=no_load_v, no_load_low_v=low_v, no_load_high_v=high_v,
        no_load_tolerance=tolerance, max_pulses=Decimal(no_load["max_pulses"]),
        resolution=Decimal(rounding_rule["resolution_pct"]), rounding=getattr(decimal, rounding_rule["rounding"]),
        extra=extra,
    )


# --------------------------------------------------------------------------------------------------------------------
# Readings


def _present(point: Mapping, key: str) -> bool:
    value = point.get(key)
    return value is not None and not (isinstance(value, str) and not value.strip())


def _accuracy_point(setup: _Setup, point: Any, path: str) -> dict:
    """Evaluate one point of the ``accuracy`` test (the caller holds the CONTEXT)."""
    point = require_mapping(point, path, ReadingsError)
    current_a = _number(point.get("current_a"), f"{path}.current_a", ReadingsError)
    pf = _power_factor(point.get("pf"), f"{path}.pf")
    given = frozenset(key for key in MEASURED if _present(point, key))
    method = _METHOD_BY_FIELDS.get(given)
    if method is None:
        got = ", ".join(key for key in MEASURED if key in given) or "none of them"
        raise ReadingsError(f"{path}: {_METHOD_HELP} (got {got})")
    band = _band_for(setup.bands, pf, current_a, f"{path}.current_a", setup.ib_a)

    out: dict[str, Any] = {}
    position = point.get("position")
    if position is not None and not (isinstance(position, str) and not position.strip()):
        if isinstance(position, bool) or not isinstance(position, (str, int)):
            raise ReadingsError(f"{path}.position: must be a text or a whole number (got {position!r})")
        out["position"] = position.strip() if isinstance(position, str) else position
    out["current_a"] = current_a
    out["pf"] = pf
    out["method"] = method
    constant = setup.constant
    try:
        if method == "error_pct":
            error = _number(point["error_pct"], f"{path}.error_pct", ReadingsError)
        elif method == "energy":
            meter = _number(point["meter_energy_wh"], f"{path}.meter_energy_wh", ReadingsError, non_negative=True)
            reference = _number(point["reference_energy_wh"], f"{path}.reference_energy_wh", ReadingsError,
                                positive=True)
            error = (meter - reference) * _HUNDRED / reference
            out["meter_energy_wh"] = meter
            out["reference_energy_wh"] = reference
        elif method == "pulses":
            pulses = _number(point["pulses"], f"{path}.pulses", ReadingsError, non_negative=True, integer=True)
            reference = _number(point["reference_energy_wh"], f"{path}.reference_energy_wh", ReadingsError,
                                positive=True)
            reference_pulses = reference * constant  # E_ref in pulse units × 1000
            error = (pulses * _WH_PER_KWH - reference_pulses) * _HUNDRED / reference_pulses
            out["pulses"] = pulses
            out["meter_energy_wh"] = pulses * _WH_PER_KWH / constant
            out["reference_energy_wh"] = reference
        else:
            power = _number(point["power_w"], f"{path}.power_w", ReadingsError, positive=True)
            pulses = _number(point["pulses"], f"{path}.pulses", ReadingsError, positive=True, integer=True)
            time_s = _number(point["time_s"], f"{path}.time_s", ReadingsError, positive=True)
            energy_ws = time_s * constant * power
            error = (pulses * _J_PER_KWH - energy_ws) * _HUNDRED / energy_ws
            out["power_w"] = power
            out["pulses"] = pulses
            out["time_s"] = time_s
            out["expected_time_s"] = pulses * _J_PER_KWH / (constant * power)
        rounded = error.quantize(setup.resolution, rounding=setup.rounding)
    except decimal.DecimalException:
        raise ReadingsError(f"{path}: the readings give an error out of range") from None
    limit = band.limit_pct
    out["error_pct"] = error
    out["error_pct_rounded"] = rounded
    out["limit_pct"] = limit
    out["band"] = band.label
    out["passed"] = -limit <= error <= limit
    return out


def _check_keys(mapping: Mapping, allowed: Sequence[str], prefix: str, what: str, error: type[MetrologyError]) -> None:
    unknown = sorted(key if isinstance(key, str) and key.isidentifier() else repr(key)
                     for key in mapping if key not in allowed)
    if unknown:
        also = f" (also {', '.join(unknown[1:])})" if len(unknown) > 1 else ""
        raise error(f"{prefix}{unknown[0]}: unknown {what}{also}; known: {', '.join(allowed)}")


def _starting(setup: _Setup, value: Any) -> TestResult:
    starting = require_mapping(value, "starting", ReadingsError)
    current_a = _number(starting.get("current_a"), "starting.current_a", ReadingsError, positive=True)
    started = starting.get("started")
    if started is None:
        raise ReadingsError("starting.started: missing")
    if not isinstance(started, bool):
        raise ReadingsError(f"starting.started: must be true or false (got {started!r})")
    if current_a > setup.starting_a:
        raise ReadingsError(
            f"starting.current_a: {_fmt(current_a)} A is above the starting current {_fmt(setup.starting_a)} A "
            f"({_fmt(setup.starting_ib)} Ib, class {setup.accuracy_class}): the test was not done at the starting "
            f"current")
    point = {"current_a": current_a, "starting_current_a": setup.starting_a, "started": started, "passed": started}
    return TestResult(name="starting", passed=started, points=(point,))


def _no_load(setup: _Setup, value: Any) -> TestResult:
    no_load = require_mapping(value, "no_load", ReadingsError)
    voltage_v = _number(no_load.get("voltage_v"), "no_load.voltage_v", ReadingsError, positive=True)
    pulses = _number(no_load.get("pulses"), "no_load.pulses", ReadingsError, non_negative=True, integer=True)
    if not setup.no_load_low_v <= voltage_v <= setup.no_load_high_v:
        raise ReadingsError(
            f"no_load.voltage_v: {_fmt(voltage_v)} V is not {_fmt(setup.no_load_un * _HUNDRED)} % Un "
            f"({_fmt(setup.no_load_v)} V ± {_fmt(setup.no_load_tolerance * _HUNDRED)} %, "
            f"{_fmt(setup.no_load_low_v)} … {_fmt(setup.no_load_high_v)} V)")
    passed = pulses <= setup.max_pulses
    point = {"voltage_v": voltage_v, "test_voltage_v": setup.no_load_v, "pulses": pulses,
             "max_pulses": setup.max_pulses, "passed": passed}
    return TestResult(name="no_load", passed=passed, points=(point,))


def _evaluate(setup: _Setup, readings: Mapping, stage: str) -> Result:
    """Evaluate one meter's readings against a prepared spec (the caller checked ``readings`` is a mapping)."""
    _check_keys(readings, TESTS, "", "test", ReadingsError)
    points_in = require_list(readings.get("accuracy"), "accuracy", ReadingsError)
    with decimal.localcontext(CONTEXT):
        points = tuple(_accuracy_point(setup, point, f"accuracy[{index}]") for index, point in enumerate(points_in))
        tests = [TestResult(name="accuracy", passed=all(p["passed"] for p in points), points=points)]
        if readings.get("starting") is not None:
            tests.append(_starting(setup, readings["starting"]))
        if readings.get("no_load") is not None:
            tests.append(_no_load(setup, readings["no_load"]))
    return Result(type_code="energy_meter", stage=stage, passed=all(t.passed for t in tests), tests=tuple(tests),
                  spec=dict(setup.spec), extra=dict(setup.extra))


# --------------------------------------------------------------------------------------------------------------------
# The instrument type


class EnergyMeter(InstrumentType):
    """Single-phase active-energy meter, static (classes 1, 2) or induction, verified on a meter test bench."""

    code = "energy_meter"
    name_vi = "Công tơ điện xoay chiều 1 pha"
    name_en = "Single-phase electricity meter"
    references = ("ĐLVN 39:2004", "ĐLVN 07:2012", "IEC 62053-21:2003", "IEC 62053-11:2003")

    def validate_spec(self, spec: Mapping[str, Any]) -> dict:
        """Check and normalise ``{"accuracy_class", "un_v", "ib_a", "imax_a", "constant_imp_per_kwh", "kind"}``.

        ``kind`` defaults to "electronic"; Imax > Ib > 0, Un > 0 and C > 0.

        >>> TYPE.validate_spec({"accuracy_class": 1, "un_v": "220", "ib_a": "5", "imax_a": "20",
        ...                     "constant_imp_per_kwh": "1600"})["kind"]
        'electronic'
        >>> TYPE.validate_spec({"accuracy_class": "1", "un_v": "220", "ib_a": "5", "imax_a": "5",
        ...                     "constant_imp_per_kwh": "1600"})
        Traceback (most recent call last):
        ...
        instruments.errors.SpecError: imax_a: must be greater than ib_a (5 A ≤ 5 A)
        """
        spec = spec_mapping(spec)
        _check_keys(spec, SPEC_FIELDS, "", "field", SpecError)
        accuracy_class = choice(spec.get("accuracy_class"), "accuracy_class",
                                _data()["accuracy_classes"]["value"], SpecError)
        kind = spec.get("kind")
        kind = "electronic" if kind is None or (isinstance(kind, str) and not kind.strip()) else choice(
            kind, "kind", KINDS, SpecError)
        with decimal.localcontext(CONTEXT):
            un_v = _number(spec.get("un_v"), "un_v", SpecError, positive=True)
            ib_a = _number(spec.get("ib_a"), "ib_a", SpecError, positive=True)
            imax_a = _number(spec.get("imax_a"), "imax_a", SpecError, positive=True)
            constant = _number(spec.get("constant_imp_per_kwh"), "constant_imp_per_kwh", SpecError, positive=True)
        if imax_a <= ib_a:
            raise SpecError(f"imax_a: must be greater than ib_a ({_fmt(imax_a)} A ≤ {_fmt(ib_a)} A)")
        return {
            "accuracy_class": accuracy_class,
            "un_v": to_str(un_v),
            "ib_a": to_str(ib_a),
            "imax_a": to_str(imax_a),
            "constant_imp_per_kwh": to_str(constant),
            "kind": kind,
        }

    def _prepare(self, spec: Mapping[str, Any]) -> _Setup:
        return _setup(tuple(self.validate_spec(spec).items()))

    def interval_criteria(self, spec: dict) -> dict:
        """Intervals depend on the kind: induction meters left mandatory verification on 15/10/2024."""
        return {"kind": spec["kind"]}

    def test_plan(self, spec: Mapping[str, Any], stage: str = "initial") -> list[dict]:
        """The accuracy points (current, PF, limit, test power, suggested pulses), the starting and no-load tests.

        For each accuracy point, ``suggested_pulses`` is the smallest N whose expected time at the test power
        ``P = Un · I · cos φ`` reaches ``min_time_s`` of the data file, and ``expected_time_s`` is that time.

        >>> plan = TYPE.test_plan({"accuracy_class": "1", "un_v": "220", "ib_a": "5", "imax_a": "20",
        ...                        "constant_imp_per_kwh": "1600"})
        >>> [(p["current_a"], p["pf"], p["limit_pct"]) for p in plan[0]["points"]][:4]
        [('0.25', '1', '1.5'), ('0.5', '1', '1.0'), ('5', '1', '1.0'), ('20', '1', '1.0')]
        >>> plan[1]["points"][0]["current_a"], plan[2]["points"][0]["voltage_v"]
        ('0.02', '253')
        """
        check_stage(stage)
        setup = self._prepare(spec)
        data = _data()
        plan_rule = data["test_plan"]
        factors = data["power_factors"]["value"]
        with decimal.localcontext(CONTEXT):
            min_time_s = Decimal(plan_rule["min_time_s"])
            points = []
            for row in plan_rule["accuracy_points"]:
                pf = row["pf"]
                if row["current_ib"] == "imax":
                    current_a, current_ib = setup.imax_a, "Imax"
                else:
                    multiple = Decimal(row["current_ib"])
                    current_a, current_ib = multiple * setup.ib_a, "Ib" if multiple == 1 else f"{_fmt(multiple)} Ib"
                band = _band_for(setup.bands, pf, current_a, "current_a", setup.ib_a)
                power_w = setup.un_v * current_a * Decimal(factors[pf])
                pulses = max(1, math.ceil(setup.constant * power_w * min_time_s / _J_PER_KWH))
                time_s = Decimal(pulses) * _J_PER_KWH / (setup.constant * power_w)
                points.append({
                    "current_a": _fmt(current_a),
                    "pf": pf,
                    "current_ib": current_ib,
                    "voltage_v": _fmt(setup.un_v),
                    "limit_pct": to_str(band.limit_pct),
                    "test_power_w": _fmt(power_w),
                    "suggested_pulses": pulses,
                    "expected_time_s": _display(time_s, "0.01"),
                    "expected_energy_wh": _fmt(Decimal(pulses) * _WH_PER_KWH / setup.constant),
                })
            no_load = _kind_table("no_load", setup.kind)
            no_load_point: dict[str, Any] = {
                "voltage_v": _fmt(setup.no_load_v),
                "voltage_un_pct": _fmt(setup.no_load_un * _HUNDRED),
                "voltage_min_v": _fmt(setup.no_load_low_v),
                "voltage_max_v": _fmt(setup.no_load_high_v),
                "max_pulses": int(setup.max_pulses),
            }
            factor = (no_load.get("duration_factor_min") or {}).get(setup.accuracy_class)
            if factor is not None:
                # IEC 62053-21:2003 8.3.2: Δt ≥ factor / (k · m · Un · Imax) min, one measuring element (m = 1).
                minutes = Decimal(factor) / (setup.constant * setup.un_v * setup.imax_a)
                no_load_point["min_duration_min"] = _display(minutes, "0.1", decimal.ROUND_CEILING)
        induction = setup.kind == "induction"
        return [
            {
                "test": "accuracy",
                "title_vi": "Xác định sai số cơ bản",
                "title_en": "Basic error (accuracy)",
                "required": True,
                "fields": ["current_a", "pf", "position", *MEASURED],
                "methods": [{"method": method, "fields": list(fields)} for method, fields in METHODS.items()],
                "points": points,
            },
            {
                "test": "starting",
                "title_vi": "Kiểm tra ngưỡng độ nhạy",
                "title_en": "Starting test",
                "required": True,
                "fields": ["current_a", "started"],
                "points": [{"current_a": _fmt(setup.starting_a), "current_ib": f"{_fmt(setup.starting_ib)} Ib",
                            "voltage_v": _fmt(setup.un_v), "pf": "1"}],
            },
            {
                "test": "no_load",
                "title_vi": "Kiểm tra tự quay" if induction else "Kiểm tra tự lên số",
                "title_en": "No-load (creep) test",
                "required": True,
                "fields": ["voltage_v", "pulses"],
                "points": [no_load_point],
            },
        ]

    def evaluate(self, spec: Mapping[str, Any], readings: Mapping[str, Any], stage: str = "initial") -> Result:
        """Errors, limits and verdict of one meter.

        readings: ``accuracy`` (required) ``[{"current_a", "pf", <one way of giving the error>, "position"?}]``,
        optional ``starting`` ``{"current_a", "started"}`` and ``no_load`` ``{"voltage_v", "pulses"}``. Other keys
        inside a point are ignored; an unknown test name is an error.
        """
        stage = check_stage(stage)
        setup = self._prepare(spec)
        return _evaluate(setup, readings_mapping(readings), stage)

    def evaluate_many(self, spec: Mapping[str, Any], readings_list: Sequence[Mapping[str, Any]],
                      stage: str = "initial") -> list[Result]:
        """Evaluate a batch of meters of one model (the same spec), e.g. a bench run or a utility lot.

        The spec is validated and its limits computed once. Errors name the meter: ``meters[12].accuracy[2]…``.
        """
        stage = check_stage(stage)
        setup = self._prepare(spec)
        meters = require_list(readings_list, "meters", ReadingsError, min_items=0)
        results = []
        for index, readings in enumerate(meters):
            path = f"meters[{index}]"
            readings = require_mapping(readings, path, ReadingsError)
            try:
                results.append(_evaluate(setup, readings, stage))
            except ReadingsError as exc:
                raise ReadingsError(f"{path}.{exc}") from None
        return results


TYPE = EnergyMeter()


def evaluate_many(spec: Mapping[str, Any], readings_list: Sequence[Mapping[str, Any]],
                  stage: str = "initial") -> list[Result]:
    """Module-level shortcut for :meth:`EnergyMeter.evaluate_many` (batch of meters sharing one spec)."""
    return TYPE.evaluate_many(spec, readings_list, stage)
