"""Import jobs: the uploaded file, its progress and its result, kept as small files in the instance folder.

A large file is imported by a background thread with its own database session, so the upload request returns at
once and the page polls the job's progress. Progress lives in ``<instance>/imports/<job>.json`` (written atomically),
so every worker process on the machine can answer the poll; the error report sits beside it as a CSV file. A job
whose file has not moved for ``STALE_AFTER`` seconds while "running" is reported as interrupted (its worker died;
nothing was written, since the import commits only at the end).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from flask import Flask
from flask_babel import force_locale
from flask_babel import gettext as _

from lims.audit import services as audit

from . import importing

STALE_AFTER = 120
KEEP_DAYS = 7
_JOB_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")


class UploadTooLargeError(ValueError):
    pass


@dataclass(frozen=True)
class JobFiles:
    source: Path
    state: Path
    errors: Path


def jobs_dir(app: Flask) -> Path:
    path = Path(app.instance_path) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def files(app: Flask, job_id: str) -> JobFiles | None:
    """The files of ``job_id``; ``None`` for an id that is not one of ours (never a path from the URL)."""
    if not _JOB_ID.fullmatch(job_id or ""):
        return None
    base = jobs_dir(app)
    return JobFiles(base / f"{job_id}.upload", base / f"{job_id}.json", base / f"{job_id}-errors.csv")


def new_job_id() -> str:
    return secrets.token_urlsafe(18)


def save_upload(stream: IO[bytes], destination: Path, *, max_bytes: int) -> int:
    """Copy an upload to ``destination`` in chunks; ``UploadTooLargeError`` (and nothing kept) at ``max_bytes``."""
    size = 0
    try:
        with destination.open("wb") as out:
            while chunk := stream.read(1 << 20):
                size += len(chunk)
                if size >= max_bytes:
                    raise UploadTooLargeError(size)
                out.write(chunk)
    except BaseException:
        destination.unlink(missing_ok=True)
        raise
    return size


def write_state(path: Path, state: dict) -> None:
    state = dict(state, updated_at=time.time())
    temporary = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    temporary.write_text(json.dumps(state, ensure_ascii=False))
    os.replace(temporary, path)


def read_state(path: Path) -> dict | None:
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if state.get("state") in ("queued", "running") and time.time() - state.get("updated_at", 0) > STALE_AFTER:
        state["state"] = "failed"
        state["message"] = _("Việc nhập bị gián đoạn (máy chủ khởi động lại?). Không có gì được ghi vào sổ; hãy nhập "
                             "lại tệp.")
    return state


def prune(app: Flask, *, keep_days: int = KEEP_DAYS) -> None:
    """Forget jobs older than ``keep_days`` (their files)."""
    limit = time.time() - keep_days * 86400
    for path in jobs_dir(app).iterdir():
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
        except OSError:
            continue


def run(app: Flask, job_id: str, *, filename: str, user_id: int | None, username: str, locale: str,
        today: dt.date) -> dict:
    """Import the job's file in a session of its own; commit when every row is good. Returns the final state."""
    paths = files(app, job_id)
    state: dict[str, Any] = {"job": job_id, "state": "running", "filename": filename, "user_id": user_id,
                             "rows": 0, "fraction": 0.0}
    write_state(paths.state, state)
    last_write = [0.0]

    def progress(rows: int, fraction: float) -> None:
        if time.monotonic() - last_write[0] > 0.5:
            last_write[0] = time.monotonic()
            write_state(paths.state, dict(state, rows=rows, fraction=round(fraction, 3)))

    with app.app_context(), force_locale(locale):
        session = app.extensions["lims.db"].session()
        audit.set_actor(session, actor_id=user_id, actor_name=username)
        try:
            report = importing.import_file(session, paths.source, filename=filename, today=today,
                                           progress=progress, max_rows=app.config.get("IMPORT_MAX_ROWS",
                                                                                      importing.MAX_ROWS))
            if report.ok:
                session.commit()
            else:
                session.rollback()
                with paths.errors.open("w", encoding="utf-8", newline="") as out:
                    importing.write_error_report(report.errors, out,
                                                 more=report.error_count - len(report.errors))
            state.update(report.to_dict(), state="done", fraction=1.0)
        except Exception:  # reported to the page and logged; the transaction is rolled back
            session.rollback()
            app.logger.exception("import job %s failed", job_id)
            state.update(state="failed", message=_("Lỗi không mong muốn khi nhập tệp; không có gì được ghi vào sổ. "
                                                   "Hãy báo quản trị hệ thống."))
        finally:
            session.close()
            paths.source.unlink(missing_ok=True)
        write_state(paths.state, state)
    return state


def start(app: Flask, job_id: str, *, background: bool, **kwargs) -> dict | None:
    """Run the job now (small files) or in a daemon thread; returns the final state when run now."""
    paths = files(app, job_id)
    write_state(paths.state, {"job": job_id, "state": "queued", "filename": kwargs["filename"],
                              "user_id": kwargs["user_id"], "rows": 0, "fraction": 0.0})
    if not background:
        return run(app, job_id, **kwargs)
    thread = threading.Thread(target=run, args=(app, job_id), kwargs=kwargs, name=f"import-{job_id[:8]}",
                              daemon=True)
    thread.start()
    return None
