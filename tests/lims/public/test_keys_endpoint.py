"""GET /.well-known/lims-keys.json: every seal key, so that anyone can check a seal offline (DESIGN.md §6)."""

import base64
import datetime as dt

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from lims.certificates import keys, seal


def _payload():
    return seal.SealPayload(number="KĐ-2026-012345", revision=0, issue_date=dt.date(2026, 3, 5),
                            valid_until=dt.date(2027, 3, 4), serial="SW1S-2310457", verdict=seal.Verdict.PASSED,
                            digest=seal.record_digest({"number": "KĐ-2026-012345"}))


def test_published_keys_list_every_key_current_and_retired_without_login(client, session, app):
    key_file = app.config["SEAL_KEY_FILE"]
    old = keys.create_key(session, key_file)
    session.commit()
    new, _old, _moved = keys.rotate_key(session, key_file)
    session.commit()

    response = client.get("/.well-known/lims-keys.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    body = response.get_json()
    assert body["seal_url"] == "http://lims.test/V/{token}"
    assert body["token_format"]["version"] == seal.FORMAT_VERSION
    published = {k["id"]: k for k in body["keys"]}
    assert list(published) == [old.id, new.id]
    assert published[old.id]["status"] == "retired" and published[old.id]["retired_at"].endswith("Z")
    assert published[new.id]["status"] == "current" and published[new.id]["retired_at"] is None
    for item in body["keys"]:
        assert item["algorithm"] == "Ed25519"
        raw = base64.b64decode(item["public_key"])
        assert len(raw) == 32 and seal.key_id_for(raw) == item["id"]
        assert dt.datetime.fromisoformat(item["created_at"].replace("Z", "+00:00")).tzinfo is not None


def test_a_seal_verifies_offline_with_nothing_but_the_published_keys(client, session, app):
    key_file = app.config["SEAL_KEY_FILE"]
    keys.create_key(session, key_file)
    session.commit()
    key_id, private_key = keys.current_signer(session, key_file)
    token = seal.sign(_payload(), private_key, key_id)

    body = client.get("/.well-known/lims-keys.json").get_json()
    offline = {k["id"]: Ed25519PublicKey.from_public_bytes(base64.b64decode(k["public_key"])) for k in body["keys"]}
    assert seal.verify(token, offline).number == "KĐ-2026-012345"


def test_published_keys_before_any_key_is_created_is_an_empty_list(client):
    response = client.get("/.well-known/lims-keys.json")
    assert response.status_code == 200 and response.get_json()["keys"] == []


def test_the_published_keys_route_is_public_and_read_only(client, app):
    from lims.security import endpoint_rule

    assert endpoint_rule(app, "public.keys") == "public"
    assert client.post("/.well-known/lims-keys.json").status_code == 405
