"""The QR seal token: signed, compact, and impossible to alter without being noticed (DESIGN.md §6)."""

import base64
import datetime as dt
import hashlib

import pytest
import qrcode
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lims.certificates import qr, seal
from lims.certificates.seal import InvalidSeal, SealPayload, Verdict

PUBLIC_URL = "https://kiemdinh.tdc-dongnai.gov.vn"


@pytest.fixture(scope="module")
def key():
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def key_id(key):
    return seal.key_id_for(key)


@pytest.fixture(scope="module")
def keys(key, key_id):
    return {key_id: key.public_key()}


def payload(**changes) -> SealPayload:
    fields = dict(number="KĐ-2026-012345", revision=0, issue_date=dt.date(2026, 3, 5),
                  valid_until=dt.date(2027, 3, 4), serial="SW1S-2310457", verdict=Verdict.PASSED,
                  digest=seal.record_digest({"number": "KĐ-2026-012345", "customer": "Chợ Tân Phú"}))
    return SealPayload(**{**fields, **changes})


@pytest.fixture(scope="module")
def token(key, key_id):
    return seal.sign(payload(), key, key_id)


def _raw(token: str) -> bytes:
    return base64.b32decode(token + "=" * (-len(token) % 8))


def _encode(raw: bytes) -> str:
    return base64.b32encode(raw).decode().rstrip("=")


def _rejected(token, keys, reason=None):
    with pytest.raises(InvalidSeal) as caught:
        seal.verify(token, keys)
    if reason:
        assert caught.value.reason == reason, (token, caught.value.reason)
    return caught.value


# --- round trip ---------------------------------------------------------------------------------------------------

def test_verify_returns_exactly_what_was_signed(token, keys, key_id):
    assert seal.verify(token, keys) == payload(key_id=key_id)


@pytest.mark.parametrize("changes", [
    {"valid_until": None, "verdict": Verdict.FAILED},
    {"valid_until": None, "verdict": Verdict.CALIBRATION, "number": "HC-2026-000781", "revision": 65535},
    {"serial": "", "issue_date": dt.date(2000, 1, 1), "valid_until": seal.LAST_DATE},
    {"number": "Đ" * 32, "serial": "ữ" * 21},  # 64 bytes of UTF-8 each: the longest texts a seal takes
])
def test_verify_round_trips_every_kind_of_payload(key, key_id, keys, changes):
    expected = payload(**changes)
    assert seal.verify(seal.sign(expected, key, key_id), keys) == payload(**changes, key_id=key_id)


def test_token_is_upper_case_base32_without_padding(token):
    assert token == token.upper() and "=" not in token
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    # 32-byte header + two short texts + 64-byte signature, for a 14-character number with "Đ" (15 bytes of UTF-8)
    # and a 12-character serial: 125 bytes, 200 characters.
    assert len(_raw(token)) == 32 + 1 + 15 + 1 + 12 + 64 == 125
    assert len(token) == 200


def test_the_number_is_carried_as_utf8(token, keys):
    assert "KĐ-2026-012345".encode("utf-8") in _raw(token)
    assert seal.verify(token, keys).number == "KĐ-2026-012345"


@pytest.mark.parametrize("spelling", [str.lower, str.swapcase, lambda t: t[:50].lower() + t[50:]])
def test_verify_ignores_letter_case(token, keys, spelling):
    assert seal.verify(spelling(token), keys).number == "KĐ-2026-012345"


def test_seal_url_is_entirely_upper_case_for_the_alphanumeric_mode(token):
    url = seal.seal_url(PUBLIC_URL + "/", token)
    assert url == f"HTTPS://KIEMDINH.TDC-DONGNAI.GOV.VN/V/{token}"
    assert qr.qr_mode(url) == qrcode.util.MODE_ALPHA_NUM


@pytest.mark.parametrize("public_url, number, serial, version", [
    (PUBLIC_URL, "KĐ-2026-012345", "SW1S-2310457", 9),
    ("https://lims.ttkt-dluong-chatluong.hochiminhcity.gov.vn:8443", "KĐ/ĐN-2026-0012345", "CAS-SW1S-2023-0045781-B",
     10),
])
def test_a_realistic_seal_url_is_a_version_10_or_smaller_qr_code_at_level_m(key, key_id, public_url, number, serial,
                                                                          version):
    url = seal.seal_url(public_url, seal.sign(payload(number=number, serial=serial), key, key_id))
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(qrcode.util.QRData(url.encode(), mode=qrcode.util.MODE_ALPHA_NUM))
    code.make(fit=True)
    assert code.version == qr.qr_version(len(url)) == version <= 10


# --- tampering ----------------------------------------------------------------------------------------------------

def test_every_single_bit_flip_of_the_token_bytes_is_rejected(token, keys):
    raw = _raw(token)
    for bit in range(len(raw) * 8):
        flipped = bytearray(raw)
        flipped[bit // 8] ^= 1 << (bit % 8)
        _rejected(_encode(bytes(flipped)), keys)


def test_every_single_bit_flip_of_the_token_text_is_rejected_unless_it_only_changes_letter_case(token, keys):
    text = token.encode("ascii")
    same_token = 0
    for bit in range(len(text) * 8):
        flipped = bytearray(text)
        flipped[bit // 8] ^= 1 << (bit % 8)
        candidate = flipped.decode("latin-1")
        if candidate.upper() == token:  # bit 5 of a letter: the same token in lower case, by design
            same_token += 1
            assert seal.verify(candidate, keys).number == "KĐ-2026-012345"
        else:
            _rejected(candidate, keys)
    assert same_token == sum(c.isalpha() for c in token)


def test_the_unused_low_bits_of_the_last_character_must_be_zero(key, key_id, keys):
    # 124 bytes = 992 bits in 199 characters (995 bits): the last character carries 3 unused bits; b32decode ignores
    # them, so without a check "…A" and "…B" would be one token with two spellings.
    token = seal.sign(payload(serial="SW1S-231045"), key, key_id)
    assert len(token) == 199 and seal.verify(token, keys).serial == "SW1S-231045"
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    last = alphabet.index(token[-1])
    for padding in range(1, 8):
        _rejected(token[:-1] + alphabet[last | padding], keys, "format")


@pytest.mark.parametrize("cut", [1, 2, 5, 8, 13, 64, 100, 199])
def test_truncated_tokens_are_rejected(token, keys, cut):
    _rejected(token[:-cut], keys)


def test_every_truncation_of_the_token_is_rejected(token, keys):
    raw = _raw(token)
    for length in range(len(token)):
        _rejected(token[:length], keys)
    for length in range(len(raw)):
        _rejected(_encode(raw[:length]), keys)


@pytest.mark.parametrize("suffix", ["A", "AA", "Q", "777", "AAAAAAAA", "KD2026"])
def test_extended_tokens_are_rejected(token, keys, suffix):
    _rejected(token + suffix, keys)


@pytest.mark.parametrize("extra", [b"\0", b"\0" * 5, b"\xff" * 8])
def test_bytes_appended_to_a_token_are_rejected(token, keys, extra):
    _rejected(_encode(_raw(token) + extra), keys)


def test_a_token_signed_by_an_unpublished_key_is_refused_as_unknown(keys):
    stranger = Ed25519PrivateKey.generate()
    error = _rejected(seal.sign(payload(), stranger, seal.key_id_for(stranger)), keys, "unknown_key")
    assert str(error) == "Mã tem được ký bằng một khóa không được công bố"


def test_a_token_whose_key_id_is_published_but_signed_by_another_key_is_refused(token, keys, key_id):
    forger = Ed25519PrivateKey.generate()
    raw = _raw(token)
    data = raw[:-64]
    _rejected(_encode(data + forger.sign(data)), keys, "signature")


def test_the_signature_is_checked_before_any_field_is_parsed(key, key_id, keys):
    # A body no parser would accept (verdict 9, a length running past the end, bad UTF-8) under a wrong signature
    # says "signature", not "format": nothing of it was read.
    body = bytes([1]) + bytes.fromhex(key_id) + bytes([9]) + b"\0" * 26 + bytes([200]) + b"\xff\xfe" * 20
    _rejected(_encode(body + b"\0" * 64), keys, "signature")
    # The same bytes, validly signed (only this centre can), are then parsed strictly.
    _rejected(_encode(body + key.sign(body)), keys, "format")


def test_a_validly_signed_payload_with_trailing_bytes_is_refused(key, key_id, keys):
    data = seal.encode_payload(payload(), key_id) + b"\0"
    _rejected(_encode(data + key.sign(data)), keys, "format")


@pytest.mark.parametrize("value", [None, b"ABC", 12, "", " ", "ABC=", "AB CD", "A" * 1000, "ĐĐĐĐ", "A\nB"])
def test_garbage_is_refused_as_format(keys, value):
    _rejected(value, keys, "format")


def test_an_unknown_format_version_is_refused(token, keys):
    raw = bytearray(_raw(token))
    raw[0] = 2
    _rejected(_encode(bytes(raw)), keys, "format")


def test_an_old_rotated_key_still_verifies_what_it_signed(key, key_id):
    old_token = seal.sign(payload(), key, key_id)
    new_key = Ed25519PrivateKey.generate()
    new_id = seal.key_id_for(new_key)
    published = {key_id: seal.raw_public_key(key), new_id: new_key.public_key()}  # raw bytes are accepted too
    assert seal.verify(old_token, published).key_id == key_id
    assert seal.verify(seal.sign(payload(), new_key, new_id), published).key_id == new_id
    _rejected(old_token, {new_id: new_key.public_key()}, "unknown_key")


# --- property-based ---------------------------------------------------------------------------------------------

HYPOTHESIS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@HYPOTHESIS
@given(text=st.one_of(st.text(), st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ234567abcxyz=", min_size=150,
                                         max_size=400)))
def test_random_strings_are_never_accepted_and_raise_only_invalid_seal(keys, text):
    with pytest.raises(InvalidSeal):
        seal.verify(text, keys)


@HYPOTHESIS
@given(edits=st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=255)), min_size=1,
                      max_size=6),
       cut=st.integers(min_value=0, max_value=3), extra=st.binary(max_size=3))
def test_random_byte_edits_of_a_real_token_are_never_accepted(token, keys, edits, cut, extra):
    raw = bytearray(_raw(token))
    for position, value in edits:
        raw[position % len(raw)] = value
    edited = bytes(raw[:len(raw) - cut]) + extra
    if edited == _raw(token):
        return
    with pytest.raises(InvalidSeal):
        seal.verify(_encode(edited), keys)


@HYPOTHESIS
@given(data=st.binary(min_size=90, max_size=240))
def test_random_bytes_with_a_published_key_id_are_never_accepted(key_id, keys, data):
    forged = bytes([1]) + bytes.fromhex(key_id) + data
    with pytest.raises(InvalidSeal):
        seal.verify(_encode(forged), keys)


# --- signing refuses what it cannot encode ----------------------------------------------------------------------

@pytest.mark.parametrize("changes, field", [
    ({"number": ""}, "number"),
    ({"number": "Đ" * 33}, "number"),
    ({"serial": "x" * 65}, "serial"),
    ({"revision": -1}, "revision"),
    ({"revision": 65536}, "revision"),
    ({"issue_date": dt.date(1999, 12, 31)}, "issue_date"),
    ({"valid_until": seal.LAST_DATE + dt.timedelta(days=1)}, "valid_until"),
    ({"issue_date": dt.datetime(2026, 3, 5, tzinfo=dt.timezone.utc)}, "issue_date"),
    ({"digest": b"short"}, "digest"),
    ({"verdict": "passed"}, "verdict"),
])
def test_sign_refuses_a_payload_it_cannot_encode(key, key_id, changes, field):
    with pytest.raises(ValueError, match=f"^{field}: "):
        seal.sign(payload(**changes), key, key_id)


def test_sign_refuses_a_key_id_that_is_not_the_keys(key):
    with pytest.raises(ValueError, match="key_id"):
        seal.sign(payload(), key, "00000000")


# --- digest and key id --------------------------------------------------------------------------------------------

def test_record_digest_is_truncated_sha256_of_canonical_json():
    record = {"number": "KĐ-2026-012345", "b": [1, None, True], "a": {"z": "1.0", "y": dt.date(2026, 3, 5)}}
    canonical = '{"a":{"y":"2026-03-05","z":"1.0"},"b":[1,null,true],"number":"KĐ-2026-012345"}'.encode()
    assert seal.canonical_json(record) == canonical
    assert seal.record_digest(record) == hashlib.sha256(canonical).digest()[:20]
    assert seal.record_digest(dict(reversed(list(record.items())))) == seal.record_digest(record)
    assert seal.record_digest({**record, "b": [1, None, False]}) != seal.record_digest(record)


@pytest.mark.parametrize("record", [{"mpe": 0.5}, {"at": dt.datetime(2026, 3, 5)}, {1: "x"}, {"x": object()}])
def test_record_digest_refuses_values_without_one_canonical_json_form(record):
    with pytest.raises(TypeError):
        seal.record_digest(record)


def test_key_id_is_the_first_4_bytes_of_sha256_of_the_raw_public_key(key, key_id):
    assert key_id == hashlib.sha256(seal.raw_public_key(key)).hexdigest()[:8]
    assert seal.key_id_for(key.public_key()) == seal.key_id_for(seal.raw_public_key(key)) == key_id
