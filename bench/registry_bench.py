"""Registry benchmarks (issue 3, "Speed"):

(a) import of 100 000 generated instruments from a CSV on a fresh migrated SQLite database — validated and audited,
    through ``lims.registry.importing`` as the upload and the command use it — in rows/s and peak RSS, against a raw
    SQLAlchemy Core ``executemany`` of the same rows into the same table, measured in the same run;
(b) registry search on 1 000 000 instruments of 20 000 customers: p50/p95 in ms of serial-prefix and customer-name
    searches through ``services.search_instruments`` (what the list page calls), on SQLite and, when
    ``LIMS_BENCH_DATABASE_URL`` names a PostgreSQL server, on a scratch database created there and dropped after.

``python -m bench registry`` (``--quick``: 20 000 rows to import, 100 000 instruments to search).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import multiprocessing
import os
import random
import resource
import statistics
import tempfile
import time
import uuid
from pathlib import Path

TODAY = dt.date(2026, 11, 22)
IMPORT_COLUMNS = ["customer_tax_code", "customer_name", "customer_address", "customer_commune", "customer_district",
                  "customer_province", "type_code", "manufacturer", "model", "serial", "pattern_approval_mark",
                  "year_made", "place_of_use", "status", "last_verified_date", "next_due_date", "max", "e", "d",
                  "unit", "accuracy_class", "nominal", "un_v", "ib_a", "imax_a", "constant_imp_per_kwh", "kind",
                  "k_imp_per_km", "vehicle_plate"]


def _database(url: str):
    """The application's database layer (engine settings, session kinds, the audit hook) without the web app."""
    from lims.audit import services as audit
    from lims.db import Database
    from lims.models import import_all_models

    import_all_models()
    audit.install()
    return Database(url)


def _migrate(url: str) -> None:
    from lims import migrate
    from lims.db import make_engine

    engine = make_engine(url)
    migrate.upgrade(engine, "heads")  # "heads" equals "head" once the features' migrations are chained
    engine.dispose()


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- (a) import -------------------------------------------------------------------------------------------------

def write_csv(path: Path, rows: int, *, customers: int = 1000, seed: int = 7) -> None:
    from lims import demo

    plans = demo.customers(random.Random(seed), customers)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, IMPORT_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in demo.instruments(random.Random(seed + 1), plans, rows, today=TODAY):
            writer.writerow(row)


def _import_in_child(csv_path: str, db_path: str, queue) -> None:
    """Import the CSV in a fresh process, so that its peak RSS is the import's own."""
    from lims.audit import services as audit
    from lims.registry import importing

    # How much of the time goes to the audit trail's append (one hash-chained event per created row).
    in_audit = [0.0]
    append = audit.append

    def timed_append(session, events):
        started = time.perf_counter()
        try:
            return append(session, events)
        finally:
            in_audit[0] += time.perf_counter() - started

    audit.append = timed_append
    database = _database(f"sqlite:///{db_path}")
    session = database.session()
    session.info["actor_name"] = "bench"
    started = time.perf_counter()
    report = importing.import_file(session, Path(csv_path), filename=Path(csv_path).name, today=TODAY)
    session.commit()
    seconds = time.perf_counter() - started
    session.close()
    database.dispose()
    queue.put({"rows": report.rows, "created": report.created, "errors": report.error_count, "seconds": seconds,
               "audit_append_seconds": round(in_audit[0], 2), "peak_rss_mb": round(_peak_rss_mb(), 1)})


def _raw_core_in_child(csv_path: str, db_path: str, queue) -> None:
    """The reference: the same rows, already converted to column values, inserted by one Core executemany."""
    from sqlalchemy import insert, select

    from lims.models import utcnow
    from lims.registry import importing, services
    from lims.registry.models import Customer, Instrument
    from lims.text import fold

    database = _database(f"sqlite:///{db_path}")
    now = utcnow()
    customers: dict[str, int] = {}
    rows = []
    with Path(csv_path).open(newline="", encoding="utf-8") as handle, database.transaction() as session:
        for record in csv.DictReader(handle):
            code = record["customer_tax_code"]
            if code not in customers:
                customers[code] = session.execute(insert(Customer).returning(Customer.id), [{
                    "name": record["customer_name"], "name_key": fold(record["customer_name"]),
                    "tax_code": code or None, "created_at": now, "updated_at": now}]).scalar_one()
            kind = record["type_code"]
            rows.append({
                "customer_id": customers[code], "type_code": kind, "manufacturer": record["manufacturer"],
                "manufacturer_key": services.manufacturer_key(record["manufacturer"]), "model": record["model"],
                "serial": record["serial"], "serial_key": services.serial_key(record["serial"]),
                "pattern_approval_mark": record["pattern_approval_mark"], "year_made": int(record["year_made"]),
                "spec": {k: record[k] for k in services.SPEC_FIELDS[kind] if record.get(k)},
                "place_of_use": record["place_of_use"], "status": record["status"],
                "last_verified_date": importing.parse_day(record["last_verified_date"]),
                "next_due_date": importing.parse_day(record["next_due_date"]), "notes": "", "created_at": now,
                "updated_at": now})
    with database.transaction() as session:
        assert session.scalar(select(Instrument.id)) is None
        # The page cache the import gives itself (importing._page_cache), so that only the insert path differs.
        session.connection().exec_driver_sql(f"PRAGMA cache_size={-importing.SQLITE_IMPORT_CACHE_KIB}")
        started = time.perf_counter()
        session.connection().execute(insert(Instrument), rows)
        session.commit()
        seconds = time.perf_counter() - started
    database.dispose()
    queue.put({"rows": len(rows), "seconds": seconds})


def _in_child(target, *args) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def bench_import(rows: int, workdir: Path) -> dict:
    csv_path = workdir / f"instruments-{rows}.csv"
    write_csv(csv_path, rows)
    results = {}
    for name, target in (("import", _import_in_child), ("raw_core_executemany", _raw_core_in_child)):
        db_path = workdir / f"{name}-{rows}.sqlite3"
        _migrate(f"sqlite:///{db_path}")
        outcome = _in_child(target, str(csv_path), str(db_path))
        outcome["rows_per_s"] = round(outcome["rows"] / outcome["seconds"])
        outcome["seconds"] = round(outcome["seconds"], 2)
        results[name] = outcome
    results["import"]["file_mb"] = round(csv_path.stat().st_size / 1e6, 1)
    results["ratio_to_raw_core"] = round(results["import"]["rows_per_s"] / results["raw_core_executemany"][
        "rows_per_s"], 3)
    return results


# --- (b) search -------------------------------------------------------------------------------------------------

def _load(url: str, *, customers: int, instruments: int, seed: int = 11) -> tuple[list[str], list[str]]:
    """Fill a migrated database fast (no audit: this measures search) and return sample serials and names."""
    from sqlalchemy import text

    from lims import demo
    from lims.db import make_engine
    from lims.registry import services
    from lims.text import fold

    rng = random.Random(seed)
    plans = demo.customers(rng, customers)
    engine = make_engine(url)
    sqlite = engine.dialect.name == "sqlite"
    now = dt.datetime.now(dt.timezone.utc)
    stamp = now.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else now
    customer_rows = [(i, p.fields["name"], fold(p.fields["name"]), p.fields["tax_code"],
                      p.fields["address"], p.fields["commune"], p.fields["district"], p.fields["province"], "", "",
                      "", "", stamp, stamp) for i, p in enumerate(plans, 1)]
    columns = ("id, customer_id, type_code, manufacturer, manufacturer_key, model, serial, serial_key, "
               "pattern_approval_mark, year_made, spec, place_of_use, status, last_verified_date, next_due_date, "
               "notes, import_batch, created_at, updated_at")
    serials, names = [], []
    tax_ids = {p.fields["tax_code"]: i for i, p in enumerate(plans, 1)}
    name_ids = {(p.fields["name"], p.fields["address"]): i for i, p in enumerate(plans, 1)}

    def instrument_rows():
        for number, row in enumerate(demo.instruments(random.Random(seed + 1), plans, instruments, today=TODAY), 1):
            customer_id = tax_ids.get(row["customer_tax_code"]) or name_ids[(row["customer_name"],
                                                                           row["customer_address"])]
            kind = row["type_code"]
            spec = json.dumps({k: row[k] for k in services.SPEC_FIELDS[kind] if row.get(k)})
            last = row["last_verified_date"] or None
            if number % 997 == 0:
                serials.append(row["serial"])
            yield (number, customer_id, kind, row["manufacturer"], services.manufacturer_key(row["manufacturer"]),
                   row["model"], row["serial"], services.serial_key(row["serial"]), row["pattern_approval_mark"],
                   int(row["year_made"]), spec, row["place_of_use"], row["status"], last, row["next_due_date"], "",
                   "bench", stamp, stamp)

    with engine.begin() as connection:
        if sqlite:
            connection.exec_driver_sql("PRAGMA cache_size=-262144")
            connection.exec_driver_sql(
                "INSERT INTO customers (id, name, name_key, tax_code, address, commune, district, province, "
                "contact_name, phone, email, notes, created_at, updated_at) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", customer_rows)
            batch = []
            for values in instrument_rows():
                batch.append(values)
                if len(batch) == 50_000:
                    connection.exec_driver_sql(f"INSERT INTO instruments ({columns}) VALUES ({', '.join('?' * 19)})",
                                               batch)
                    batch = []
            if batch:
                connection.exec_driver_sql(f"INSERT INTO instruments ({columns}) VALUES ({', '.join('?' * 19)})",
                                           batch)
        else:
            cursor = connection.connection.cursor()
            with cursor.copy("COPY customers (id, name, name_key, tax_code, address, commune, district, province, "
                             "contact_name, phone, email, notes, created_at, updated_at) FROM STDIN") as copy:
                for values in customer_rows:
                    copy.write_row(values)
            with cursor.copy(f"COPY instruments ({columns}) FROM STDIN") as copy:
                for values in instrument_rows():
                    copy.write_row(values)
            connection.execute(text("SELECT setval(pg_get_serial_sequence('customers', 'id'), :n)"),
                               {"n": len(customer_rows)})
            connection.execute(text("SELECT setval(pg_get_serial_sequence('instruments', 'id'), :n)"),
                               {"n": instruments})
    with engine.connect() as connection:  # planner statistics, as autovacuum (PostgreSQL) or PRAGMA optimize keep
        if sqlite:
            connection.exec_driver_sql("ANALYZE")
        else:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
        connection.commit()
    engine.dispose()
    # Customer-name queries: the distinctive end of a name (the owner's given names, the shop's words), without
    # accents, as a person types it: "thi lan", "hoang long", "pho nui".
    for plan in rng.sample(plans, 200):
        words = fold(plan.fields["name"].split(" - ")[0]).split()
        names.append(" ".join(words[-2:]))
    return serials, names


def _timings(function, queries) -> dict:
    samples = []
    for query in queries:
        started = time.perf_counter()
        function(query)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {"queries": len(samples), "p50_ms": round(statistics.median(samples), 2),
            "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 2), "max_ms": round(samples[-1], 2)}


def bench_search(url: str, *, customers: int, instruments: int) -> dict:
    from lims.registry import services

    started = time.perf_counter()
    serials, names = _load(url, customers=customers, instruments=instruments)
    load_seconds = time.perf_counter() - started
    database = _database(url)
    rng = random.Random(5)
    prefixes = [services.serial_key(s)[:rng.randrange(5, 9)] for s in serials][:200]

    def search(**filters):
        session = database.session(readonly=True)
        try:
            page = services.search_instruments(session, services.InstrumentFilter(**filters), today=TODAY,
                                               per_page=50)
            return len(page.items)
        finally:
            session.close()

    try:
        search(q="warm up")
        return {
            "instruments": instruments, "customers": customers, "load_seconds": round(load_seconds, 1),
            "serial_prefix": _timings(lambda q: search(q=q), prefixes),
            "customer_name": _timings(lambda q: search(q=q), names),
            "broad_customer_name": _timings(lambda q: search(q=q), ["ho kinh doanh", "cong ty", "dien luc"] * 5),
            "overdue_list": _timings(lambda _q: search(overdue=True), range(20)),
            "unfiltered_list": _timings(lambda _q: search(), range(20)),
            "examples": {"serial_prefix": prefixes[:4], "customer_name": names[:4]},
        }
    finally:
        database.dispose()


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
    quick = getattr(args, "quick", False)
    import_rows = 20_000 if quick else 100_000
    search_size = (100_000, 2_000) if quick else (1_000_000, 20_000)
    figures: dict = {}
    with tempfile.TemporaryDirectory(prefix="lims-bench-") as tmp:
        workdir = Path(tmp)
        print(f"import of {import_rows} instruments from CSV (SQLite) …", flush=True)
        figures["import"] = bench_import(import_rows, workdir)
        if not quick:
            figures["import_memory_check_20k"] = bench_import(20_000, workdir)["import"]
        print(json.dumps(figures, indent=2), flush=True)
        instruments, customers = search_size
        print(f"search on {instruments} instruments, {customers} customers (SQLite) …", flush=True)
        url = f"sqlite:///{workdir / 'search.sqlite3'}"
        _migrate(url)
        figures["search_sqlite"] = bench_search(url, customers=customers, instruments=instruments)
        print(json.dumps(figures["search_sqlite"], indent=2), flush=True)
        if server := os.environ.get("LIMS_BENCH_DATABASE_URL"):
            print(f"search on {instruments} instruments, {customers} customers (PostgreSQL) …", flush=True)
            url, drop = _postgres_scratch(server)
            try:
                _migrate(url)
                figures["search_postgresql"] = bench_search(url, customers=customers, instruments=instruments)
            finally:
                drop()
            print(json.dumps(figures["search_postgresql"], indent=2), flush=True)
    return figures
