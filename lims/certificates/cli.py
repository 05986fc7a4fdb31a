"""``lims keys``: the seal's signing keys (create, rotate, list). Each command commits once, after its service."""

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
