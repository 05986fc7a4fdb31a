"""Electronic non-automatic weighing instruments (cân điện tử), OIML R 76-1:2006.

The spec is what the data plate says (Max, e, d, unit, the declared accuracy class, optionally Min and the number
of supports of the load receptor); the class is checked against R 76-1 Table 3, never inferred. The readings are the
weighing test (increasing and decreasing loads), the zero, eccentricity and repeatability tests; errors are taken with
the change-over point method of R 76-1 A.4.4.3 when ΔL is given, and compared with the MPE of Table 6 (doubled in
service, 3.5.2). The tables themselves live in ``data/nawi.json``.

Loads, indications and ΔL are in the unit of the spec (mg, g, kg or t)::

    >>> spec = {"max": "30000", "e": "10", "d": "10", "unit": "g", "accuracy_class": "III"}
    >>> readings = {"weighing": [{"load": "1000", "indication": "1000", "delta_l": "3"}]}
    >>> point = TYPE.evaluate(spec, readings).test("weighing").points[0]
    >>> point["error"], point["mpe"], point["passed"]
    (Decimal('2'), Decimal('5.0'), True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

from . import rules
from ._base import InstrumentType, Result, check_stage, readings_mapping, spec_mapping
# Aliased: pytest, given this file by path, would try to collect a class named Test* as a test case.
from ._base import TestResult as _TestResult
from ._decimal import CONTEXT, choice, parse, require_list, require_mapping, to_str
from .errors import MetrologyError, ReadingsError, SpecError

CLASSES = ("I", "II", "III", "IIII")
UNITS = ("mg", "g", "kg", "t")
DIRECTIONS = ("up", "down")
SPEC_FIELDS = ("max", "e", "d", "unit", "accuracy_class", "min", "supports")
READINGS_FIELDS = ("weighing", "zero", "eccentricity", "repeatability")
MAX_SUPPORTS = 100

# Every number a person types must be below 10^15 with at most 12 decimals: then every sum and product the engine
# forms fits exactly in the 34 digits of ``CONTEXT``, so no verdict ever depends on a rounding.
_MAX_ADJUSTED = 14
_MIN_EXPONENT = -12


# --------------------------------------------------------------------------------------------------------------------
# Numbers and the rule tables


def _rules() -> dict:
    return rules.data("nawi")


def _dec(text: Any) -> Decimal:
    """A number of the data file (written there as a decimal string)."""
    return Decimal(str(text))


def _plain(number: Decimal) -> str:
    """A Decimal as a plain string without insignificant trailing zeros: 1.5E+4 -> 15000, 0.20 -> 0.2."""
    with localcontext(CONTEXT):
        return to_str(number.normalize())


def _last_digit_exponent(number: Decimal) -> int:
    """The power of ten of the last non-zero digit (``-2`` for 1.25, ``3`` for 5000)."""
    sign, digits, exponent = number.as_tuple()
    text = "".join(map(str, digits))
    return int(exponent) + len(text) - len(text.rstrip("0"))


def _number(value: Any, field: str, error: type[MetrologyError], **checks: bool) -> Decimal:
    """``_decimal.parse`` and a range check, so that all later arithmetic is exact (see ``_MAX_ADJUSTED``)."""
    out_of_range = (f"{field}: outside the range the engine handles (at most 15 digits before the decimal point and "
                    f"12 after) ({value!r})")
    try:
        number = parse(value, field, error, **checks)
        if isinstance(value, str):
            exact = Decimal(value.strip())
        elif isinstance(value, (int, Decimal)):
            exact = Decimal(value)
        else:
            exact = number
    except ArithmeticError:  # an exponent beyond what the decimal context can hold
        raise error(out_of_range) from None
    if exact != number or (number != 0 and (number.adjusted() > _MAX_ADJUSTED
                                            or _last_digit_exponent(number) < _MIN_EXPONENT)):
        raise error(out_of_range)
    return number


def _reject_unknown(mapping: Mapping, allowed: Sequence[str], path: str, error: type[MetrologyError]) -> None:
    """Refuse keys the contract does not know: a misspelt ``delta_l`` must not silently change the formula."""
    unknown = sorted(str(key) for key in mapping if key not in allowed)
    if unknown:
        names = ", ".join(f"{path}.{name}" if path else name for name in unknown)
        raise error(f"{names}: unknown field{'s' if len(unknown) > 1 else ''} (allowed: {', '.join(allowed)})")


def is_scale_interval(value: Decimal) -> bool:
    """Whether ``value`` has the form 1, 2 or 5 × 10^k required of e and d (OIML R 76-1:2006, scale intervals).

    >>> is_scale_interval(Decimal("0.05")), is_scale_interval(Decimal("20")), is_scale_interval(Decimal("2.5"))
    (True, True, False)
    """
    if not value.is_finite() or value <= 0:
        return False
    try:
        with localcontext(CONTEXT):
            digits = value.normalize().as_tuple().digits
    except ArithmeticError:  # beyond the context's exponent range: no scale interval of a real instrument
        return False
    return len(digits) == 1 and str(digits[0]) in _rules()["scale_interval"]["mantissas"]


def unit_in_grams(unit: str) -> Decimal:
    """How many grams one ``unit`` (mg, g, kg or t) is.

    >>> unit_in_grams("kg")
    Decimal('1000')
    """
    return _dec(_rules()["units_g"]["values"][choice(unit, "unit", UNITS, SpecError)])


def class_limits(accuracy_class: str, e_g: Decimal) -> dict | None:
    """The row of R 76-1 Table 3 for a class and a verification scale interval e given in grams.

    Returns ``{"n_min", "n_max", "min_e"}`` (``n_max`` ``None`` = no upper limit; ``min_e`` = Min in units of e),
    or ``None`` when the class does not allow this e. OIML R 76-1:2006, Table 3.

    >>> class_limits("III", Decimal("5"))
    {'n_min': Decimal('500'), 'n_max': Decimal('10000'), 'min_e': Decimal('20')}
    >>> class_limits("III", Decimal("0.01")) is None
    True
    """
    accuracy_class = choice(accuracy_class, "accuracy_class", CLASSES, SpecError)
    for row in _rules()["classes"]["rows"]:
        if row["accuracy_class"] != accuracy_class or e_g < _dec(row["e_min_g"]):
            continue
        if row["e_max_g"] is not None and e_g > _dec(row["e_max_g"]):
            continue
        return {"n_min": _dec(row["n_min"]), "n_max": None if row["n_max"] is None else _dec(row["n_max"]),
                "min_e": _dec(row["min_e"])}
    return None


def _class_fits(accuracy_class: str, e_g: Decimal, n: Decimal) -> bool:
    limits = class_limits(accuracy_class, e_g)
    return limits is not None and limits["n_min"] <= n and (limits["n_max"] is None or n <= limits["n_max"])


def _e_range_text(accuracy_class: str) -> str:
    parts = []
    for row in _rules()["classes"]["rows"]:
        if row["accuracy_class"] == accuracy_class:
            low = _plain(_dec(row["e_min_g"]))
            parts.append(f"{low} g ≤ e" + ("" if row["e_max_g"] is None else f" ≤ {_plain(_dec(row['e_max_g']))} g"))
    return " or ".join(parts)


# --------------------------------------------------------------------------------------------------------------------
# The formulas


def _mpe_multiple(accuracy_class: str, e: Decimal, load: Decimal, *, clamp: bool) -> Decimal:
    """The MPE of Table 6 in units of e at ``load``; beyond the table, the last band (``clamp``) or a SpecError."""
    bands = _rules()["mpe"]["bands"][accuracy_class]
    with localcontext(CONTEXT):
        for band in bands:
            if band["up_to_e"] is None or load <= _dec(band["up_to_e"]) * e:
                return _dec(band["mpe_e"])
        if clamp:
            return _dec(bands[-1]["mpe_e"])
        top = _dec(bands[-1]["up_to_e"])
        raise SpecError(f"load: {_plain(load)} is above the MPE table of class {accuracy_class} "
                        f"({_plain(top)} e = {_plain(top * e)}; OIML R 76-1 Table 6)")


def _stage_factor(stage: str) -> Decimal:
    return _dec(_rules()["in_service_factor"]["value"]) if check_stage(stage) == "in_service" else Decimal(1)


def mpe(accuracy_class: str, e: Decimal, load: Decimal, stage: str = "initial") -> Decimal:
    """Maximum permissible error of a non-automatic weighing instrument.

    OIML R 76-1:2006, Table 6 (initial verification); in service the MPE doubles (3.5.2).
    Bands include their upper limit: for class II, 5 000 e is still ±0.5 e.

    :param accuracy_class: "I", "II", "III" or "IIII", as marked on the instrument.
    :param e: verification scale interval, in the unit of ``load``.
    :param load: the applied load.
    :raises SpecError: for an unknown class, or a load above the class's range.

    >>> mpe("II", Decimal("1"), Decimal("5000"))
    Decimal('0.5')
    >>> mpe("II", Decimal("1"), Decimal("5001"), stage="in_service")
    Decimal('2.0')
    """
    accuracy_class = choice(accuracy_class, "accuracy_class", CLASSES, SpecError)
    e = _number(e, "e", SpecError, positive=True)
    load = _number(load, "load", SpecError, non_negative=True)
    factor = _stage_factor(stage)
    multiple = _mpe_multiple(accuracy_class, e, load, clamp=False)
    with localcontext(CONTEXT):
        return factor * multiple * e


def indication_error(load: Decimal, indication: Decimal, e: Decimal, delta_l: Decimal | None = None) -> Decimal:
    """Error of an indication, prior to rounding when the change-over point is known.

    OIML R 76-1:2006, A.4.4.3: at load L with indication I, loads of 0.1 e are added until the indication rises by
    one e; the added load is ΔL and E = I + e/2 − ΔL − L. Without ΔL, E = I − L. At zero L = 0 gives E0.
    All values in the same unit.

    >>> indication_error(Decimal("1000"), Decimal("1000"), Decimal("10"), Decimal("3"))
    Decimal('2')
    >>> indication_error(Decimal("1000"), Decimal("1010"), Decimal("10"))
    Decimal('10')
    """
    with localcontext(CONTEXT):
        if delta_l is None:
            return indication - load
        return indication + e / 2 - delta_l - load


def recommended_eccentricity_load(max_: Decimal, supports: int) -> Decimal:
    """The eccentricity test load: Max/3 for at most 4 supports, Max/(n − 1) for n > 4 (OIML R 76-1:2006, A.4.7).

    Exact (not rounded to e): compare a load with it, or round it for the test plan.

    >>> recommended_eccentricity_load(Decimal("30000"), 4)
    Decimal('10000')
    >>> recommended_eccentricity_load(Decimal("60000"), 6)
    Decimal('12000')
    """
    with localcontext(CONTEXT):
        return max_ / _eccentricity_divisor(supports)


def _eccentricity_divisor(supports: int) -> Decimal:
    table = _rules()["eccentricity"]
    if supports <= int(table["max_supports_for_quarters"]):
        return _dec(table["quarters_load_divisor"])
    return Decimal(supports - 1)


# --------------------------------------------------------------------------------------------------------------------
# Reading the readings


class _Instrument:
    """The validated spec as Decimals, with the figures every test needs."""

    def __init__(self, clean: Mapping[str, str], stage: str) -> None:
        self.accuracy_class = clean["accuracy_class"]
        self.unit = clean["unit"]
        self.max = Decimal(clean["max"])
        self.min = Decimal(clean["min"])
        self.e = Decimal(clean["e"])
        self.supports = int(clean["supports"])
        self.stage = stage
        self.factor = _stage_factor(stage)
        with localcontext(CONTEXT):
            self.n = self.max / self.e
            self.highest_load = self.max + _dec(_rules()["max_indication"]["above_max_e"]) * self.e

    def mpe(self, load: Decimal) -> Decimal:
        """MPE at a load that may lie between Max and Max + 9 e (beyond Table 6's last band: that band)."""
        multiple = _mpe_multiple(self.accuracy_class, self.e, load, clamp=True)
        with localcontext(CONTEXT):
            return self.factor * multiple * self.e

    def load(self, value: Any, field: str, *, positive: bool = False) -> Decimal:
        checks = {"positive": True} if positive else {"non_negative": True}
        load = _number(value, field, ReadingsError, **checks)
        if load > self.highest_load:
            raise ReadingsError(f"{field}: {_plain(load)} {self.unit} is above Max + 9 e ({_plain(self.highest_load)} "
                                f"{self.unit}); the instrument shows no indication there (OIML R 76-1 4.2.3)")
        return load

    def delta_l(self, mapping: Mapping, path: str) -> Decimal | None:
        value = mapping.get("delta_l")
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        delta_l = _number(value, f"{path}.delta_l", ReadingsError, non_negative=True)
        # Loads of 0.1 e are added until the indication rises by one e: ΔL can never exceed e (A.4.4.3).
        if delta_l > self.e:
            raise ReadingsError(f"{path}.delta_l: must be between 0 and e (0 … {_plain(self.e)} {self.unit}), "
                                f"got {_plain(delta_l)}")
        return delta_l

    def reading(self, mapping: Any, path: str, load: Decimal, allowed: Sequence[str]) -> dict:
        """Parse ``{"indication", "delta_l"?}`` (and the ``allowed`` extra keys' presence) and compute E."""
        mapping = require_mapping(mapping, path, ReadingsError)
        _reject_unknown(mapping, allowed, path, ReadingsError)
        indication = _number(mapping.get("indication"), f"{path}.indication", ReadingsError)
        delta_l = self.delta_l(mapping, path)
        return {"indication": indication, "delta_l": delta_l,
                "error": indication_error(load, indication, self.e, delta_l)}


def _position_label(value: Any, field: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ReadingsError(f"{field}: must be a label such as \"1\" or \"centre\" (got {value!r})")
    label = str(value).strip()
    if not label:
        raise ReadingsError(f"{field}: missing")
    return label


# --------------------------------------------------------------------------------------------------------------------
# The instrument type


class NonAutomaticWeighingInstrument(InstrumentType):
    """Electronic non-automatic weighing instruments of classes I to IIII (OIML R 76-1:2006)."""

    code = "nawi"
    name_vi = "Cân điện tử (cân không tự động)"
    name_en = "Electronic non-automatic weighing instrument"
    references = (
        "OIML R 76-1:2006 Non-automatic weighing instruments, Part 1",
        "ĐLVN 14:2009 (platform scales)",
        "ĐLVN 15:2009 (table scales)",
        "ĐLVN 16 (analytical and precision balances)",
    )

    # ---- spec -------------------------------------------------------------------------------------------------------

    def validate_spec(self, spec: Mapping[str, Any]) -> dict:
        """Check the plate data against R 76-1 Table 3 and return them normalised.

        ``{"max", "e", "d", "unit", "accuracy_class", "min"?, "supports"?}``; Min defaults to the class's minimum
        capacity (Table 3), ``supports`` (of the load receptor) to 4.

        >>> TYPE.validate_spec({"max": "30", "e": "0.010", "d": "0.01", "unit": "kg", "accuracy_class": "III"})
        {'max': '30', 'e': '0.01', 'd': '0.01', 'unit': 'kg', 'accuracy_class': 'III', 'min': '0.2', 'supports': '4'}
        """
        spec = spec_mapping(spec)
        _reject_unknown(spec, SPEC_FIELDS, "", SpecError)
        max_ = _number(spec.get("max"), "max", SpecError, positive=True)
        e = _number(spec.get("e"), "e", SpecError, positive=True)
        d = _number(spec.get("d"), "d", SpecError, positive=True)
        unit = choice(spec.get("unit"), "unit", UNITS, SpecError)
        accuracy_class = choice(spec.get("accuracy_class"), "accuracy_class", CLASSES, SpecError)
        for name, value in (("e", e), ("d", d)):
            if not is_scale_interval(value):
                raise SpecError(f"{name}: must be 1, 2 or 5 × 10^k {unit} (got {_plain(value)})")
        if d > e:
            raise SpecError(f"d: must not exceed e (d = {_plain(d)} {unit}, e = {_plain(e)} {unit})")
        with localcontext(CONTEXT):
            if max_ % e != 0:
                raise SpecError(f"max: must be a whole number of scale intervals e "
                                f"(Max = {_plain(max_)} {unit}, e = {_plain(e)} {unit})")
            n = max_ / e
            e_g = e * unit_in_grams(unit)
        limits = class_limits(accuracy_class, e_g)
        if limits is None:
            raise SpecError(f"accuracy_class: class {accuracy_class} needs {_e_range_text(accuracy_class)}, "
                            f"but e = {_plain(e_g)} g (OIML R 76-1 Table 3)")
        if n < limits["n_min"] or (limits["n_max"] is not None and n > limits["n_max"]):
            allowed = f"{_plain(limits['n_min'])} … " + ("" if limits["n_max"] is None else _plain(limits["n_max"]))
            fitting = [c for c in CLASSES if _class_fits(c, e_g, n)]
            hint = f"; Table 3 allows class {' or '.join(fitting)}" if fitting else ""
            raise SpecError(f"accuracy_class: n = Max/e = {_plain(n)} is out of range for class {accuracy_class} "
                            f"with e = {_plain(e_g)} g (n must be {allowed.strip()}, OIML R 76-1 Table 3){hint}")
        with localcontext(CONTEXT):
            class_min = limits["min_e"] * e
        min_value = spec.get("min")
        if min_value is None or (isinstance(min_value, str) and not min_value.strip()):
            min_ = class_min
        else:
            min_ = _number(min_value, "min", SpecError, positive=True)
            if min_ < class_min:
                raise SpecError(f"min: {_plain(min_)} {unit} is below the minimum capacity of class {accuracy_class} "
                                f"({_plain(limits['min_e'])} e = {_plain(class_min)} {unit}, OIML R 76-1 Table 3)")
            if min_ >= max_:
                raise SpecError(f"min: must be below Max (Min = {_plain(min_)} {unit}, Max = {_plain(max_)} {unit})")
        supports_value = spec.get("supports")
        if supports_value is None or (isinstance(supports_value, str) and not supports_value.strip()):
            supports = 4
        else:
            supports = int(_number(supports_value, "supports", SpecError, positive=True, integer=True))
            if supports > MAX_SUPPORTS:
                raise SpecError(f"supports: at most {MAX_SUPPORTS} supports (got {supports})")
        return {"max": _plain(max_), "e": _plain(e), "d": _plain(d), "unit": unit, "accuracy_class": accuracy_class,
                "min": _plain(min_), "supports": str(supports)}

    def interval_criteria(self, spec: dict) -> dict:
        """The verification interval depends on the accuracy class (TT 23/2013, TT 03/2024)."""
        return {"accuracy_class": spec["accuracy_class"]}

    # ---- test plan --------------------------------------------------------------------------------------------------

    def test_plan(self, spec: Mapping[str, Any], stage: str = "initial") -> list[dict]:
        """The zero, weighing, eccentricity and repeatability tests and their loads (R 76-1 A.4), JSON-ready.

        Weighing: Min, the loads where the MPE changes (Table 6) between Min and Max, about 50 % Max and Max, up
        and back down, at least 5 loads. Loads are decimal strings in the spec's unit, rounded to the scale interval.

        >>> plan = TYPE.test_plan({"max": "30", "e": "0.01", "d": "0.01", "unit": "kg", "accuracy_class": "III"})
        >>> [(p["load"], p["direction"]) for p in plan[1]["points"]][:5]
        [('0.2', 'up'), ('5', 'up'), ('15', 'up'), ('20', 'up'), ('30', 'up')]
        """
        clean = self.validate_spec(spec)
        inst = _Instrument(clean, check_stage(stage))
        table = _rules()
        required = stage == "initial"
        up = _weighing_loads(inst)
        weighing_points = [{"load": _plain(load), "direction": "up", "mpe": to_str(inst.mpe(load))} for load in up]
        weighing_points += [{"load": _plain(load), "direction": "down", "mpe": to_str(inst.mpe(load))}
                            for load in reversed(up[:-1])]
        with localcontext(CONTEXT):
            zero_limit = _dec(table["zero"]["limit_e"]) * inst.e
        ecc_load = _round_load(recommended_eccentricity_load(inst.max, inst.supports), inst)
        ecc_mpe = to_str(inst.mpe(ecc_load))
        ecc_points = [{**position, "load": _plain(ecc_load), "mpe": ecc_mpe} for position in _positions(inst.supports)]
        count = int(table["repeatability"]["readings"][inst.accuracy_class])
        rep_points = []
        for fraction in table["repeatability"]["load_fractions_of_max"]:
            with localcontext(CONTEXT):
                load = _round_load(inst.max * _dec(fraction), inst)
            rep_points.append({"load": _plain(load), "readings": count, "mpe": to_str(inst.mpe(load))})
        return [
            {"test": "zero", "title_vi": "Kiểm tra độ chính xác của điểm không",
             "title_en": "Zero (accuracy of zero-setting)", "required": required,
             "fields": ["indication", "delta_l"],
             "points": [{"load": "0", "limit": to_str(zero_limit)}],
             "source": table["zero"]["source"], "status": table["zero"]["status"]},
            {"test": "weighing", "title_vi": "Kiểm tra sai số khi tăng và giảm tải",
             "title_en": "Weighing test, increasing and decreasing loads", "required": True,
             "fields": ["load", "indication", "delta_l", "direction"], "points": weighing_points,
             "source": table["weighing_plan"]["source"], "status": table["weighing_plan"]["status"]},
            {"test": "eccentricity", "title_vi": "Kiểm tra độ lệch tâm", "title_en": "Eccentricity test",
             "required": required, "load": _plain(ecc_load),
             "fields": ["position", "indication", "delta_l"], "points": ecc_points,
             "source": table["eccentricity"]["source"], "status": table["eccentricity"]["status"]},
            {"test": "repeatability", "title_vi": "Kiểm tra độ lặp lại", "title_en": "Repeatability test",
             "required": required, "fields": ["load", "indication", "delta_l"], "points": rep_points,
             "source": table["repeatability"]["source"], "status": table["repeatability"]["status"]},
        ]

    # ---- evaluation -------------------------------------------------------------------------------------------------

    def evaluate(self, spec: Mapping[str, Any], readings: Mapping[str, Any], stage: str = "initial") -> Result:
        """Errors, MPEs and the verdict of each test given; ``passed`` when every test passed.

        E = I + e/2 − ΔL − L (or I − L), E0 from the zero reading, Ec = E − E0 (R 76-1 A.4.4.3); |Ec| ≤ MPE of
        Table 6 at every load and eccentricity position; repeatability spread ≤ |MPE|; |E0| ≤ 0.25 e.
        """
        clean = self.validate_spec(spec)
        inst = _Instrument(clean, check_stage(stage))
        readings = readings_mapping(readings)
        _reject_unknown(readings, READINGS_FIELDS, "", ReadingsError)
        weighing_items = require_list(readings.get("weighing"), "weighing", ReadingsError)
        tests: list[_TestResult] = []
        e0: Decimal | None = None
        if readings.get("zero") is not None:
            zero_test, e0 = _zero_test(inst, readings["zero"])
            tests.append(zero_test)
        tests.append(_weighing_test(inst, weighing_items, e0))
        if readings.get("eccentricity") is not None:
            tests.append(_eccentricity_test(inst, readings["eccentricity"], e0))
        if readings.get("repeatability") is not None:
            tests.append(_repeatability_test(inst, readings["repeatability"]))
        table = _rules()
        used = ["classes", "mpe", "max_indication", "change_over_point"]
        used += ["in_service_factor"] if stage == "in_service" else []
        used += [t.name for t in tests if t.name != "weighing"]  # zero, eccentricity, repeatability
        sources = [{"table": name, "source": table[name]["source"], "status": table[name]["status"]} for name in used]
        return Result(type_code=self.code, stage=stage, passed=all(t.passed for t in tests), tests=tuple(tests),
                      spec=clean, extra={"n": inst.n, "zero_error": e0, "sources": sources})


# --------------------------------------------------------------------------------------------------------------------
# The tests


def _corrected(error: Decimal, e0: Decimal | None) -> Decimal:
    with localcontext(CONTEXT):
        return error if e0 is None else error - e0


def _zero_test(inst: _Instrument, zero: Any) -> tuple[_TestResult, Decimal]:
    reading = inst.reading(zero, "zero", Decimal(0), ("indication", "delta_l"))
    with localcontext(CONTEXT):
        limit = _dec(_rules()["zero"]["limit_e"]) * inst.e
    passed = abs(reading["error"]) <= limit
    point = {"load": Decimal(0), **reading, "limit": limit, "passed": passed}
    return _TestResult("zero", passed, (point,), {"limit": limit}), reading["error"]


def _weighing_test(inst: _Instrument, items: Sequence, e0: Decimal | None) -> _TestResult:
    points = []
    for index, item in enumerate(items):
        path = f"weighing[{index}]"
        item = require_mapping(item, path, ReadingsError)
        _reject_unknown(item, ("load", "indication", "delta_l", "direction"), path, ReadingsError)
        load = inst.load(item.get("load"), f"{path}.load")
        direction = item.get("direction")
        if direction is None or (isinstance(direction, str) and not direction.strip()):
            direction = "up"
        else:
            direction = choice(direction, f"{path}.direction", DIRECTIONS, ReadingsError)
        reading = inst.reading(item, path, load, ("load", "indication", "delta_l", "direction"))
        corrected = _corrected(reading["error"], e0)
        limit = inst.mpe(load)
        points.append({"load": load, **reading, "direction": direction, "corrected_error": corrected, "mpe": limit,
                       "passed": abs(corrected) <= limit})
    return _TestResult("weighing", all(p["passed"] for p in points), tuple(points))


def _eccentricity_test(inst: _Instrument, data: Any, e0: Decimal | None) -> _TestResult:
    table = _rules()["eccentricity"]
    data = require_mapping(data, "eccentricity", ReadingsError)
    _reject_unknown(data, ("load", "positions"), "eccentricity", ReadingsError)
    load = inst.load(data.get("load"), "eccentricity.load", positive=True)
    positions = require_list(data.get("positions"), "eccentricity.positions", ReadingsError)
    limit = inst.mpe(load)
    points = []
    for index, item in enumerate(positions):
        path = f"eccentricity.positions[{index}]"
        item = require_mapping(item, path, ReadingsError)
        label = _position_label(item.get("position"), f"{path}.position")
        reading = inst.reading(item, path, load, ("position", "indication", "delta_l"))
        corrected = _corrected(reading["error"], e0)
        points.append({"position": label, "load": load, **reading, "corrected_error": corrected, "mpe": limit,
                       "passed": abs(corrected) <= limit})
    recommended = _round_load(recommended_eccentricity_load(inst.max, inst.supports), inst)
    warnings = []
    with localcontext(CONTEXT):
        # |load − Max/k| ≤ tolerance × Max/k, multiplied through by k to stay exact.
        divisor = _eccentricity_divisor(inst.supports)
        far_off = abs(divisor * load - inst.max) > _dec(table["load_tolerance"]) * inst.max
    if far_off:
        share = "1/3 Max" if inst.supports <= int(table["max_supports_for_quarters"]) else \
            f"Max/(n − 1) for {inst.supports} supports"
        warnings.append(f"eccentricity.load: {_plain(load)} {inst.unit} is far from the recommended "
                        f"{_plain(recommended)} {inst.unit} ({share}, OIML R 76-1 A.4.7)")
    expected = _expected_positions(inst.supports)
    if len(points) < expected:
        warnings.append(f"eccentricity.positions: {len(points)} position{'s' if len(points) > 1 else ''} measured, "
                        f"the method asks for {expected}")
    return _TestResult("eccentricity", all(p["passed"] for p in points), tuple(points),
                      {"load": load, "recommended_load": recommended, "mpe": limit, "warnings": warnings})


def _repeatability_test(inst: _Instrument, data: Any) -> _TestResult:
    series = require_list(data, "repeatability", ReadingsError)
    planned = int(_rules()["repeatability"]["readings"][inst.accuracy_class])
    points = []
    warnings = []
    for index, item in enumerate(series):
        path = f"repeatability[{index}]"
        item = require_mapping(item, path, ReadingsError)
        _reject_unknown(item, ("load", "readings"), path, ReadingsError)
        load = inst.load(item.get("load"), f"{path}.load", positive=True)
        raw = require_list(item.get("readings"), f"{path}.readings", ReadingsError, min_items=2)
        readings = [inst.reading(r, f"{path}.readings[{j}]", load, ("indication", "delta_l"))
                    for j, r in enumerate(raw)]
        errors = [r["error"] for r in readings]
        with localcontext(CONTEXT):
            spread = max(errors) - min(errors)
        limit = inst.mpe(load)
        points.append({"load": load, "readings": readings, "spread": spread, "mpe": limit, "passed": spread <= limit})
        if len(readings) < planned:
            warnings.append(f"{path}.readings: {len(readings)} weighings, the method asks for {planned} "
                            f"for class {inst.accuracy_class}")
    with localcontext(CONTEXT):
        worst = min(points, key=lambda p: p["mpe"] - p["spread"])
    return _TestResult("repeatability", all(p["passed"] for p in points), tuple(points),
                      {"spread": worst["spread"], "mpe": worst["mpe"], "warnings": warnings})


# --------------------------------------------------------------------------------------------------------------------
# Test plan helpers


def _round_load(load: Decimal, inst: _Instrument) -> Decimal:
    """A convenient test load near ``load``: kept when already a multiple of e with at most 3 significant digits,
    else rounded to 2 significant digits and to a multiple of e; never outside Min … Max."""
    with localcontext(CONTEXT):
        simple = load.normalize()
        if load % inst.e == 0 and len(simple.as_tuple().digits) <= 3:
            rounded = load
        else:
            step = Decimal(1).scaleb(load.adjusted() - 1)
            rounded = load.quantize(step, rounding=ROUND_HALF_UP)
            rounded = (rounded / inst.e).to_integral_value(rounding=ROUND_HALF_UP) * inst.e
        return min(max(rounded, inst.min), inst.max)


def _weighing_loads(inst: _Instrument) -> list[Decimal]:
    """Min, the MPE band edges strictly between Min and Max, about 50 % Max and Max (R 76-1 A.4.4.1)."""
    table = _rules()
    loads = {inst.min, inst.max}
    with localcontext(CONTEXT):
        for band in table["mpe"]["bands"][inst.accuracy_class][:-1]:
            edge = _dec(band["up_to_e"]) * inst.e
            if inst.min < edge < inst.max:
                loads.add(edge)
        loads.add(_round_load(inst.max / 2, inst))
        for fraction in table["weighing_plan"]["fill_fractions_of_max"]:
            if len(loads) >= int(table["weighing_plan"]["min_loads"]):
                break
            loads.add(_round_load(inst.max * _dec(fraction), inst))
    return sorted(loads)


def _expected_positions(supports: int) -> int:
    table = _rules()["eccentricity"]
    return int(table["quarter_positions"]) if supports <= int(table["max_supports_for_quarters"]) else supports


def _positions(supports: int) -> list[dict]:
    """Centre and four quarters of the load receptor (≤ 4 supports), else one position per support (R 76-1 A.4.7)."""
    if supports > int(_rules()["eccentricity"]["max_supports_for_quarters"]):
        return [{"position": str(k), "label_vi": f"Gối đỡ {k}", "label_en": f"support {k}"}
                for k in range(1, supports + 1)]
    positions = [{"position": "1", "label_vi": "Tâm", "label_en": "centre"}]
    positions += [{"position": str(k + 1), "label_vi": f"Góc phần tư {k}", "label_en": f"quarter {k}"}
                  for k in range(1, _expected_positions(supports))]
    return positions


TYPE = NonAutomaticWeighingInstrument()
