"""The QR seal: a compact, Ed25519-signed token printed as ``<LIMS_PUBLIC_URL>/V/<TOKEN>`` (DESIGN.md §6).

Pure functions: no Flask, no database. The keys come from :mod:`lims.certificates.keys`.

Token layout, version 1 (big-endian; the whole thing then base32-encoded, RFC 4648, without padding)::

    offset  size  field
    0       1     format version (1)
    1       4     key id: the first 4 bytes of SHA-256 of the signer's raw 32-byte public key
    5       1     verdict: 1 passed, 2 failed (notice of failure), 3 calibration (no verdict)
    6       2     revision (0 … 65 535)
    8       2     issue date, days since 2000-01-01
    10      2     valid-until date, days since 2000-01-01; 0xFFFF = none
    12      20    record digest: SHA-256 of the canonical JSON of the full certificate record, first 20 bytes
    32      1+n   certificate number, UTF-8, n ≤ 64 bytes
    33+n    1+m   instrument serial, UTF-8, m ≤ 64 bytes
    end     64    Ed25519 signature over every byte before it

Why 20 bytes (160 bits) of digest: the signature (Ed25519, ~128-bit security) covers the fields shown publicly; the
digest binds the seal to the rest of the record (owner, readings, results…) held by the centre. Passing off another
record as the sealed one is a second-preimage search, 2^160 work; even an insider able to shape both records (a
collision search, the birthday bound) faces 2^80 SHA-256 evaluations of records the centre itself writes, and would
have to plant ~20 bytes of gibberish in them. 16 bytes would leave that second case at 2^64, within reach of large
computing budgets; 32 bytes would add 20 characters to every QR code for no practical gain.

Base32 keeps the token in the QR alphanumeric set (A–Z, 2–7) once the URL is upper-cased, so a realistic seal
(number ``KĐ-2026-012345``, a 12-character serial, a 30-character host) is a version 9 code at error correction M
(``tests/lims/certificates/test_seal.py`` checks it).

>>> import datetime as dt
>>> from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
>>> key = Ed25519PrivateKey.generate()
>>> kid = key_id_for(key.public_key())
>>> payload = SealPayload(number="KĐ-2026-012345", revision=0, issue_date=dt.date(2026, 3, 5),
...                       valid_until=dt.date(2027, 3, 4), serial="SN 7731", verdict=Verdict.PASSED,
...                       digest=record_digest({"number": "KĐ-2026-012345"}))
>>> token = sign(payload, key, kid)
>>> verify(token.lower(), {kid: key.public_key()}).number
'KĐ-2026-012345'
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import decimal
import enum
import functools
import hashlib
import json
import re
import struct
import uuid
from collections.abc import Mapping
from typing import Any, Union

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

FORMAT_VERSION = 1
DIGEST_BYTES = 20
KEY_ID_BYTES = 4
SIGNATURE_BYTES = 64
MAX_TEXT_BYTES = 64
EPOCH = dt.date(2000, 1, 1)
NO_DATE = 0xFFFF
LAST_DATE = EPOCH + dt.timedelta(days=NO_DATE - 1)

_HEADER = struct.Struct(">B4sBHHH20s")  # version, key id, verdict, revision, issue, valid until, digest
assert _HEADER.size == 32 and DIGEST_BYTES == 20 and KEY_ID_BYTES == 4
_MIN_BYTES = _HEADER.size + 2 + 1 + SIGNATURE_BYTES  # a number of at least one byte, an empty serial
_MAX_BYTES = _HEADER.size + 2 * (1 + MAX_TEXT_BYTES) + SIGNATURE_BYTES
#: Longest token text accepted before any decoding (base32 of the longest payload), a cheap guard for the public page.
MAX_TOKEN_LENGTH = -(-_MAX_BYTES * 8 // 5)
_BASE32 = re.compile(r"[A-Z2-7]+")
# Unpadded base32 lengths that can occur (len % 8); others cannot be the encoding of whole bytes.
_VALID_REMAINDERS = frozenset({0, 2, 4, 5, 7})
# Bits of the last character that encode no byte, by len % 8 (2 chars = 10 bits for 1 byte: 2 unused …).
_UNUSED_BITS = {0: 0, 2: 2, 4: 4, 5: 1, 7: 3}
_BASE32_VALUES = {char: value for value, char in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")}


#: The layout above, machine-readable, for people checking seals offline (published with the keys).
TOKEN_FORMAT = {
    "version": FORMAT_VERSION,
    "encoding": "base32 (RFC 4648, upper case, no padding) of payload || signature; letter case is ignored",
    "signature": "Ed25519 (RFC 8032) over the payload bytes: the last 64 bytes of the token are the signature",
    "key_id": "first 4 bytes of SHA-256 of the raw 32-byte public key, as 8 hex digits",
    "payload": [
        {"field": "version", "bytes": 1, "type": "uint8"},
        {"field": "key_id", "bytes": KEY_ID_BYTES, "type": "bytes"},
        {"field": "verdict", "bytes": 1, "type": "uint8", "values": {"1": "passed", "2": "failed",
                                                                     "3": "calibration"}},
        {"field": "revision", "bytes": 2, "type": "uint16 big-endian"},
        {"field": "issue_date", "bytes": 2, "type": "uint16 big-endian, days since 2000-01-01"},
        {"field": "valid_until", "bytes": 2, "type": "uint16 big-endian, days since 2000-01-01; 65535 = none"},
        {"field": "record_digest", "bytes": DIGEST_BYTES,
         "type": "first 20 bytes of SHA-256 of the certificate record's canonical JSON"},
        {"field": "number", "bytes": "1 + n", "type": "uint8 length n, then n bytes of UTF-8"},
        {"field": "serial", "bytes": "1 + m", "type": "uint8 length m, then m bytes of UTF-8"},
    ],
}


class Verdict(enum.Enum):
    """What the sealed document says about the instrument."""

    PASSED = "passed"            # verification certificate: "Đạt yêu cầu kỹ thuật đo lường"
    FAILED = "failed"            # notice of failure: "Không đạt yêu cầu kỹ thuật đo lường"
    CALIBRATION = "calibration"  # calibration certificate: results and uncertainty, no legal verdict


_VERDICT_CODES = {Verdict.PASSED: 1, Verdict.FAILED: 2, Verdict.CALIBRATION: 3}
_VERDICTS_BY_CODE = {code: verdict for verdict, code in _VERDICT_CODES.items()}


class InvalidSeal(Exception):
    """The token is not a genuine seal. The message is safe to show to anyone; ``reason`` is one of
    ``"format"`` (not a token of a known format), ``"unknown_key"`` (signed by no key this centre published) or
    ``"signature"`` (altered, or forged)."""

    MESSAGES = {
        "format": "Mã tem không đúng định dạng",
        "unknown_key": "Mã tem được ký bằng một khóa không được công bố",
        "signature": "Chữ ký của mã tem không hợp lệ",
    }

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(self.MESSAGES[reason])


@dataclasses.dataclass(frozen=True)
class SealPayload:
    """The fields a seal carries. ``key_id`` is filled in by :func:`sign` and :func:`verify`."""

    number: str
    revision: int
    issue_date: dt.date
    valid_until: dt.date | None
    serial: str
    verdict: Verdict
    digest: bytes
    key_id: str | None = None
    version: int = FORMAT_VERSION

    def to_dict(self) -> dict:
        """JSON-ready fields (the digest in hex)."""
        return {
            "number": self.number, "revision": self.revision, "issue_date": self.issue_date.isoformat(),
            "valid_until": self.valid_until.isoformat() if self.valid_until else None, "serial": self.serial,
            "verdict": self.verdict.value, "digest": self.digest.hex(), "key_id": self.key_id,
        }


PublicKeyLike = Union[Ed25519PublicKey, bytes]


# --- keys ---------------------------------------------------------------------------------------------------------

def raw_public_key(key: Ed25519PublicKey | Ed25519PrivateKey) -> bytes:
    """The 32 raw bytes of an Ed25519 public key (RFC 8032), as published."""
    if isinstance(key, Ed25519PrivateKey):
        key = key.public_key()
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_for(key: Ed25519PublicKey | Ed25519PrivateKey | bytes) -> str:
    """The key id: 8 hex digits, the first 4 bytes of SHA-256 of the raw public key (so anyone can recompute it)."""
    raw = key if isinstance(key, bytes) else raw_public_key(key)
    return hashlib.sha256(raw).digest()[:KEY_ID_BYTES].hex()


@functools.lru_cache(maxsize=64)
def _public_key_from_raw(raw: bytes) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(raw)


# --- digest -------------------------------------------------------------------------------------------------------

def canonical_json(record: Mapping[str, Any]) -> bytes:
    """The canonical JSON of a record: keys sorted, no spaces, UTF-8 (not ASCII-escaped).

    Values must be JSON types (no floats: numbers travel as decimal strings, DESIGN.md §6); dates, datetimes, UUIDs
    and Decimals are accepted and written as their ISO / ``str`` forms, which is what a JSON column gives back.
    """
    return json.dumps(_plain(record), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def record_digest(record: Mapping[str, Any]) -> bytes:
    """The first :data:`DIGEST_BYTES` bytes of SHA-256 of :func:`canonical_json` (see the module docstring).

    >>> record_digest({"b": 1, "a": "Đạt"}).hex() == record_digest({"a": "Đạt", "b": 1}).hex()
    True
    """
    return hashlib.sha256(canonical_json(record)).digest()[:DIGEST_BYTES]


def _plain(value: Any, path: str = "record") -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        raise TypeError(f"{path}: a float; give numbers as decimal strings")
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: key {key!r} is not a string")
            out[key] = _plain(item, f"{path}.{key}")
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(item, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise TypeError(f"{path}: a naive datetime; use an aware UTC one")
        return value.astimezone(dt.timezone.utc).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, enum.Enum):
        return _plain(value.value, path)
    raise TypeError(f"{path}: {type(value).__name__} is not a JSON value")


# --- sign and verify ----------------------------------------------------------------------------------------------

def encode_payload(payload: SealPayload, key_id: str) -> bytes:
    """The bytes that :func:`sign` signs (the layout in the module docstring); ``ValueError`` names a bad field."""
    try:
        key_id_bytes = bytes.fromhex(key_id)
    except (TypeError, ValueError):
        raise ValueError(f"key_id: {key_id!r} is not {2 * KEY_ID_BYTES} hex digits") from None
    if len(key_id_bytes) != KEY_ID_BYTES:
        raise ValueError(f"key_id: {key_id!r} is not {2 * KEY_ID_BYTES} hex digits")
    if payload.key_id is not None and payload.key_id != key_id:
        raise ValueError(f"key_id: the payload names key {payload.key_id}, signing with {key_id}")
    if not isinstance(payload.verdict, Verdict):
        raise ValueError(f"verdict: {payload.verdict!r} is not a Verdict")
    if not isinstance(payload.revision, int) or not 0 <= payload.revision <= 0xFFFF:
        raise ValueError(f"revision: {payload.revision!r} is not an integer 0 … 65535")
    if not isinstance(payload.digest, bytes) or len(payload.digest) != DIGEST_BYTES:
        raise ValueError(f"digest: must be {DIGEST_BYTES} bytes (record_digest)")
    number = _text(payload.number, "number")
    if not number:
        raise ValueError("number: empty")
    serial = _text(payload.serial, "serial")
    valid_until = NO_DATE if payload.valid_until is None else _days(payload.valid_until, "valid_until")
    header = _HEADER.pack(FORMAT_VERSION, key_id_bytes, _VERDICT_CODES[payload.verdict], payload.revision,
                          _days(payload.issue_date, "issue_date"), valid_until, payload.digest)
    return b"".join((header, bytes((len(number),)), number, bytes((len(serial),)), serial))


def sign(payload: SealPayload, private_key: Ed25519PrivateKey, key_id: str) -> str:
    """Sign ``payload`` and return the token: upper-case base32 without padding."""
    if key_id != key_id_for(private_key):
        raise ValueError(f"key_id: {key_id} is not the id of this private key ({key_id_for(private_key)})")
    data = encode_payload(payload, key_id)
    return base64.b32encode(data + private_key.sign(data)).decode("ascii").rstrip("=")


def verify(token: str, public_keys: Mapping[str, PublicKeyLike]) -> SealPayload:
    """Check a token and return what it carries; :class:`InvalidSeal` (and nothing else) when it is not genuine.

    ``public_keys`` maps key ids to Ed25519 public keys (objects or their 32 raw bytes), retired keys included.
    Letter case is ignored. The signature is checked over the exact bytes received before any field is parsed: only
    the version byte and the key id, which choose the key, are read first.
    """
    raw = _decode(token)
    if raw[0] != FORMAT_VERSION:
        raise InvalidSeal("format")
    key_id = raw[1:1 + KEY_ID_BYTES].hex()
    key = public_keys.get(key_id)
    if key is None:
        raise InvalidSeal("unknown_key")
    if isinstance(key, (bytes, bytearray)):
        try:
            key = _public_key_from_raw(bytes(key))
        except ValueError:
            raise InvalidSeal("unknown_key") from None
    data, signature = raw[:-SIGNATURE_BYTES], raw[-SIGNATURE_BYTES:]
    try:
        key.verify(signature, data)
    except InvalidSignature:
        raise InvalidSeal("signature") from None
    return _parse(data, key_id)


def seal_url(public_url: str, token: str) -> str:
    """The URL printed in the QR code: ``<public_url>/V/<token>``, upper-cased entirely so that the QR code can use
    alphanumeric mode. Host names and schemes ignore case; ``public_url`` must not carry a case-sensitive path."""
    return f"{public_url.rstrip('/')}/V/{token}".upper()


def _decode(token: Any) -> bytes:
    if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_LENGTH:
        raise InvalidSeal("format")
    text = token.upper()
    if not _BASE32.fullmatch(text) or len(text) % 8 not in _VALID_REMAINDERS:
        raise InvalidSeal("format")
    try:
        raw = base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError):
        raise InvalidSeal("format") from None
    # One token, one spelling: the unused low bits of the last character must be zero (b32decode ignores them).
    unused = _UNUSED_BITS[len(text) % 8]
    if unused and _BASE32_VALUES[text[-1]] & ((1 << unused) - 1):
        raise InvalidSeal("format")
    if not _MIN_BYTES <= len(raw) <= _MAX_BYTES:
        raise InvalidSeal("format")
    return raw


def _parse(data: bytes, key_id: str) -> SealPayload:
    # Only reached with a valid signature, i.e. bytes this centre wrote; still parsed strictly.
    try:
        version, _kid, verdict_code, revision, issue, until, digest = _HEADER.unpack_from(data)
        offset = _HEADER.size
        number, offset = _read_text(data, offset)
        serial, offset = _read_text(data, offset)
        if offset != len(data) or not number:
            raise ValueError("trailing bytes")
        return SealPayload(number=number, revision=revision, issue_date=EPOCH + dt.timedelta(days=issue),
                           valid_until=None if until == NO_DATE else EPOCH + dt.timedelta(days=until),
                           serial=serial, verdict=_VERDICTS_BY_CODE[verdict_code], digest=digest, key_id=key_id,
                           version=version)
    except (struct.error, ValueError, KeyError, IndexError, OverflowError):
        raise InvalidSeal("format") from None


def _read_text(data: bytes, offset: int) -> tuple[str, int]:
    length = data[offset]
    end = offset + 1 + length
    if end > len(data):
        raise ValueError("text runs past the end")
    return data[offset + 1:end].decode("utf-8"), end


def _text(value: Any, field: str) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"{field}: not a string")
    encoded = value.encode("utf-8")
    if len(encoded) > MAX_TEXT_BYTES:
        raise ValueError(f"{field}: {len(encoded)} bytes in UTF-8, at most {MAX_TEXT_BYTES}")
    return encoded


def _days(value: Any, field: str) -> int:
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise ValueError(f"{field}: not a date")
    if not EPOCH <= value <= LAST_DATE:
        raise ValueError(f"{field}: {value.isoformat()} is outside {EPOCH.isoformat()} … {LAST_DATE.isoformat()}")
    return (value - EPOCH).days
