"""Public check benchmark (issue 5, "Speed"): ``GET /V/<token>`` with 1 000 000 certificates in the database.

The database gets one certificate issued for real (a verification record, a seal key, the service that numbers, seals
and prints) and 999 999 more bulk-inserted with SQLAlchemy Core from it, spread over ten years of numbers; a sample of
them get real signed tokens. The LIMS is then served by gunicorn (2 sync workers, as ``lims serve``, access log off)
on 127.0.0.1 and loaded with ``wrk`` (16 connections, 2 threads, ~10 s) on random seal URLs of the sample; a bare
Flask "hello" route is served and loaded the same way in the same run, and the figure is the ratio of the two
throughputs (targets: ≥ 50 % on SQLite, ≥ 35 % on PostgreSQL when ``LIMS_BENCH_DATABASE_URL`` names a server; p99 ≤
50 ms). The rate limiter stays on, with a limit no load here reaches. Every address is on the loopback.

``python -m bench public`` (``--quick``: 100 000 certificates, 5 s runs).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONNECTIONS = 16
THREADS = 2
WORKERS = 2
SAMPLE = 5000
PUBLIC_URL = "https://kiemdinh.gialai.gov.vn"


def hello_app():
    """The reference: a bare Flask route, served by the same gunicorn settings."""
    from flask import Flask

    app = Flask("hello")

    @app.route("/hello")
    def hello():
        return "hello"

    return app


# --- the database -------------------------------------------------------------------------------------------------

def _seed_template(app) -> int:
    """One certificate issued through the real service; returns its id."""
    import instruments
    from lims.auth import services as auth
    from lims.certificates import keys, samples, services, stamps
    from lims.registry import services as registry
    from lims.verifications.models import Signature, Verification
    from lims.verifications.services import record_sha256

    database = app.extensions["lims.db"]
    with app.app_context(), database.transaction() as session:
        session.info["actor_name"] = "bench"
        auth.configure_hasher(time_cost=1, memory_cost=1024, parallelism=1)
        people = [auth.create_user(session, username=name, full_name=full, password="bench-password-1",
                                   roles=[role])
                  for name, full, role in (("kdv", "Trần Đức Thịnh", "technician"),
                                           ("soatxet", "Nguyễn Thị Thu Hà", "reviewer"),
                                           ("giamdoc", "Phạm Văn Hưng", "approver"))]
        customer = registry.create_customer(session, name="Công ty TNHH Thương mại Chợ Trung tâm Pleiku",
                                            tax_code="5900123456", address="12 Hùng Vương", province="Gia Lai")
        instrument = registry.register_instrument(session, customer_id=customer.id, type_code="nawi",
                                                  serial="SW1S-2310457", manufacturer="CAS (Hàn Quốc)",
                                                  model="SW-1S", spec=samples.SCALE_SPEC, year_made=2023,
                                                  today=dt.date(2026, 3, 4))
        result = instruments.get("nawi").evaluate(instrument.spec, samples.SCALE_READINGS,
                                                  stage="in_service").to_dict()
        verification = Verification(instrument_id=instrument.id, kind="periodic", technician_id=people[0].id,
                                    performed_date=dt.date(2026, 3, 4), place="Phòng 102",
                                    conditions={"temperature_c": "24.6", "humidity_pct": "61"},
                                    spec=dict(instrument.spec), readings=samples.SCALE_READINGS, result=result,
                                    passed=result["passed"], state="approved")
        session.add(verification)
        session.flush()
        verification.root_id = verification.id
        session.flush()
        digest = record_sha256(verification)
        for offset, (meaning, user) in enumerate(zip(("performed", "reviewed", "approved"), people)):
            session.add(Signature(verification_id=verification.id, meaning=meaning, signer_id=user.id,
                                  signer_name=user.full_name, record_sha256=digest,
                                  signed_at=dt.datetime(2026, 3, 4, 2 + offset, tzinfo=dt.timezone.utc)))
        session.flush()
        session.expire(verification, ["signatures"])
        keys.create_key(session, app.config["SEAL_KEY_FILE"])
        stamps.receive_stamps(session, series="GL-26", first_number=1, last_number=10)
        stamps.assign_stamps(session, series="GL-26", first_number=1, last_number=10, technician_id=people[0].id)
        certificate = services.issue_for_verification(
            session, verification=verification, issued_by_id=people[2].id, request_key="bench-template",
            today=dt.date(2026, 3, 5), settings=services.IssueSettings.from_config(app.config))
        return certificate.id


def _load(app, count: int, template_id: int) -> tuple[list[str], float]:
    """Bulk-insert ``count - 1`` certificates made from the template; returns the sample's seal paths and the
    seconds it took."""
    from sqlalchemy import insert, select, text

    from lims.certificates import keys, seal
    from lims.certificates.models import Certificate
    from lims.text import fold_serial

    database = app.extensions["lims.db"]
    table = Certificate.__table__
    started = time.perf_counter()
    with database.engine.connect() as connection:
        template = dict(connection.execute(select(table).where(table.c.id == template_id)).mappings().one())
        connection.rollback()
    session = database.session()
    key_id, private_key = keys.current_signer(session, app.config["SEAL_KEY_FILE"])
    session.close()
    digest = bytes.fromhex(template["record_digest"])
    rng = random.Random(5)
    sample = set(rng.sample(range(2, count + 1), min(SAMPLE, count - 1)))
    years = 10
    per_year = -(-count // years)
    paths = []

    def rows():
        for index in range(2, count + 1):
            year = 2016 + (index - 1) // per_year
            seq = (index - 1) % per_year + 1
            number = f"KĐ-{year}-{seq:06d}"
            serial = f"SN{index:08d}"
            issue_date = dt.date(year, 1, 1) + dt.timedelta(days=(seq * 365) // (per_year + 1))
            valid_until = issue_date + dt.timedelta(days=364)
            token = ""
            if index in sample:
                token = seal.sign(seal.SealPayload(number=number, revision=0, issue_date=issue_date,
                                                   valid_until=valid_until, serial=serial,
                                                   verdict=seal.Verdict.PASSED, digest=digest), private_key, key_id)
                paths.append(f"/V/{token}")
            summary = dict(template["summary"])
            summary["instrument"] = {**summary["instrument"], "serial": serial}
            row = {key: value for key, value in template.items() if key != "id"}
            row.update(number=number, year=year, seq=seq if year != 2026 else seq + 1, issue_date=issue_date,
                       valid_until=valid_until, serial=serial, serial_key=fold_serial(serial), summary=summary,
                       stamp_id=None, seal_token=token or f"BENCH{index}",
                       seal_url=f"{PUBLIC_URL}/V/{token or index}".upper(), issue_request_key=f"bench:{index}",
                       status="revoked" if index % 97 == 0 else "issued",
                       revoked_at=template["issued_at"] if index % 97 == 0 else None,
                       revocation_reason="Cấp nhầm" if index % 97 == 0 else "")
            yield row

    with database.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            # Loading only (the server runs with FULL); set before the transaction begins.
            connection.connection.dbapi_connection.execute("PRAGMA synchronous=OFF")
        batch = []
        for row in rows():
            batch.append(row)
            if len(batch) == 20_000:
                connection.execute(insert(table), batch)
                batch = []
        if batch:
            connection.execute(insert(table), batch)
        connection.commit()
        if connection.dialect.name == "postgresql":
            connection.execute(text("ANALYZE certificates"))
            connection.commit()
        else:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()
    return paths, time.perf_counter() - started


# --- serving and loading ------------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Server:
    """gunicorn in a subprocess on 127.0.0.1, the same settings for both applications."""

    def __init__(self, target: str, env: dict, probe: str):
        self.port = _free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(WORKERS), "--worker-class", "sync",
             "--bind", f"127.0.0.1:{self.port}", "--timeout", "120", "--log-level", "warning", target],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(self.url(probe), timeout=5) as response:
                    response.read()
                    break
            except Exception:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn {target} did not start: {self.process.stderr.read()[-2000:]}")
                time.sleep(0.2)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stderr.close()


_LUA = """
local paths = {}
for line in io.lines("%s") do paths[#paths + 1] = line end
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
"""


def _wrk(url: str, seconds: int, script: Path | None = None) -> dict:
    command = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if script is not None:
        command += ["-s", str(script)]
    output = subprocess.run(command + [url], capture_output=True, text=True, timeout=seconds + 60,
                            check=True).stdout
    return _parse_wrk(output)


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _parse_wrk(output: str) -> dict:
    figures = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
               "requests": int(re.search(r"(\d+) requests in", output).group(1))}
    for percentile in ("50", "90", "99"):
        match = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
        figures[f"p{percentile}_ms"] = round(_ms(*match.groups()), 2)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    figures["non_2xx"] = int(errors.group(1)) if errors else 0
    socket_errors = re.search(r"Socket errors: (.*)", output)
    figures["socket_errors"] = socket_errors.group(1).strip() if socket_errors else ""
    figures["rps"] = round(figures["rps"], 1)
    return figures


def bench_check(url: str, *, count: int, seconds: int, workdir: Path) -> dict:
    from lims import create_app, migrate
    from lims.db import make_engine

    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    instance = workdir / "instance"
    key_file = workdir / "seal_key.pem"
    config = {"DATABASE_URL": url, "SECRET_KEY": "bench", "SEAL_KEY_FILE": str(key_file), "PUBLIC_URL": PUBLIC_URL,
              "CENTRE_NAME": "Trung tâm Kỹ thuật Tiêu chuẩn Đo lường Chất lượng Gia Lai", "CENTRE_PLACE": "Pleiku"}
    os.environ["LIMS_INSTANCE_PATH"] = str(instance)
    app = create_app(config)
    try:
        template_id = _seed_template(app)
        paths, load_seconds = _load(app, count, template_id)
    finally:
        app.extensions["lims.db"].dispose()
    paths_file = workdir / "paths.txt"
    paths_file.write_text("\n".join(paths) + "\n")
    script = workdir / "paths.lua"
    script.write_text(_LUA % paths_file)

    env = {**os.environ, "LIMS_DATABASE_URL": url, "LIMS_SECRET_KEY": "bench", "LIMS_SEAL_KEY_FILE": str(key_file),
           "LIMS_PUBLIC_URL": PUBLIC_URL, "LIMS_INSTANCE_PATH": str(instance), "LIMS_ENV": "production",
           "LIMS_CENTRE_NAME": config["CENTRE_NAME"], "LIMS_PUBLIC_CHECK_RATE_LIMIT": "100000000 per minute"}
    figures = {"certificates": count, "load_seconds": round(load_seconds, 1), "sample_tokens": len(paths),
               "connections": CONNECTIONS, "gunicorn_workers": WORKERS, "seconds": seconds}
    hello = _Server("bench.public_bench:hello_app()", env, "/hello")
    try:
        _wrk(hello.url("/hello"), 2)
        figures["hello"] = _wrk(hello.url("/hello"), seconds)
    finally:
        hello.stop()
    lims = _Server("lims:create_app()", env, paths[0])
    try:
        with urllib.request.urlopen(lims.url(paths[0]), timeout=10) as response:
            page = response.read().decode()
        if not re.search(r'data-status="(valid|expired|revoked)"', page):
            raise RuntimeError("the public check did not answer a genuine certificate")
        _wrk(lims.url("/"), 2, script)
        figures["check"] = _wrk(lims.url("/"), seconds, script)
    finally:
        lims.stop()
    figures["ratio_pct"] = round(100 * figures["check"]["rps"] / figures["hello"]["rps"], 1)
    return figures


def _postgres_scratch(server_url: str):
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"lims_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(server_url).set(database=name).render_as_string(hide_password=False), drop


def run(args) -> dict:
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    quick = getattr(args, "quick", False)
    count = 100_000 if quick else 1_000_000
    seconds = 5 if quick else 10
    figures: dict = {"targets": {"sqlite_ratio_pct": 50, "postgresql_ratio_pct": 35, "p99_ms": 50}}
    with tempfile.TemporaryDirectory(prefix="lims-bench-public-") as tmp:
        workdir = Path(tmp) / "sqlite"
        workdir.mkdir()
        print(f"public check, {count} certificates (SQLite) …", flush=True)
        figures["sqlite"] = bench_check(f"sqlite:///{workdir / 'lims.sqlite3'}", count=count, seconds=seconds,
                                        workdir=workdir)
        print(json.dumps(figures["sqlite"], indent=2), flush=True)
        if server := os.environ.get("LIMS_BENCH_DATABASE_URL"):
            workdir = Path(tmp) / "postgresql"
            workdir.mkdir()
            url, drop = _postgres_scratch(server)
            try:
                print(f"public check, {count} certificates (PostgreSQL) …", flush=True)
                figures["postgresql"] = bench_check(url, count=count, seconds=seconds, workdir=workdir)
                print(json.dumps(figures["postgresql"], indent=2), flush=True)
            finally:
                drop()
    return figures
