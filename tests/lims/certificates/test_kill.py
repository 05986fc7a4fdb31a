"""Reliability: ``kill -9`` of a process issuing certificates in a loop (one transaction each) loses no committed
certificate, leaves none half-written, and leaves the numbers gapless."""

import datetime as dt
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lims.audit import services as audit
from lims.certificates import keys, seal, services
from lims.certificates.models import Certificate, CertificateRecord, Stamp
from lims.jobs.models import NumberCounter

ROOT = Path(__file__).resolve().parents[3]

ISSUER = textwrap.dedent("""
    import datetime as dt, json, sys
    from lims.models import import_all_models
    from lims.audit import services as audit
    from lims.db import Database
    from lims.certificates import services
    from lims.verifications.models import Verification

    import_all_models()
    audit.install()
    url, settings_json, ids = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
    settings = services.IssueSettings.from_config(settings_json)
    database = Database(url)
    for verification_id in ids:
        with database.transaction() as session:
            session.info["actor_name"] = "batch"
            certificate = services.issue_for_verification(
                session, verification=session.get(Verification, verification_id), issued_by_id=None,
                request_key=f"batch:{verification_id}", today=dt.date(2026, 3, 5), settings=settings)
            number = certificate.number
        print(number, flush=True)
""")


@pytest.mark.slow
def test_kill_9_during_a_batch_leaves_every_committed_certificate_whole_and_numbers_gapless(ready_lab, app):
    lab = ready_lab
    lab.stamps(1000, 1100)
    ids = [lab.verification(commit=False).id for _ in range(40)]
    lab.session.commit()
    config = {key: app.config[key] for key in ("PUBLIC_URL", "SEAL_KEY_FILE", "CENTRE_NAME", "CENTRE_ADDRESS",
                                               "CENTRE_DESIGNATION", "CENTRE_ACCREDITATION", "CENTRE_PLACE")}
    process = subprocess.Popen([sys.executable, "-c", ISSUER, app.config["DATABASE_URL"], json.dumps(config),
                                json.dumps(ids)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    printed = []
    try:
        deadline = time.monotonic() + 120
        while len(printed) < 6 and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            printed.append(line.strip())
        assert len(printed) == 6, process.stderr.read()
        time.sleep(random.uniform(0.0, 0.05))  # somewhere inside the next issuance
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL

    session = lab.session
    session.rollback()
    session.expire_all()
    rows = list(session.scalars(select(Certificate).order_by(Certificate.seq)))
    count = len(rows)
    assert 6 <= count < len(ids)
    assert set(printed) <= {row.number for row in rows}  # nothing reported as committed was lost
    assert [row.seq for row in rows] == list(range(1, count + 1))
    assert [row.number for row in rows] == [f"KĐ-2026-{n:06d}" for n in range(1, count + 1)]
    assert session.get(NumberCounter, ("KĐ", 2026)).last == count  # the killed transaction gave its number back
    public = keys.public_keys(session)
    for row in rows:
        assert row.record_digest == seal.record_digest(row.record).hex()
        assert seal.verify(row.seal_token, public).digest.hex() == row.record_digest
        stored = session.get(CertificateRecord, row.id)
        assert stored is not None and hashlib.sha256(stored.pdf).hexdigest() == row.pdf_sha256
        assert services.render_pdf(row) == stored.pdf
    assert session.scalar(select(func.count()).select_from(Stamp).where(Stamp.state == "used")) == count
    assert len({row.stamp_id for row in rows}) == count
    assert audit.verify_chain(session).ok
    session.rollback()

    # The work goes on where it stopped.
    from lims.verifications.models import Verification

    rest = session.get(Verification, ids[count])
    following = lab.issue(rest, key=f"batch:{rest.id}", today=dt.date(2026, 3, 5))
    assert following.seq == count + 1
