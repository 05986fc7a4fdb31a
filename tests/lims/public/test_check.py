"""The public check ``GET /V/<token>`` (DESIGN.md §6): genuine or not, then the live status, for anyone, on a phone."""

import base64
import datetime as dt
import shutil
import subprocess
import urllib.parse

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from lims import create_app
from lims.certificates import keys, seal, services
from tests.lims.certificates.factories import TODAY

NOT_GENUINE = "KHÔNG PHẢI TEM THẬT"


def _path(certificate) -> str:
    return urllib.parse.urlsplit(certificate.seal_url).path


def _json(client, path: str):
    response = client.get(path, headers={"Accept": "application/json"})
    return response, response.get_json()


@pytest.fixture
def certificate(ready_lab):
    return ready_lab.issue(ready_lab.verification())


def test_a_genuine_certificate_in_force_shows_valid_with_its_facts(client, certificate):
    response = client.get(_path(certificate))
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert 'data-status="valid"' in page and "Giấy chứng nhận thật, còn hiệu lực" in page
    for expected in (certificate.number, certificate.serial, "Công ty TNHH Taxi Phố Núi", "03/03/2027",
                     "05/03/2026", "CAS (Hàn Quốc)", "Cân điện tử", "GL-26 0000001",
                     "Trung tâm Kỹ thuật Tiêu chuẩn Đo lường Chất lượng Gia Lai"):
        assert expected in page, expected
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in page
    assert "<script" not in page and "style=" not in page  # CSP: no inline script or style
    assert response.headers["Cache-Control"] == "no-store"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_the_same_url_answers_json(client, certificate):
    response, body = _json(client, _path(certificate))
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert body["status"] == "valid"
    c = body["certificate"]
    assert (c["number"], c["revision"], c["kind"], c["verdict"]) == (certificate.number, 0, "verification", "passed")
    assert (c["issue_date"], c["valid_until"]) == ("2026-03-05", "2027-03-03")
    assert c["instrument"]["serial"] == certificate.serial and c["instrument"]["manufacturer"] == "CAS (Hàn Quốc)"
    assert c["owner"] == "Công ty TNHH Taxi Phố Núi" and c["stamp_number"] == "GL-26 0000001"
    assert c["issuer"] == "Trung tâm Kỹ thuật Tiêu chuẩn Đo lường Chất lượng Gia Lai"
    assert c["superseded_by"] is None and c["revoked_at"] is None


def test_the_path_and_the_token_ignore_letter_case(client, certificate):
    lower = "/v/" + certificate.seal_token.lower()
    mixed = "/V/" + certificate.seal_token[:50].lower() + certificate.seal_token[50:]
    for path in (lower, mixed):
        assert _json(client, path)[1]["status"] == "valid"


def test_english_switch(client, certificate):
    page = client.get(_path(certificate) + "?lang=en").get_data(as_text=True)
    assert "Genuine certificate, valid" in page and 'lang="en"' in page
    assert "Tiếng Việt" in page


def test_an_expired_certificate_shows_expired(ready_lab, client):
    lab = ready_lab
    old = lab.issue(lab.verification(performed_date=dt.date(2024, 3, 4)), today=dt.date(2024, 3, 5))
    response, body = _json(client, _path(old))
    assert body["status"] == "expired" and body["certificate"]["valid_until"] == "2025-03-03"
    page = client.get(_path(old)).get_data(as_text=True)
    assert 'data-status="expired"' in page and "ĐÃ HẾT HIỆU LỰC" in page and "03/03/2025" in page


def test_a_superseded_certificate_names_its_replacement(ready_lab, client, certificate):
    lab = ready_lab
    new = services.amend_certificate(lab.session, certificate=certificate, reason="Sai địa chỉ",
                                     issued_by_id=lab.approver.id, request_key="amend", today=TODAY,
                                     settings=lab.settings)
    lab.session.commit()
    _response, body = _json(client, _path(certificate))
    assert body["status"] == "superseded" and body["certificate"]["superseded_by"] == new.number
    page = client.get(_path(certificate)).get_data(as_text=True)
    assert "ĐÃ ĐƯỢC THAY THẾ" in page and new.number in page
    assert _json(client, _path(new))[1]["status"] == "valid"


def test_a_revoked_certificate_shows_revoked_with_reason_and_date(ready_lab, client, certificate):
    lab = ready_lab
    services.revoke_certificate(lab.session, certificate=certificate, reason="Niêm phong bị phá",
                                revoked_by_id=lab.approver.id,
                                now=dt.datetime(2026, 4, 1, 20, 0, tzinfo=dt.timezone.utc))
    lab.session.commit()
    _response, body = _json(client, _path(certificate))
    assert body["status"] == "revoked" and body["certificate"]["revocation_reason"] == "Niêm phong bị phá"
    page = client.get(_path(certificate)).get_data(as_text=True)
    assert "ĐÃ BỊ THU HỒI" in page and "Niêm phong bị phá" in page
    assert "02/04/2026" in page  # 20:00 UTC is the next morning at the centre


def test_a_notice_of_failure_says_failed(ready_lab, client):
    notice = ready_lab.issue(ready_lab.verification(failing=True))
    page = client.get(_path(notice)).get_data(as_text=True)
    assert "KHÔNG ĐẠT" in page and 'status-failed' in page
    assert _json(client, _path(notice))[1]["certificate"]["verdict"] == "failed"


def _flip(token: str, bit: int) -> str:
    raw = bytearray(base64.b32decode(token + "=" * (-len(token) % 8)))
    raw[bit // 8] ^= 0x80 >> (bit % 8)
    return base64.b32encode(bytes(raw)).decode().rstrip("=")


def _shows_nothing_from(page: str, certificate) -> None:
    assert NOT_GENUINE in page
    for leaked in (certificate.number, certificate.serial, "Taxi Phố Núi"):
        assert leaked not in page


def test_every_single_bit_flip_of_a_real_token_is_not_genuine(client, certificate):
    token = certificate.seal_token
    bits = len(base64.b32decode(token + "=" * (-len(token) % 8))) * 8
    for bit in range(bits):
        response, body = _json(client, "/V/" + _flip(token, bit))
        assert body["status"] == "invalid" and body["certificate"] is None, bit
        assert response.status_code in (400, 404)
    page = client.get("/V/" + _flip(token, 100)).get_data(as_text=True)
    _shows_nothing_from(page, certificate)


def test_a_truncated_or_extended_token_is_not_genuine(client, certificate):
    token = certificate.seal_token
    for forged in (token[:-1], token[:-8], token[:40], token + "A", token + "AAAAAAAA", "A", "0" * 10):
        response = client.get("/V/" + forged)
        assert response.status_code in (400, 404)
        _shows_nothing_from(response.get_data(as_text=True), certificate)


def test_a_seal_signed_by_an_unknown_key_is_not_genuine(client, certificate):
    stranger = Ed25519PrivateKey.generate()
    payload = seal.SealPayload(number=certificate.number, revision=0, issue_date=TODAY,
                               valid_until=certificate.valid_until, serial=certificate.serial,
                               verdict=seal.Verdict.PASSED, digest=bytes.fromhex(certificate.record_digest))
    forged = seal.sign(payload, stranger, seal.key_id_for(stranger))
    response, body = _json(client, "/V/" + forged)
    assert response.status_code == 404 and body == {"status": "invalid", "reason": "unknown_key", "certificate": None}
    _shows_nothing_from(client.get("/V/" + forged).get_data(as_text=True), certificate)


def test_a_genuine_signature_over_another_record_is_not_genuine(ready_lab, client, certificate):
    """The centre's own key over a payload whose digest is not the stored record's (or a number not issued)."""
    lab = ready_lab
    key_id, private_key = keys.current_signer(lab.session, lab.app.config["SEAL_KEY_FILE"])
    base = dict(number=certificate.number, revision=0, issue_date=TODAY, valid_until=dt.date(2030, 1, 1),
                serial=certificate.serial, verdict=seal.Verdict.PASSED)
    other_digest = seal.sign(seal.SealPayload(**base, digest=b"\x00" * 20), private_key, key_id)
    assert _json(client, "/V/" + other_digest)[1]["reason"] == "digest"
    unknown = seal.sign(seal.SealPayload(**{**base, "number": "KĐ-2026-999999"},
                                         digest=bytes.fromhex(certificate.record_digest)), private_key, key_id)
    assert _json(client, "/V/" + unknown)[1]["reason"] == "unknown_certificate"
    other_revision = seal.sign(seal.SealPayload(**{**base, "valid_until": certificate.valid_until, "revision": 1},
                                                digest=bytes.fromhex(certificate.record_digest)), private_key, key_id)
    assert _json(client, "/V/" + other_revision)[1]["reason"] == "unknown_certificate"


def test_a_certificate_number_alone_finds_nothing(client, certificate):
    for path in ("/V/" + urllib.parse.quote(certificate.number), "/V/KD2026000001"):
        response = client.get(path)
        assert response.status_code in (400, 404)
        _shows_nothing_from(response.get_data(as_text=True), certificate)


def test_a_record_altered_in_the_database_is_not_genuine(ready_lab, client, certificate):
    lab = ready_lab
    lab.session.execute(text("UPDATE certificates SET record_digest = :d WHERE id = :id"),
                        {"d": "0" * 40, "id": certificate.id})
    lab.session.commit()
    assert _json(client, _path(certificate))[1] == {"status": "invalid", "reason": "digest", "certificate": None}


def test_seals_of_a_retired_key_still_verify_and_a_new_key_is_picked_up(ready_lab, client, certificate, monkeypatch):
    lab = ready_lab
    assert _json(client, _path(certificate))[1]["status"] == "valid"  # the key ring is loaded now
    keys.rotate_key(lab.session, lab.app.config["SEAL_KEY_FILE"])
    lab.session.commit()
    monkeypatch.setattr(services.KeyRing, "RELOAD_INTERVAL_S", 0.0)
    newer = lab.issue(lab.verification())
    assert newer.seal_key_id != certificate.seal_key_id
    assert _json(client, _path(newer))[1]["status"] == "valid"
    assert _json(client, _path(certificate))[1]["status"] == "valid"


def test_the_qr_code_printed_in_the_pdf_opens_the_right_page(ready_lab, client, certificate, tmp_path):
    import zxingcpp
    from PIL import Image

    from lims.certificates.models import CertificateRecord

    if not shutil.which("pdftoppm"):
        pytest.skip("poppler-utils' pdftoppm is not installed (apt-get install poppler-utils)")
    data = ready_lab.session.get(CertificateRecord, certificate.id).pdf
    (tmp_path / "c.pdf").write_bytes(data)
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-f", "2", "-l", "2", "-singlefile", str(tmp_path / "c.pdf"),
                    str(tmp_path / "page")], check=True, timeout=60)
    with Image.open(tmp_path / "page.png") as image:
        codes = zxingcpp.read_barcodes(image)
    assert len(codes) == 1 and codes[0].format == zxingcpp.BarcodeFormat.QRCode
    url = codes[0].text
    assert url == certificate.seal_url
    parts = urllib.parse.urlsplit(url)
    assert parts.netloc.lower() == "lims.test"
    page = client.get(parts.path).get_data(as_text=True)
    assert 'data-status="valid"' in page and certificate.number in page


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567abcdefghijklmnopqrstuvwxyz01890=-_~.%+ /\\?#&é\x00"


@st.composite
def _mutations(draw, token: str):
    kind = draw(st.sampled_from(["replace", "insert", "delete", "truncate", "swap", "junk"]))
    chars = list(token)
    if kind == "junk":
        return draw(st.text(alphabet=_ALPHABET, max_size=400))
    if kind == "truncate":
        return token[:draw(st.integers(0, len(token) - 1))]
    for _ in range(draw(st.integers(1, 4))):
        index = draw(st.integers(0, max(len(chars) - 1, 0)))
        if kind == "replace" and chars:
            chars[index] = draw(st.sampled_from(_ALPHABET))
        elif kind == "insert":
            chars.insert(index, draw(st.sampled_from(_ALPHABET)))
        elif kind == "delete" and chars:
            del chars[index]
        elif kind == "swap" and len(chars) > 1:
            other = draw(st.integers(0, len(chars) - 1))
            chars[index], chars[other] = chars[other], chars[index]
    return "".join(chars)


def test_mutated_tokens_never_crash_the_page_and_are_never_accepted(client, certificate):
    token = certificate.seal_token

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(data=st.data())
    def check(data):
        mutated = data.draw(_mutations(token))
        response = client.get("/V/" + urllib.parse.quote(mutated, safe=""), headers={"Accept": "application/json"})
        # 308: a "/" in the mutation makes another path, which the router normalises; never a server error.
        assert response.status_code in (200, 308, 400, 404), (mutated, response.status_code)
        if response.status_code == 200:
            assert mutated.upper() == token.upper(), mutated  # only the token itself, in any letter case
            assert response.get_json()["status"] == "valid"
        elif response.mimetype == "application/json" and "status" in response.get_json():
            assert response.get_json() == {"status": "invalid", "reason": response.get_json()["reason"],
                                           "certificate": None}

    check()


def test_the_check_is_rate_limited_per_client(ready_lab, app_config, certificate):
    limited = create_app({**app_config, "RATELIMIT_ENABLED": True, "PUBLIC_CHECK_RATE_LIMIT": "3 per minute"})
    try:
        client = limited.test_client()
        path = _path(certificate)
        assert [client.get(path).status_code for _ in range(3)] == [200, 200, 200]
        refused = client.get(path)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        page = refused.get_data(as_text=True)
        assert 'data-status="rate_limited"' in page and "Vui lòng thử lại sau" in page
        assert certificate.serial not in page
        as_json = client.get(path, headers={"Accept": "application/json"})
        assert as_json.status_code == 429 and as_json.get_json()["status"] == "rate_limited"
        other = client.get(path, environ_base={"REMOTE_ADDR": "10.1.2.3"})  # another client is not limited
        assert other.status_code == 200
    finally:
        limited.extensions["lims.db"].dispose()
