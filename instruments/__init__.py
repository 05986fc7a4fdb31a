"""The metrology engine: errors, maximum permissible errors, verdicts and uncertainty of measuring instruments.

Pure Python and exact decimals; no web, database or PDF imports (a test enforces this). The contract, used by the
forms, the JSON API and bench imports, is in DESIGN.md §6::

    >>> import instruments
    >>> t = instruments.get("nawi")
    >>> [k.code for k in instruments.all_types()]
    ['nawi', 'weight', 'energy_meter', 'taximeter']
"""

from __future__ import annotations

from ._base import ENGINE_VERSION, STAGES, InstrumentType, Result, TestResult
from .errors import MetrologyError, ReadingsError, SpecError
from . import energy_meter, nawi, taximeter, weight

__all__ = [
    "ENGINE_VERSION", "STAGES", "InstrumentType", "Result", "TestResult",
    "MetrologyError", "ReadingsError", "SpecError", "get", "all_types",
]

_TYPES: dict[str, InstrumentType] = {t.code: t for t in (nawi.TYPE, weight.TYPE, energy_meter.TYPE, taximeter.TYPE)}


def get(code: str) -> InstrumentType:
    """The instrument type with this code; ``KeyError`` for an unknown code."""
    return _TYPES[code]


def all_types() -> tuple[InstrumentType, ...]:
    """The four instrument types, in a stable order."""
    return tuple(_TYPES.values())
