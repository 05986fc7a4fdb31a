"""Legal and normative tables kept as versioned data.

Every table lives in ``instruments/data/<name>.json``; every row carries the text it comes from (standard and
clause, or legal act), the dates between which it is in force, and how sure we are of it:

- ``confirmed``   read in a primary text or an official transposition ([C] in DOMAIN.md);
- ``secondary``   read in a secondary source ([S]);
- ``unconfirmed`` our best knowledge, not yet checked against the official text.

A correction to a value is an edit of the JSON file (and a new row with an ``effective_from`` when the law changes),
never of the code. ``effective_from`` is inclusive, ``effective_until`` exclusive; ``null`` means open.

File shape::

    {"title": "...", "rows": [
        {"match": {"type": "taximeter"}, "value": 18, "effective_from": "2024-10-15", "effective_until": null,
         "source": "TT 03/2024/TT-BKHCN", "status": "confirmed"}, ...]}

A row's ``match`` values are compared with the lookup's criteria; a list in ``match`` means "any of these".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

STATUSES = ("confirmed", "secondary", "unconfirmed")


@dataclass(frozen=True)
class Rule:
    """One row of a rule table."""

    table: str
    value: Any
    source: str
    status: str
    effective_from: dt.date | None
    effective_until: dt.date | None
    match: dict
    note: str = ""

    def in_force(self, on: dt.date) -> bool:
        """Whether this row applies on ``on`` (from inclusive, until exclusive)."""
        return (self.effective_from is None or self.effective_from <= on) and (
            self.effective_until is None or on < self.effective_until)

    def to_dict(self) -> dict:
        """JSON-ready description, for printing the legal basis next to a result."""
        return {
            "table": self.table,
            "source": self.source,
            "status": self.status,
            "effective_from": self.effective_from.isoformat() if self.effective_from else None,
            "effective_until": self.effective_until.isoformat() if self.effective_until else None,
        }


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


@dataclass(frozen=True)
class RuleTable:
    """A named table of rows; ``lookup`` finds the row in force for some criteria on a date."""

    name: str
    title: str
    rows: tuple[Rule, ...]
    raw: dict

    def lookup(self, on: dt.date, **criteria: Any) -> Rule:
        """The first row in force on ``on`` whose ``match`` agrees with ``criteria``.

        :raises LookupError: when no row applies.

        >>> table("intervals").lookup(dt.date(2024, 10, 14), type="taximeter").value
        12
        >>> table("intervals").lookup(dt.date(2024, 10, 15), type="taximeter").value
        18
        """
        for row in self.rows:
            if row.in_force(on) and _matches(row.match, criteria):
                return row
        raise LookupError(f"{self.name}: no rule for {criteria} on {on.isoformat()}")


def _matches(match: dict, criteria: dict) -> bool:
    for key, wanted in match.items():
        if key not in criteria:
            return False
        have = criteria[key]
        if isinstance(wanted, list):
            if have not in wanted:
                return False
        elif have != wanted:
            return False
    return True


def _load_text(name: str) -> str:
    return resources.files("instruments").joinpath("data", f"{name}.json").read_text(encoding="utf-8")


@cache
def data(name: str) -> dict:
    """The parsed JSON of ``data/<name>.json`` (numbers with a decimal point become ``Decimal``)."""
    return json.loads(_load_text(name), parse_float=Decimal)


@cache
def table(name: str) -> RuleTable:
    """Load the rule table ``data/<name>.json`` (cached)."""
    raw = data(name)
    rows = []
    for index, row in enumerate(raw["rows"]):
        status = row.get("status", "unconfirmed")
        if status not in STATUSES:
            raise ValueError(f"{name}.json rows[{index}].status: must be one of {', '.join(STATUSES)}")
        rows.append(Rule(
            table=name,
            value=row["value"],
            source=row["source"],
            status=status,
            effective_from=_date(row.get("effective_from")),
            effective_until=_date(row.get("effective_until")),
            match=dict(row.get("match", {})),
            note=row.get("note", ""),
        ))
    return RuleTable(name=name, title=raw.get("title", name), rows=tuple(rows), raw=raw)


@cache
def digest() -> str:
    """SHA-256 over every data file, so a stored result says exactly which tables it was computed with."""
    sha = hashlib.sha256()
    folder = resources.files("instruments").joinpath("data")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            sha.update(entry.name.encode())
            sha.update(entry.read_bytes())
    return sha.hexdigest()
