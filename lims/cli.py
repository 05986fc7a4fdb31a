"""The ``lims`` command (a Flask CLI group). Each command commits once, after its service succeeded."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from lims import create_app
from lims.db import get_db


def _create_app():
    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def main() -> None:
    """Laboratory management system of a legal-metrology centre."""


def register(app) -> None:
    """Attach the commands to ``app.cli``, so that ``lims``, ``flask`` and test runners all see them."""
    from lims.certificates.cli import certificate, keys  # issued certificates; the seal's signing keys
    for command in (db, serve, users, audit, demo, keys, certificate, import_group):
        app.cli.add_command(command)


# --- db ---------------------------------------------------------------------------------------------------------

@click.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Create or upgrade the schema to the latest migration."""
    from lims import migrate

    engine = get_db().engine
    migrate.upgrade(engine, revision)
    click.echo(f"Database at revision {migrate.current(engine)} ({engine.url.render_as_string(hide_password=True)})")


@db.command("current")
@with_appcontext
def db_current() -> None:
    """Print the schema's current revision."""
    from lims import migrate

    click.echo(migrate.current(get_db().engine) or "(empty)")


# --- serve ------------------------------------------------------------------------------------------------------

@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn worker processes.")
@click.option("--threads", default=1, show_default=True, type=int, help="Threads per worker.")
@click.option("--debug", is_flag=True, help="Run Flask's development server with the debugger (never in production).")
def serve(host: str, port: int, workers: int, threads: int, debug: bool) -> None:
    """Serve the application with gunicorn (the development server only with --debug)."""
    if debug:
        import os

        os.environ.setdefault("LIMS_ENV", "development")
        app = create_app()
        app.run(host=host, port=port, debug=True)
        return
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            self.cfg.set("accesslog", "-")
            self.cfg.set("timeout", 120)

        def load(self):
            return create_app()

    click.echo(f"LIMS on http://{host}:{port}  (Ctrl+C to stop)")
    Server().run()


# --- users ------------------------------------------------------------------------------------------------------

@click.group()
def users() -> None:
    """People who use the system."""


@users.command("create")
@click.argument("username")
@click.option("--name", "full_name", required=True, help="Full name.")
@click.option("--role", "roles", multiple=True, required=True,
              help="Role (repeatable): admin, reception, technician, reviewer, approver, quality_manager, auditor.")
@click.option("--email", default="")
@click.password_option(help="Password (asked when not given).")
@with_appcontext
def users_create(username: str, full_name: str, roles: tuple[str, ...], email: str, password: str) -> None:
    """Create a user."""
    from lims.auth import services

    with get_db().transaction() as session:
        session.info["actor_name"] = "cli"
        try:
            user = services.create_user(session, username=username, full_name=full_name, password=password,
                                        roles=list(roles), email=email)
        except services.UserError as exc:
            raise click.UsageError(f"{exc.field}: {exc}") from None
        click.echo(f"Created user {user.username} ({', '.join(sorted(user.role_codes))})")


# --- audit ------------------------------------------------------------------------------------------------------

@click.group()
def audit() -> None:
    """The audit trail."""


@audit.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@with_appcontext
def audit_verify(as_json: bool) -> None:
    """Verify the audit trail's hash chain; exit 1 and name the rows when it is broken."""
    from lims.audit import services

    with get_db().transaction() as session:
        report = services.verify_chain(session)
        services.record_check(session, report)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    elif report.ok:
        click.echo(f"Audit trail intact: {report.checked} events verified.")
    else:
        click.echo(f"Audit trail BROKEN: {len(report.problems)} problem(s) in {report.checked} events checked:")
        for seq, message in report.problems:
            click.echo(f"  event {seq}: {message}")
    if not report.ok:
        sys.exit(1)


# --- import -----------------------------------------------------------------------------------------------------

@click.group("import")
def import_group() -> None:
    """Bulk imports from spreadsheets."""


@import_group.command("instruments")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--max-errors", default=100, show_default=True, type=int, help="How many errors to print.")
@with_appcontext
def import_instruments(file: Path, max_errors: int) -> None:
    """Import instruments from a CSV or XLSX FILE: all rows or none; exit 1 and list the errors when any is wrong."""
    from flask_babel import force_locale

    from lims.dates import centre_today
    from lims.registry import importing

    session = get_db().session()
    session.info["actor_name"] = "cli"
    try:
        with force_locale("vi"):
            report = importing.import_file(session, file, filename=file.name, today=centre_today())
            if report.ok:
                session.commit()
            else:
                session.rollback()
            lines = report.lines(max_errors=max_errors)
    finally:
        session.close()
    for line in lines:
        click.echo(line)
    if not report.ok:
        sys.exit(1)


# --- demo -------------------------------------------------------------------------------------------------------

@click.command("demo")
@click.option("--if-empty", is_flag=True, help="Seed only a database that has no users yet; print logins anyway.")
@click.option("--instruments", "instrument_count", default=3000, show_default=True, type=int)
@with_appcontext
def demo(if_empty: bool, instrument_count: int) -> None:
    """Seed a realistic demo centre (idempotent) and print the demo logins."""
    import importlib

    from flask_babel import force_locale

    from lims import demo as demo_data

    with get_db().transaction() as session, force_locale("vi"):
        session.info["actor_name"] = "demo"
        summary = demo_data.seed(session, instrument_count=instrument_count, only_if_empty=if_empty)
        lines = summary.lines()
        if not summary.skipped:
            # Each feature seeds its own records, in the order they depend on one another.
            for feature in DEMO_ORDER:
                lines += importlib.import_module(f"lims.{feature}.demo").seed(session)
    for line in lines:
        click.echo(line)
    click.echo("")
    click.echo(f"Demo logins (open {current_app.config['PUBLIC_URL']}/login):")
    for username, password, role in demo_data.LOGINS:
        click.echo(f"  {role:<16} {username:<12} {password}")


#: Feature demo seeds run after the registry's, each idempotent.
DEMO_ORDER = ("methods", "facilities", "standards", "personnel", "verifications", "certificates")
