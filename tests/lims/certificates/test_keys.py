"""The seal's signing keys: a 0600 file outside the database, public keys recorded, rotation that keeps verifying."""

import datetime as dt
import json
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from lims.audit.models import AuditEvent
from lims.certificates import keys, seal
from lims.certificates.models import SealKey


def _payload(number="KĐ-2026-000001"):
    return seal.SealPayload(number=number, revision=0, issue_date=dt.date(2026, 3, 5),
                            valid_until=dt.date(2027, 3, 4), serial="SN-1", verdict=seal.Verdict.PASSED,
                            digest=seal.record_digest({"number": number}))


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def key_file(tmp_path):
    return tmp_path / "keys" / "seal_key.pem"


def test_create_key_writes_a_private_pem_file_of_mode_0600_and_records_only_the_public_key(session, key_file):
    row = keys.create_key(session, key_file)
    session.commit()
    assert _mode(key_file) == 0o600
    assert key_file.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    private_key = keys.read_key_file(key_file)
    assert row.id == seal.key_id_for(private_key) and row.algorithm == "Ed25519" and row.retired_at is None
    assert row.public_key == seal.raw_public_key(private_key) and len(row.public_key) == 32
    signer_id, signer = keys.current_signer(session, key_file)
    assert signer_id == row.id and seal.raw_public_key(signer) == row.public_key
    assert list(keys.public_keys(session)) == [row.id]


def test_create_key_never_overwrites_a_key_file(session, key_file):
    keys.create_key(session, key_file)
    session.commit()
    before = key_file.read_bytes()
    with pytest.raises(keys.KeyFileExistsError, match="không ghi đè"):
        keys.create_key(session, key_file)
    with pytest.raises(keys.KeyFileExistsError):
        keys.write_key_file(key_file, keys.Ed25519PrivateKey.generate())
    assert key_file.read_bytes() == before


def test_issuing_without_a_key_fails_naming_the_command_and_creates_nothing(session, key_file):
    with pytest.raises(keys.SealKeyError, match="lims keys create"):
        keys.current_signer(session, key_file)
    assert not key_file.exists()
    assert keys.list_keys(session) == []


def test_a_key_file_readable_by_others_is_refused(session, key_file):
    keys.create_key(session, key_file)
    session.commit()
    os.chmod(key_file, 0o644)
    with pytest.raises(keys.SealKeyError, match="chmod 600"):
        keys.current_signer(session, key_file)


def test_a_key_file_the_database_does_not_know_is_refused_until_recorded(session, key_file):
    keys.write_key_file(key_file, keys.Ed25519PrivateKey.generate())  # e.g. a command whose commit failed
    with pytest.raises(keys.SealKeyError, match="lims keys create"):
        keys.current_signer(session, key_file)
    row = keys.ensure_key(session, key_file)
    session.commit()
    assert keys.current_signer(session, key_file)[0] == row.id


def test_ensure_key_creates_once_then_returns_the_same_key(session, key_file):
    first = keys.ensure_key(session, key_file)
    session.commit()
    assert keys.ensure_key(session, key_file).id == first.id
    assert len(keys.list_keys(session)) == 1


def test_rotation_retires_the_old_key_which_still_verifies_what_it_signed(session, key_file):
    old = keys.create_key(session, key_file)
    session.commit()
    old_id, old_private = keys.current_signer(session, key_file)
    old_token = seal.sign(_payload(), old_private, old_id)

    new, retired, moved_to = keys.rotate_key(session, key_file)
    session.commit()
    assert retired.id == old.id and retired.retired_at is not None and new.retired_at is None and new.id != old.id
    # The old private key is kept aside, mode 0600, for the operator to archive or destroy; the new one is in place.
    assert moved_to.parent == key_file.parent and moved_to.name.startswith("seal_key.pem.")
    assert moved_to.name.endswith(".retired") and _mode(moved_to) == 0o600 and _mode(key_file) == 0o600
    assert seal.key_id_for(keys.read_key_file(moved_to)) == old.id
    new_id, new_private = keys.current_signer(session, key_file)
    assert new_id == new.id

    published = keys.public_keys(session)
    assert set(published) == {old.id, new.id}
    assert seal.verify(old_token, published).key_id == old.id
    assert seal.verify(seal.sign(_payload("KĐ-2026-000002"), new_private, new_id), published).key_id == new.id
    assert [row.id for row in keys.list_keys(session) if row.retired_at is None] == [new.id]


def test_the_database_allows_one_current_key_only(session, key_file):
    keys.create_key(session, key_file)
    session.commit()
    other = keys.Ed25519PrivateKey.generate()
    session.add(SealKey(id=seal.key_id_for(other), public_key=seal.raw_public_key(other)))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def test_key_creation_and_rotation_are_in_the_audit_trail(session, key_file):
    keys.create_key(session, key_file)
    session.commit()
    new, old, _moved = keys.rotate_key(session, key_file)
    session.commit()
    events = session.scalars(select(AuditEvent).filter_by(entity_type="seal_keys").order_by(AuditEvent.seq)).all()
    assert [(e.action, e.entity_id) for e in events] == [("insert", old.id), ("update", old.id), ("insert", new.id)]
    assert events[1].changes["retired_at"][0] is None


# --- the commands -------------------------------------------------------------------------------------------------

def test_lims_keys_create_list_rotate(runner, app):
    key_file = app.config["SEAL_KEY_FILE"]
    result = runner.invoke(args=["keys", "create"])
    assert result.exit_code == 0, result.output
    assert "Created seal key" in result.output and _mode(key_file) == 0o600
    first_id = result.output.split("Created seal key ")[1].split()[0]

    again = runner.invoke(args=["keys", "create"])
    assert again.exit_code == 1 and "refusing to overwrite" in again.output

    rotated = runner.invoke(args=["keys", "rotate"])
    assert rotated.exit_code == 0, rotated.output
    assert f"key {first_id} retired" in rotated.output

    listed = json.loads(runner.invoke(args=["keys", "list", "--json"]).output)
    assert [(k["id"], k["status"]) for k in listed["keys"]][0] == (first_id, "retired")
    assert [k["status"] for k in listed["keys"]] == ["retired", "current"]
    assert listed["key_in_file"] == listed["keys"][1]["id"]
    text = runner.invoke(args=["keys", "list"]).output
    assert f"* {listed['key_in_file']}" in text and "retired" in text


def test_lims_keys_list_without_keys_says_what_to_run(runner):
    result = runner.invoke(args=["keys", "list"])
    assert result.exit_code == 0 and "lims keys create" in result.output


def test_lims_keys_create_records_an_existing_unrecorded_key_file_instead_of_replacing_it(runner, app):
    key_file = app.config["SEAL_KEY_FILE"]
    private_key = keys.Ed25519PrivateKey.generate()
    keys.write_key_file(key_file, private_key)
    before = Path(key_file).read_bytes()
    result = runner.invoke(args=["keys", "create"])
    assert result.exit_code == 0, result.output
    assert f"Recorded the existing key file {key_file} as seal key {seal.key_id_for(private_key)}" in result.output
    assert Path(key_file).read_bytes() == before


def test_lims_keys_rotate_without_a_key_names_the_command_to_run(runner):
    result = runner.invoke(args=["keys", "rotate"])
    assert result.exit_code == 1 and "lims keys create" in result.output


def test_a_retired_key_file_put_back_in_place_cannot_sign(session, key_file):
    keys.create_key(session, key_file)
    session.commit()
    _new, old, moved_to = keys.rotate_key(session, key_file)
    session.commit()
    os.replace(moved_to, key_file)  # an old backup of the key file restored by mistake
    with pytest.raises(keys.SealKeyError, match=f"{old.id}.*đã ngừng dùng.*lims keys create"):
        keys.current_signer(session, key_file)
    with pytest.raises(keys.SealKeyError, match="đã ngừng dùng"):
        keys.ensure_key(session, key_file)
