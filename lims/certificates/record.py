"""A certificate's record: the :class:`~lims.certificates.document.CertificateDocument` as JSON, and back.

The record is stored with the certificate and is what the QR seal's digest covers (``seal.record_digest``). It holds
everything the PDF prints except the seal URL (which carries the signature over the record, so cannot be inside it),
so that ``pdf.render_certificate(document_from_record(record, seal_url=…))`` prints the same bytes years later.
Pure functions: no database, no Flask.

Layout (``format`` 1)::

    {"format": 1, "document": {field: value, …}, "provenance": {…}}

``document`` mirrors the dataclasses field by field: dates as ISO strings, datetimes as aware UTC ISO strings, enums
by value, tuples as lists, and the only floats (column widths) as their ``repr`` strings, since the canonical JSON of
a digest admits no floats. ``provenance`` says where the document came from (the verification record and the hashes
its signatures signed) and is not printed.

>>> from lims.certificates import samples
>>> doc = samples.sample_document()
>>> document_from_record(document_to_record(doc)) == doc
True
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import types
import typing
from collections.abc import Mapping
from typing import Any

from . import document as doc_module
from .document import CertificateDocument

FORMAT = 1


def document_to_record(doc: CertificateDocument, *, provenance: Mapping[str, Any] | None = None) -> dict:
    """The JSON-ready record of ``doc`` (its ``seal_url`` left out)."""
    data = _dump(dataclasses.replace(doc, seal_url=""))
    del data["seal_url"]
    return {"format": FORMAT, "document": data, "provenance": dict(provenance or {})}


def document_from_record(record: Mapping[str, Any], *, seal_url: str = "") -> CertificateDocument:
    """The document a record describes, with ``seal_url`` for its QR code. ``ValueError`` for a record of an unknown
    format or shape."""
    if record.get("format") != FORMAT:
        raise ValueError(f"certificate record format {record.get('format')!r}: this version reads {FORMAT}")
    data = dict(record["document"], seal_url=seal_url)
    return _load(CertificateDocument, data, "document")


def _dump(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: _dump(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("a naive datetime in a certificate document")
        return value.astimezone(dt.timezone.utc).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return [_dump(item) for item in value]
    return value


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, vars(doc_module))


def _load(hint: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if value is None:
            return None
        return _load(options[0], value, path)
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(value, list):
            raise ValueError(f"{path}: expected a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_load(args[0], item, f"{path}[{i}]") for i, item in enumerate(value))
        return tuple(_load(arg, item, f"{path}[{i}]") for i, (arg, item) in enumerate(zip(args, value)))
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, Mapping):
            raise ValueError(f"{path}: expected an object")
        hints = _hints(hint)
        kwargs = {f.name: _load(hints[f.name], value[f.name], f"{path}.{f.name}")
                  for f in dataclasses.fields(hint) if f.name in value}
        return hint(**kwargs)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(value)
    if hint is dt.datetime:
        return dt.datetime.fromisoformat(value).astimezone(dt.timezone.utc)
    if hint is dt.date:
        return dt.date.fromisoformat(value)
    if hint is float:
        return float(value)
    if hint in (str, int, bool) and not isinstance(value, hint):
        raise ValueError(f"{path}: expected {hint.__name__}")
    return value
