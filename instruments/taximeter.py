"""Taximeters (taximet): distance, time and fare errors and the verdict of a verification.

Standards: OIML R 21:2007 "Taximeters"; Directive 2014/32/EU (MID) Annex IX, instrument-specific annex MI-007;
in Vietnam the verification procedure ĐLVN 01:2019 and the verification interval of TT 03/2024/TT-BKHCN.

A taximeter is tested in one of two modes (readings ``mode``):

- ``installed`` (the default): the taximeter in its vehicle, driven over a measured road course or on a roller bench.
  ``distance`` is required (at least one course); ``time`` and ``fare`` are optional, because the vehicle test is
  what checks the distance signal of the vehicle, and the time base is checked on the taximeter itself.
- ``alone``: the taximeter on its own, the distance simulated with a pulse generator (k pulses per km) and the time
  against a reference timer. Both ``distance`` and ``time`` are required (MI-007 point 17 gives a limit for each
  of them); ``fare`` is optional.

Errors, for distance and time (DOMAIN.md §5)::

    e = (I − R) / R × 100 %                         I indicated, R reference (conventional true value)

Limits (MI-007 point 17 for the taximeter alone; ±2 % for distance in the vehicle per a Vietnamese provincial report,
see ``data/taximeter.json`` for each value's source and status)::

    δ = max(p / 100 × R, δ_min)                     p the relative limit in %, δ_min the absolute floor

A point passes when |I − R| ≤ δ (an error equal to the limit passes). The fare shown must equal the fare computed
from the tariff within max(0.1 % × F, one least-significant digit of the fare indication). The same limits apply on
initial and in-service verification: no separate in-service limit was found.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any

from . import rules
from ._base import InstrumentType, Result, check_stage, readings_mapping, spec_mapping
from ._base import TestResult as _TestResult  # aliased: pytest would try to collect a "Test…" class here
from ._decimal import CONTEXT, choice, parse, require_list, require_mapping, to_str
from .errors import MetrologyError, ReadingsError, SpecError

MODES = ("installed", "alone")
QUANTITIES = ("distance", "time", "fare")
SPEC_KEYS = ("k_imp_per_km", "vehicle_plate")
READINGS_KEYS = ("mode", "distance", "time", "fare", "fare_resolution")
PLATE_MAX_LENGTH = 20

#: For distance and time: the unit and the readings keys of a point.
_FIELDS = {"distance": ("m", "reference_m", "indicated_m"), "time": ("s", "reference_s", "indicated_s")}
_TITLES = {
    "distance": ("Kiểm tra sai số quãng đường", "Distance error"),
    "time": ("Kiểm tra sai số thời gian", "Time error"),
    "fare": ("Kiểm tra tính tiền cước", "Fare calculation"),
}
#: Non-zero numbers must lie between 10^-12 and 10^13 in magnitude (keeps every quotient finite and exact enough).
_MAX_ADJUSTED_EXPONENT = 12


@dataclass(frozen=True)
class Limit:
    """The limit of error for one quantity in one mode: ±``relative_pct`` % of the reference, at least ±``floor``."""

    quantity: str
    mode: str
    relative_pct: Decimal
    floor: Decimal | None
    unit: str
    source: str
    status: str

    def absolute(self, reference: Decimal, floor: Decimal | None = None) -> Decimal:
        """The effective absolute limit at ``reference``; ``floor`` replaces the table's floor when given."""
        return permissible_error(reference, self.relative_pct, self.floor if floor is None else floor)

    def basis(self) -> dict:
        """JSON-ready description of the limit and its legal source, for printing next to a result."""
        return {"limit_pct": self.relative_pct, "floor": self.floor, "unit": self.unit, "source": self.source,
                "status": self.status}


def limit(quantity: str, mode: str = "alone") -> Limit:
    """The limit of error for ``quantity`` ("distance", "time" or "fare") of a taximeter tested in ``mode``.

    Directive 2014/32/EU Annex IX (MI-007) point 17 for the taximeter alone (time ±0.1 %, at least 0.2 s; distance
    ±0.2 %, at least 4 m; fare ±0.1 %, at least one least-significant digit); in the vehicle ±2 % for distance
    (Vietnamese provincial report, secondary). Values, sources and statuses come from ``data/taximeter.json``.

    :raises ReadingsError: for an unknown mode or quantity.

    >>> limit("distance").relative_pct, limit("distance").floor
    (Decimal('0.2'), Decimal('4'))
    >>> limit("distance", "installed").relative_pct, limit("distance", "installed").status
    (Decimal('2'), 'secondary')
    """
    mode = choice(mode, "mode", MODES, ReadingsError)
    quantity = choice(quantity, "quantity", QUANTITIES, ReadingsError)
    row = rules.data("taximeter")["limits"][mode][quantity]
    floor = row.get("floor")
    return Limit(quantity=quantity, mode=mode, relative_pct=Decimal(str(row["relative_pct"])),
                 floor=None if floor is None else Decimal(str(floor)), unit=row["unit"], source=row["source"],
                 status=row["status"])


def relative_error_pct(indicated: Decimal, reference: Decimal) -> Decimal:
    """Relative error in %: e = (I − R) / R × 100 (OIML R 21:2007; DOMAIN.md §5), for distance, time and fare.

    :param indicated: I, the value the taximeter shows (m, s or currency units).
    :param reference: R, the reference value in the same unit; must not be zero.

    >>> relative_error_pct(Decimal("1003"), Decimal("1000"))
    Decimal('0.3')
    >>> relative_error_pct(Decimal("59.94"), Decimal("60"))
    Decimal('-0.10')
    """
    with localcontext(CONTEXT):
        return (indicated - reference) * 100 / reference


def permissible_error(reference: Decimal, relative_pct: Decimal, floor: Decimal | None = None) -> Decimal:
    """Effective absolute limit δ = max(p / 100 × R, δ_min), in the unit of ``reference``.

    Directive 2014/32/EU Annex IX (MI-007) point 17: each limit is a percentage with a "minimum value of mpe".

    :param reference: R, the reference distance (m), time (s) or computed fare.
    :param relative_pct: p, the relative limit in %.
    :param floor: δ_min, the absolute floor in the unit of ``reference``; ``None`` for none.

    >>> permissible_error(Decimal("1000"), Decimal("0.2"), Decimal("4"))
    Decimal('4')
    >>> permissible_error(Decimal("5000"), Decimal("0.2"), Decimal("4"))
    Decimal('10.0')
    """
    with localcontext(CONTEXT):
        relative = relative_pct * reference / 100
    if floor is not None and floor > relative:
        return floor
    return relative


def mpe(quantity: str, reference: Decimal, mode: str = "alone", fare_resolution: Decimal | None = None) -> Decimal:
    """Maximum permissible error (absolute, ±) of a taximeter at ``reference``.

    Directive 2014/32/EU Annex IX (MI-007) point 17 and OIML R 21:2007 for the taximeter alone; ±2 % for distance
    in the vehicle (see :func:`limit`). For the fare the floor is one least-significant digit of the fare indication,
    ``fare_resolution`` (default from the data table: 1 VND).

    :param quantity: "distance" (reference in m), "time" (in s) or "fare" (the fare computed from the tariff).
    :param reference: the reference value, greater than zero.
    :param mode: "alone" or "installed".

    >>> mpe("distance", Decimal("1000"))
    Decimal('4')
    >>> mpe("time", Decimal("3600"))
    Decimal('3.6')
    >>> mpe("distance", Decimal("1000"), mode="installed")
    Decimal('20')
    >>> mpe("fare", Decimal("250000"), fare_resolution=Decimal("1000"))
    Decimal('1000')
    """
    row = limit(quantity, mode)
    if row.quantity == "fare":
        return row.absolute(reference, fare_resolution if fare_resolution is not None else _default_resolution())
    return row.absolute(reference)


def _default_resolution() -> Decimal:
    return Decimal(str(rules.data("taximeter")["default_fare_resolution"]))


def _number(value: Any, field: str, error: type[MetrologyError], **checks: bool) -> Decimal:
    """``_decimal.parse`` plus a range check, so no quotient of two typed numbers can overflow."""
    number = parse(value, field, error, **checks)
    if number != 0 and abs(number.adjusted()) > _MAX_ADJUSTED_EXPONENT:
        raise error(f"{field}: out of range ({value!r})")
    return number


def _optional_number(mapping: Mapping, key: str, field: str, error: type[MetrologyError],
                     **checks: bool) -> Decimal | None:
    value = mapping.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _number(value, field, error, **checks)


def _reject_unknown(mapping: Mapping, allowed: Iterable[str], prefix: str, error: type[MetrologyError]) -> None:
    """Raise ``error`` naming every key of ``mapping`` that is not in ``allowed``."""
    allowed = tuple(allowed)
    unknown = sorted(str(key) for key in mapping if key not in allowed)
    if unknown:
        names = ", ".join(prefix + name for name in unknown)
        plural = "s" if len(unknown) > 1 else ""
        raise error(f"{names}: unknown field{plural} (allowed: {', '.join(allowed)})")


def _mode(value: Any) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        return MODES[0]
    return choice(value, "mode", MODES, ReadingsError)


def _plate(value: Any) -> str | None:
    """Vehicle registration plate: whitespace collapsed, upper case, at most 20 characters."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise SpecError(f"vehicle_plate: must be text, got {type(value).__name__}")
    plate = " ".join(value.split()).upper()
    if len(plate) > PLATE_MAX_LENGTH:
        raise SpecError(f"vehicle_plate: longer than {PLATE_MAX_LENGTH} characters ({value!r})")
    return plate or None


def _measurement(quantity: str, items: Any, mode: str) -> _TestResult:
    """The ``distance`` or ``time`` test: error and limit at each point, in the order given."""
    unit, reference_key, indicated_key = _FIELDS[quantity]
    row = limit(quantity, mode)
    allowed = (reference_key, indicated_key, "pulses") if quantity == "distance" else (reference_key, indicated_key)
    points = []
    for index, item in enumerate(require_list(items, quantity, ReadingsError)):
        path = f"{quantity}[{index}]"
        point = require_mapping(item, path, ReadingsError)
        _reject_unknown(point, allowed, f"{path}.", ReadingsError)
        reference = _number(point.get(reference_key), f"{path}.{reference_key}", ReadingsError, positive=True)
        indicated = _number(point.get(indicated_key), f"{path}.{indicated_key}", ReadingsError, non_negative=True)
        out: dict[str, Any] = {reference_key: reference, indicated_key: indicated}
        if quantity == "distance":
            pulses = _optional_number(point, "pulses", f"{path}.pulses", ReadingsError, non_negative=True)
            if pulses is not None:
                out["pulses"] = pulses
        with localcontext(CONTEXT):
            error = indicated - reference
        delta = row.absolute(reference)
        out.update({
            f"error_{unit}": error,
            "error_pct": relative_error_pct(indicated, reference),
            "limit_pct": row.relative_pct,
            f"limit_{unit}": delta,
            "passed": abs(error) <= delta,
        })
        points.append(out)
    return _TestResult(name=quantity, passed=all(p["passed"] for p in points), points=tuple(points),
                      extra={"basis": row.basis()})


def _fare(items: Any, mode: str, resolution: Decimal) -> _TestResult:
    """The ``fare`` test: the fare shown against the fare computed from the tariff (MI-007 point 17)."""
    row = limit("fare", mode)
    points = []
    for index, item in enumerate(require_list(items, "fare", ReadingsError)):
        path = f"fare[{index}]"
        point = require_mapping(item, path, ReadingsError)
        _reject_unknown(point, ("indicated", "computed"), f"{path}.", ReadingsError)
        indicated = _number(point.get("indicated"), f"{path}.indicated", ReadingsError, non_negative=True)
        computed = _number(point.get("computed"), f"{path}.computed", ReadingsError, positive=True)
        with localcontext(CONTEXT):
            error = indicated - computed
        delta = row.absolute(computed, floor=resolution)
        points.append({
            "indicated": indicated,
            "computed": computed,
            "error": error,
            "error_pct": relative_error_pct(indicated, computed),
            "limit_pct": row.relative_pct,
            "limit": delta,
            "passed": abs(error) <= delta,
        })
    basis = {**row.basis(), "floor": resolution}
    return _TestResult(name="fare", passed=all(p["passed"] for p in points), points=tuple(points),
                      extra={"resolution": resolution, "basis": basis})


class Taximeter(InstrumentType):
    """Taximeter: OIML R 21:2007, Directive 2014/32/EU Annex IX (MI-007), ĐLVN 01:2019.

    spec ``{"k_imp_per_km"?, "vehicle_plate"?}``; readings ``{"mode"?, "distance", "time"?, "fare"?,
    "fare_resolution"?}`` (see the module docstring for which tests each mode requires).
    """

    code = "taximeter"
    name_vi = "Taximet"
    name_en = "Taximeter"
    references = (
        "OIML R 21:2007",
        "Directive 2014/32/EU, Annex IX (MI-007)",
        "ĐLVN 01:2019",
        "TT 03/2024/TT-BKHCN",
    )

    def validate_spec(self, spec: Mapping[str, Any]) -> dict:
        """Normalised copy: ``k_imp_per_km`` (> 0) as a decimal string, ``vehicle_plate`` upper case; both optional.

        >>> TYPE.validate_spec({"k_imp_per_km": " 1600 ", "vehicle_plate": " 51a-123.45 "})
        {'k_imp_per_km': '1600', 'vehicle_plate': '51A-123.45'}
        """
        spec = spec_mapping(spec)
        _reject_unknown(spec, SPEC_KEYS, "", SpecError)
        clean: dict[str, Any] = {}
        k = _optional_number(spec, "k_imp_per_km", "k_imp_per_km", SpecError, positive=True)
        if k is not None:
            clean["k_imp_per_km"] = to_str(k)
        plate = _plate(spec.get("vehicle_plate"))
        if plate is not None:
            clean["vehicle_plate"] = plate
        return clean

    def test_plan(self, spec: Mapping[str, Any], stage: str = "initial", mode: str = "installed") -> list[dict]:
        """The tests and points to measure for ``mode`` ("installed", the default, or "alone").

        Installed: distance courses (required), a time run and the fare (optional). Alone: simulated distances and
        time runs (required), the fare (optional); with ``k_imp_per_km`` known each distance point also gives the
        number of ``pulses`` to simulate, k × L / 1000. The values are proposals kept in ``data/taximeter.json``.

        >>> [(t["test"], t["required"]) for t in TYPE.test_plan({}, mode="alone")]
        [('distance', True), ('time', True), ('fare', False)]
        >>> TYPE.test_plan({"k_imp_per_km": "1600"}, mode="alone")[0]["points"][0]
        {'reference_m': '1000', 'indicated_m': None, 'pulses': '1600'}
        """
        clean = self.validate_spec(spec)
        check_stage(stage)
        mode = _mode(mode)
        plan = rules.data("taximeter")["test_plan"][mode]
        k = Decimal(clean["k_imp_per_km"]) if "k_imp_per_km" in clean else None
        tests = []
        for quantity in QUANTITIES:
            entry = plan[quantity]
            if quantity == "fare":
                count = len(plan["distance"]["reference_m"])
                points = [{"indicated": None, "computed": None} for _ in range(count)]
            else:
                unit, reference_key, indicated_key = _FIELDS[quantity]
                points = []
                for value in entry[reference_key]:
                    point: dict[str, Any] = {reference_key: str(value), indicated_key: None}
                    if quantity == "distance" and mode == "alone" and k is not None:
                        with localcontext(CONTEXT):
                            point["pulses"] = to_str((k * Decimal(str(value)) / 1000).normalize())
                    points.append(point)
            title_vi, title_en = _TITLES[quantity]
            item = {"test": quantity, "title_vi": title_vi, "title_en": title_en, "required": bool(entry["required"]),
                    "mode": mode, "points": points}
            if quantity == "fare":
                item["fare_resolution"] = to_str(_default_resolution())
            item["source"] = entry["source"]
            item["status"] = entry["status"]
            tests.append(item)
        return tests

    def evaluate(self, spec: Mapping[str, Any], readings: Mapping[str, Any], stage: str = "initial") -> Result:
        """Errors, limits and the verdict: ``passed`` when every test performed passed.

        >>> r = TYPE.evaluate({}, {"mode": "alone", "distance": [{"reference_m": "1000", "indicated_m": "1003"}],
        ...                        "time": [{"reference_s": "60", "indicated_s": "60.2"}]})
        >>> r.passed, r.test("distance").points[0]["error_pct"], r.test("distance").points[0]["limit_m"]
        (True, Decimal('0.3'), Decimal('4'))
        """
        clean = self.validate_spec(spec)
        stage = check_stage(stage)
        readings = readings_mapping(readings)
        _reject_unknown(readings, READINGS_KEYS, "", ReadingsError)
        mode = _mode(readings.get("mode"))
        resolution = _optional_number(readings, "fare_resolution", "fare_resolution", ReadingsError, positive=True)
        tests = [_measurement("distance", readings.get("distance"), mode)]
        if readings.get("time") is not None:
            tests.append(_measurement("time", readings.get("time"), mode))
        elif mode == "alone":
            raise ReadingsError("time: missing (required when mode is alone)")
        if readings.get("fare") is not None:
            tests.append(_fare(readings.get("fare"), mode, resolution if resolution is not None
                               else _default_resolution()))
        return Result(type_code=self.code, stage=stage, passed=all(t.passed for t in tests), tests=tuple(tests),
                      spec=clean, extra={"mode": mode})

    def interval_criteria(self, spec: dict) -> dict:
        """The interval table matches taximeters on the type alone (12 months before 15/10/2024, 18 from then)."""
        return {}


TYPE = Taximeter()
