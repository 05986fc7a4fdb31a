"""What every instrument type shares: the interface of DESIGN.md §6 and the result objects."""

from __future__ import annotations

import abc
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import rules
from ._decimal import jsonable, require_mapping
from .errors import ReadingsError, SpecError

#: Bumped whenever a formula or a result shape changes; stored with every result so that a certificate can be
#: recomputed years later with the engine (and the data tables, see ``rules.digest()``) that produced it.
ENGINE_VERSION = "1.0.0"

STAGES = ("initial", "in_service")


@dataclass(frozen=True)
class TestResult:
    """One test of a verification (``weighing``, ``accuracy`` …) and its points, in the order they were given.

    ``points`` are mappings whose numbers are ``Decimal``; ``extra`` holds test-level figures (e.g. the
    repeatability ``spread`` and its ``mpe``).
    """

    __test__ = False  # not a pytest test class, despite its name

    name: str
    passed: bool
    points: tuple[Mapping[str, Any], ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return jsonable({"name": self.name, "passed": self.passed, "points": list(self.points), **self.extra})


@dataclass(frozen=True)
class Result:
    """The outcome of ``InstrumentType.evaluate``: the verdict, each test, and the figures behind them."""

    type_code: str
    stage: str
    passed: bool
    tests: tuple[TestResult, ...]
    spec: Mapping[str, Any]
    extra: Mapping[str, Any] = field(default_factory=dict)
    engine_version: str = ENGINE_VERSION

    def test(self, name: str) -> TestResult:
        """The test called ``name``; ``KeyError`` when it was not performed."""
        for test in self.tests:
            if test.name == name:
                return test
        raise KeyError(name)

    def to_dict(self) -> dict:
        """JSON-ready result: numbers as decimal strings, tests in a stable order."""
        return {
            "type": self.type_code,
            "stage": self.stage,
            "passed": self.passed,
            "tests": [t.to_dict() for t in self.tests],
            **jsonable(dict(self.extra)),
            "spec": jsonable(dict(self.spec)),
            "engine_version": self.engine_version,
            "rules_digest": rules.digest(),
        }


class InstrumentType(abc.ABC):
    """One kind of measuring instrument. Subclasses implement the four operations of DESIGN.md §6."""

    code: str
    name_vi: str
    name_en: str
    #: The standards and procedures the module follows, for printing on records.
    references: tuple[str, ...] = ()

    @abc.abstractmethod
    def validate_spec(self, spec: Mapping[str, Any]) -> dict:
        """Return a normalised copy of ``spec`` (numbers as decimal strings); ``SpecError`` names the bad field."""

    @abc.abstractmethod
    def test_plan(self, spec: Mapping[str, Any], stage: str = "initial") -> list[dict]:
        """The tests to perform and the points to measure, JSON-ready (drives the data-entry forms)."""

    @abc.abstractmethod
    def evaluate(self, spec: Mapping[str, Any], readings: Mapping[str, Any], stage: str = "initial") -> Result:
        """Compute errors, limits and the verdict; ``SpecError``/``ReadingsError`` name the bad field."""

    def interval_criteria(self, spec: dict) -> dict:
        """The criteria the interval table is matched on, from a validated spec (override to add some)."""
        return {}

    def interval_rule(self, spec: Mapping[str, Any], on: dt.date | None = None) -> rules.Rule:
        """The row of ``data/intervals.json`` in force on ``on`` (default today), with its legal source."""
        clean = self.validate_spec(spec)
        on = on or dt.date.today()
        try:
            return rules.table("intervals").lookup(on, type=self.code, **self.interval_criteria(clean))
        except LookupError:
            raise SpecError(f"type: no verification interval known for {self.code} on {on.isoformat()}") from None

    def interval_months(self, spec: Mapping[str, Any], on: dt.date | None = None) -> int | None:
        """Legal verification interval in months in force on ``on``; ``None`` when not subject to verification."""
        return self.interval_rule(spec, on).value

    def __repr__(self) -> str:
        return f"<instrument type {self.code}>"


def check_stage(stage: str) -> str:
    """Check the verification stage argument."""
    if stage not in STAGES:
        raise ReadingsError(f"stage: must be one of {', '.join(STAGES)} (got {stage!r})")
    return stage


def spec_mapping(spec: Any) -> Mapping:
    return require_mapping(spec, "spec", SpecError)


def readings_mapping(readings: Any) -> Mapping:
    return require_mapping(readings, "readings", ReadingsError)
