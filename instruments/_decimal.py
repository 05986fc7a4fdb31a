"""Exact-decimal parsing and formatting shared by every instrument type.

Everything a person typed arrives as a decimal string ("0.05") and is parsed here into ``decimal.Decimal``; every
number leaves ``to_dict()`` as a decimal string again. No binary float ever takes part in a verdict: a float that
reaches the engine (a spreadsheet cell, a JSON number) is read through its shortest repr, i.e. the digits a person
would have typed.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from .errors import MetrologyError

# Enough digits that no intermediate result of a verification rounds (28 is Python's default; uncertainty budgets
# take square roots, whose last digits are then rounded only for display).
CONTEXT = decimal.Context(prec=34, rounding=decimal.ROUND_HALF_EVEN, traps=[decimal.InvalidOperation,
                                                                          decimal.DivisionByZero,
                                                                          decimal.Overflow])

#: Bounds on what a person can have typed: no measurement has more significant digits, and none is beyond
#: 10^±20 in the units used here. Inside them, no sum or product of a verification loses a digit at CONTEXT's
#: precision, and nothing can overflow.
MAX_DIGITS = 20
MAX_EXPONENT = 20


def parse(value: Any, field: str, error: type[MetrologyError], *, positive: bool = False,
          non_negative: bool = False, integer: bool = False) -> Decimal:
    """Read one number a person typed, naming ``field`` in the error when it is not one.

    :param value: a decimal string, an int, a Decimal, or a float (read through its shortest repr).
    :param field: the path of the value in the input, e.g. ``weighing[2].indication``.
    :param error: the error class to raise (``SpecError`` or ``ReadingsError``).

    >>> from instruments.errors import ReadingsError
    >>> parse(" 0.05 ", "e", ReadingsError)
    Decimal('0.05')
    >>> parse(0.1, "e", ReadingsError)
    Decimal('0.1')
    >>> parse("1e999999999", "e", ReadingsError)
    Traceback (most recent call last):
    ...
    instruments.errors.ReadingsError: e: out of range ('1e999999999')
    >>> parse("abc", "weighing[2].indication", ReadingsError)
    Traceback (most recent call last):
    ...
    instruments.errors.ReadingsError: weighing[2].indication: not a number ('abc')
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        raise error(f"{field}: missing")
    if isinstance(value, bool):
        raise error(f"{field}: not a number ({value!r})")
    if isinstance(value, float):
        value = repr(value)
    if isinstance(value, (int, Decimal)):
        number = Decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except decimal.InvalidOperation:
            raise error(f"{field}: not a number ({value!r})") from None
    else:
        raise error(f"{field}: not a number ({value!r})")
    if not number.is_finite():
        raise error(f"{field}: not a finite number ({value!r})")
    if number and not -MAX_EXPONENT <= number.adjusted() <= MAX_EXPONENT:
        raise error(f"{field}: out of range ({value!r})")
    if len(number.as_tuple().digits) > MAX_DIGITS:
        raise error(f"{field}: too many digits ({value!r})")
    if positive and number <= 0:
        raise error(f"{field}: must be greater than zero ({value!r})")
    if non_negative and number < 0:
        raise error(f"{field}: must not be negative ({value!r})")
    if integer and number != number.to_integral_value():
        raise error(f"{field}: must be a whole number ({value!r})")
    return number.copy_abs() if number == 0 else number  # -0 becomes 0, without rounding anything


def optional(mapping: Mapping, key: str, field: str, error: type[MetrologyError], **checks: bool) -> Decimal | None:
    """Parse ``mapping[key]`` when present and not empty, else ``None``."""
    value = mapping.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return parse(value, field, error, **checks)


def require_mapping(value: Any, field: str, error: type[MetrologyError]) -> Mapping:
    """Check that ``value`` is a JSON object, naming ``field`` when not."""
    if not isinstance(value, Mapping):
        raise error(f"{field}: must be an object, got {type(value).__name__}")
    return value


def require_list(value: Any, field: str, error: type[MetrologyError], *, min_items: int = 1) -> Sequence:
    """Check that ``value`` is a JSON array with at least ``min_items`` items, naming ``field`` when not."""
    if value is None:
        raise error(f"{field}: missing")
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise error(f"{field}: must be a list, got {type(value).__name__}")
    if len(value) < min_items:
        raise error(f"{field}: needs at least {min_items} item{'s' if min_items > 1 else ''}")
    return value


def choice(value: Any, field: str, options: Sequence[str], error: type[MetrologyError]) -> str:
    """Check that ``value`` is one of ``options`` (compared as text), naming ``field`` when not.

    >>> from instruments.errors import SpecError
    >>> choice("II", "accuracy_class", ("I", "II", "III", "IIII"), SpecError)
    'II'
    >>> choice("V", "accuracy_class", ("I", "II"), SpecError)
    Traceback (most recent call last):
    ...
    instruments.errors.SpecError: accuracy_class: must be one of I, II (got 'V')
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        raise error(f"{field}: missing")
    text = str(value).strip()
    if text not in options:
        raise error(f"{field}: must be one of {', '.join(options)} (got {value!r})")
    return text


def to_str(number: Decimal) -> str:
    """Format a Decimal as a plain decimal string (no exponent), keeping its significant trailing zeros.

    >>> to_str(Decimal("1E+1"))
    '10'
    >>> to_str(Decimal("0.50"))
    '0.50'
    >>> to_str(Decimal("-0"))
    '0'
    """
    if number == 0:
        number = abs(number)
    return format(number, "f")


def jsonable(value: Any) -> Any:
    """Turn a result tree into JSON-ready data: Decimals become decimal strings, tuples lists."""
    if isinstance(value, Decimal):
        return to_str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value
