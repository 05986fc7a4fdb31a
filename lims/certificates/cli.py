"""``lims keys`` (the seal's signing keys: create, rotate, list) and ``lims certificate`` (list, pdf, revoke). Each
command commits once, after its service."""

from __future__ import annotations

import json
import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from lims.db import get_db

from . import keys as services


@click.group("keys")
def keys() -> None:
    """The QR seal's signing keys (private key in LIMS_SEAL_KEY_FILE, public keys in the database)."""


def _key_file() -> str:
    return current_app.config["SEAL_KEY_FILE"]


def _fail(exc: Exception) -> None:
    click.echo(f"Error: {exc}", err=True)
    sys.exit(1)


@keys.command("create")
@with_appcontext
def keys_create() -> None:
    """Create the signing key file (mode 0600); never overwrites one. An existing key file that the database does not
    know yet (e.g. copied from the signing host) is recorded instead."""
    key_file = _key_file()
    try:
        with get_db().transaction() as session:
            session.info["actor_name"] = "cli"
            known = {row.id for row in services.list_keys(session)}
            try:
                row = services.create_key(session, key_file)
                message = f"Created seal key {row.id} in {key_file} (mode 0600)."
            except services.KeyFileExistsError:
                row = services.register_key_file(session, key_file)
                if row.id in known:
                    raise services.KeyFileExistsError(
                        f"{key_file} already holds the current key {row.id}; refusing to overwrite it "
                        f"(`lims keys rotate` replaces it)") from None
                message = f"Recorded the existing key file {key_file} as seal key {row.id}."
    except services.SealKeyError as exc:
        _fail(exc)
    click.echo(message)


@keys.command("rotate")
@with_appcontext
def keys_rotate() -> None:
    """Replace the signing key: the old public key stays (retired) so that its seals keep verifying."""
    key_file = _key_file()
    try:
        with get_db().transaction() as session:
            session.info["actor_name"] = "cli"
            new, old, moved_to = services.rotate_key(session, key_file)
    except services.SealKeyError as exc:
        _fail(exc)
    click.echo(f"New seal key {new.id} in {key_file}; key {old.id} retired (it still verifies what it signed).")
    click.echo(f"The old private key was moved to {moved_to}: archive it offline or destroy it.")


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def keys_list(as_json: bool) -> None:
    """List the seal keys, current and retired."""
    key_file = _key_file()
    with get_db().transaction() as session:
        rows = [services.key_summary(row) for row in services.list_keys(session)]
        try:
            in_file = services.current_signer(session, key_file)[0]
        except services.SealKeyError:
            in_file = None
    if as_json:
        click.echo(json.dumps({"key_file": key_file, "key_in_file": in_file, "keys": rows}, indent=2))
        return
    if not rows:
        click.echo("No seal keys yet: run `lims keys create`.")
        return
    for row in rows:
        mark = "*" if row["id"] == in_file else " "
        retired = f"retired {row['retired_at']}" if row["retired_at"] else "current"
        click.echo(f"{mark} {row['id']}  {row['algorithm']}  created {row['created_at']}  {retired}")
    if in_file is None:
        click.echo(f"(no usable signing key in {key_file})")


# --- lims certificate ---------------------------------------------------------------------------------------------

@click.group("certificate")
def certificate() -> None:
    """Issued certificates: list them, print a PDF again, revoke one."""


@certificate.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array (one object per certificate).")
@click.option("--status", type=click.Choice(["valid", "expired", "superseded", "revoked"]),
              help="Only certificates in this live status.")
@click.option("--kind", type=click.Choice(["verification", "calibration", "failure_notice"]), help="Only this kind.")
@click.option("--search", "q", default="", help="Number, instrument serial or customer name.")
@with_appcontext
def certificate_list(as_json: bool, status: str | None, kind: str | None, q: str) -> None:
    """List certificates, oldest first."""
    from lims.dates import centre_today

    from . import services as certificates

    today = centre_today()
    flt = certificates.CertificateFilter(status=status or "", kind=kind or "", q=q)
    session = get_db().session(readonly=True)
    try:
        rows = []
        for row in certificates.iter_certificates(session, flt, today=today):
            following = certificates.superseded_by(session, row) if row.status == "superseded" else None
            rows.append(certificates.summary_dict(row, today=today,
                                                  superseded_by_number=following.number if following else None))
    finally:
        session.close()
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("No certificates.")
        return
    for row in rows:
        click.echo(f"{row['number']:<18} r{row['revision']}  {row['kind']:<14} {row['live_status']:<10} "
                   f"{row['issue_date']}  valid until {row['valid_until'] or '-':<10}  {row['serial']}  "
                   f"{row['customer']}")


@certificate.command("pdf")
@click.argument("number")
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False, writable=True),
              help="Where to write the PDF ('-' for standard output).")
@click.option("--reprint", is_flag=True, help="Print again from the stored record instead of the stored file "
                                              "(the bytes are the same; the command checks it).")
@with_appcontext
def certificate_pdf(number: str, output: str, reprint: bool) -> None:
    """Write the PDF of certificate NUMBER (e.g. KĐ-2026-000123) as issued."""
    import hashlib

    from . import services as certificates

    session = get_db().session(readonly=True)
    try:
        row = certificates.get_by_number(session, number)
        if row is None:
            _fail(Exception(f"no certificate numbered {number!r}"))
        data = certificates.render_pdf(row) if reprint else certificates.stored_pdf(session, row)
        expected = row.pdf_sha256
    finally:
        session.close()
    if hashlib.sha256(data).hexdigest() != expected:
        _fail(Exception(f"the PDF of {number} does not match the SHA-256 stored at issue ({expected})"))
    if output == "-":
        sys.stdout.buffer.write(data)
        return
    with open(output, "wb") as handle:
        handle.write(data)
    click.echo(f"Wrote {output} ({len(data)} bytes, SHA-256 {expected}).", err=True)


@certificate.command("revoke")
@click.argument("number")
@click.option("--reason", required=True, help="Why the certificate is withdrawn (shown on the public check).")
@with_appcontext
def certificate_revoke(number: str, reason: str) -> None:
    """Revoke certificate NUMBER, with the reason; nothing is deleted."""
    from . import services as certificates

    try:
        with get_db().transaction() as session:
            session.info["actor_name"] = "cli"
            row = certificates.get_by_number(session, number)
            if row is None:
                raise certificates.CertificateError(f"no certificate numbered {number!r}")
            certificates.revoke_certificate(session, certificate=row, reason=reason, revoked_by_id=None)
            revoked_at = row.revoked_at
    except certificates.CertificateError as exc:
        _fail(exc)
    click.echo(f"Revoked {number} at {revoked_at.isoformat(timespec='seconds')}.")
