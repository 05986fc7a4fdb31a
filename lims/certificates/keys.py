"""The seal's signing keys: the private key in a file (``SEAL_KEY_FILE``), the public keys in ``seal_keys``.

The private key never enters the database (so no database backup holds it) nor the repository (the default file is
in the instance folder). It is a PKCS#8 PEM file of mode 0600, created only by ``lims keys create`` / ``rotate`` (or
``ensure_key``, which ``lims demo`` calls): issuing never creates one silently, it fails with :class:`SealKeyError`
naming the command to run. Rotation keeps the old public key, marked retired, so that every seal it signed keeps
verifying, and moves the old private file aside (same folder, a UTC timestamp suffix, mode 0600) for the operator
to archive offline or destroy.

Services here flush and never commit. A key file written by a command whose transaction then failed is not lost:
``lims keys create`` (``register_key_file``) records an existing, unrecorded key file instead of replacing it.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.models import utcnow

from . import seal
from .models import SealKey

ALGORITHM = "Ed25519"


class SealKeyError(Exception):
    """The signing key is missing, unreadable, unrecorded or retired; the message names the command that fixes it."""


class KeyFileExistsError(SealKeyError):
    """Refused: a key file is already there (keys are never overwritten)."""


# --- the key file -------------------------------------------------------------------------------------------------

def write_key_file(path: str | os.PathLike, private_key: Ed25519PrivateKey) -> Path:
    """Write ``private_key`` as PEM to a new file of mode 0600; :class:`KeyFileExistsError` if the file exists."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    try:
        # O_EXCL: never overwrite, even when two commands race; the mode is set at creation, never wider.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileExistsError(_("Tệp khóa ký tem %(path)s đã có; không ghi đè.", path=path)) from None
    try:
        os.fchmod(fd, 0o600)  # the umask may only narrow the mode; make it exact
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def read_key_file(path: str | os.PathLike) -> Ed25519PrivateKey:
    """Load the private key; :class:`SealKeyError` when missing, readable by others, or not an Ed25519 PEM key."""
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise SealKeyError(_("Chưa có khóa ký tem (%(path)s): chạy lệnh `lims keys create`.", path=path)) from None
    if info.st_mode & 0o077:
        raise SealKeyError(_("Tệp khóa ký tem %(path)s có quyền %(mode)s: chỉ chủ sở hữu được đọc "
                             "(chạy `chmod 600 %(path)s`).", path=path, mode=stat.filemode(info.st_mode)))
    return _load_private_key(str(path), info.st_mtime_ns, info.st_size, info.st_ino)


@functools.lru_cache(maxsize=4)
def _load_private_key(path: str, _mtime_ns: int, _size: int, _inode: int) -> Ed25519PrivateKey:
    # Cached per file version (path, mtime, size, inode), so a batch of issuances reads the file once and a rotation
    # by another process is seen at once.
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (ValueError, TypeError, OSError) as exc:
        raise SealKeyError(_("Không đọc được tệp khóa ký tem %(path)s: %(error)s", path=path, error=exc)) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SealKeyError(_("Tệp khóa ký tem %(path)s không phải khóa Ed25519.", path=path))
    return key


# --- services -----------------------------------------------------------------------------------------------------

def create_key(session: Session, key_file: str | os.PathLike, *, now: dt.datetime | None = None) -> SealKey:
    """Generate a key, record its public half (retiring any key still current: its private file is gone) and write
    the private file. :class:`KeyFileExistsError` when the file exists. Callers commit."""
    if Path(key_file).exists():
        raise KeyFileExistsError(_("Tệp khóa ký tem %(path)s đã có; không ghi đè (xem `lims keys list`, hoặc "
                                   "`lims keys rotate` để thay khóa).", path=key_file))
    private_key = Ed25519PrivateKey.generate()
    row = _record(session, private_key.public_key(), now=now or utcnow())
    write_key_file(key_file, private_key)
    return row


def register_key_file(session: Session, key_file: str | os.PathLike, *,
                      now: dt.datetime | None = None) -> SealKey:
    """Record the public key of an existing key file when it is not recorded yet (e.g. the command that wrote it
    failed to commit), making it the current key. Callers commit."""
    private_key = read_key_file(key_file)
    row = session.get(SealKey, seal.key_id_for(private_key))
    if row is None:
        return _record(session, private_key.public_key(), now=now or utcnow())
    if row.retired_at is not None:
        raise SealKeyError(_("Khóa ký tem %(key)s trong %(path)s đã ngừng dùng: chuyển tệp này đi nơi khác rồi "
                             "chạy lệnh `lims keys create` để tạo khóa mới.", key=row.id, path=key_file))
    return row


def ensure_key(session: Session, key_file: str | os.PathLike) -> SealKey:
    """The current key, created when the file is missing and recorded when it is not (``lims demo`` calls this to
    make a fresh install able to issue). Callers commit."""
    if Path(key_file).exists():
        return register_key_file(session, key_file)
    return create_key(session, key_file)


def rotate_key(session: Session, key_file: str | os.PathLike, *,
               now: dt.datetime | None = None) -> tuple[SealKey, SealKey, Path]:
    """Replace the current key: the old public key is kept, marked retired; the old private file is moved to
    ``<key_file>.<UTC timestamp>.retired`` (mode 0600); a new key file is written. Returns ``(new, old, moved_to)``.
    Callers commit."""
    now = now or utcnow()
    key_file = Path(key_file)
    old = current_key(session, key_file)
    aside = key_file.with_name(f"{key_file.name}.{now.astimezone(dt.timezone.utc):%Y%m%dT%H%M%SZ}.retired")
    if aside.exists():
        raise SealKeyError(_("%(path)s đã có; chờ một giây rồi chạy lại `lims keys rotate`.", path=aside))
    old.retired_at = now
    session.flush()  # the old key stops being current before the new one is (the partial unique index)
    private_key = Ed25519PrivateKey.generate()
    new = _record(session, private_key.public_key(), now=now)
    os.rename(key_file, aside)
    os.chmod(aside, 0o600)
    try:
        write_key_file(key_file, private_key)
    except BaseException:
        os.rename(aside, key_file)
        raise
    return new, old, aside


def current_key(session: Session, key_file: str | os.PathLike) -> SealKey:
    """The recorded, current key whose private half is in ``key_file``; :class:`SealKeyError` otherwise."""
    key_id, _private_key = current_signer(session, key_file)
    return session.get(SealKey, key_id)


def current_signer(session: Session, key_file: str | os.PathLike) -> tuple[str, Ed25519PrivateKey]:
    """``(key id, private key)`` to pass to :func:`lims.certificates.seal.sign`. :class:`SealKeyError`, naming the
    command to run, when the file is missing or its key is unrecorded or retired: issuing never creates a key."""
    private_key = read_key_file(key_file)
    key_id = seal.key_id_for(private_key)
    row = session.get(SealKey, key_id)
    if row is None:
        raise SealKeyError(_("Khóa ký tem trong %(path)s (%(key)s) chưa được ghi nhận trong cơ sở dữ liệu: chạy "
                             "lệnh `lims keys create` để ghi nhận.", path=key_file, key=key_id))
    if row.retired_at is not None:
        raise SealKeyError(_("Khóa ký tem %(key)s trong %(path)s đã ngừng dùng: chuyển tệp này đi nơi khác rồi "
                             "chạy lệnh `lims keys create` để tạo khóa mới.", key=key_id, path=key_file))
    return key_id, private_key


def public_keys(session: Session) -> dict[str, Ed25519PublicKey]:
    """Every recorded public key, retired ones included, by key id: the ``public_keys`` of
    :func:`lims.certificates.seal.verify`."""
    return {row.id: seal._public_key_from_raw(row.public_key) for row in list_keys(session)}


def list_keys(session: Session) -> list[SealKey]:
    """Every recorded key, oldest first."""
    return list(session.scalars(select(SealKey).order_by(SealKey.created_at, SealKey.id)))


def _record(session: Session, public_key: Ed25519PublicKey, *, now: dt.datetime) -> SealKey:
    raw = seal.raw_public_key(public_key)
    key_id = seal.key_id_for(raw)
    if session.get(SealKey, key_id) is not None:  # 2^-32 per pair of keys; refuse rather than confuse two keys
        raise SealKeyError(_("Mã khóa %(key)s đã được dùng; chạy lại lệnh.", key=key_id))
    for current in session.scalars(select(SealKey).where(SealKey.retired_at.is_(None))):
        current.retired_at = now  # through the ORM, so that the audit trail records the retirement
    session.flush()
    row = SealKey(id=key_id, algorithm=ALGORITHM, public_key=raw, created_at=now)
    session.add(row)
    session.flush()
    return row


def key_summary(row: SealKey) -> dict:
    """What is published about a key (``/.well-known/lims-keys.json``, ``lims keys list --json``)."""
    return {
        "id": row.id,
        "algorithm": row.algorithm,
        "public_key": base64.b64encode(row.public_key).decode("ascii"),
        "created_at": _iso(row.created_at),
        "retired_at": _iso(row.retired_at),
        "status": "current" if row.retired_at is None else "retired",
    }


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
