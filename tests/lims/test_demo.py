"""`lims demo` seeds every feature's demo records, and a second run adds nothing."""

import pytest
from sqlalchemy import func, select

from lims.certificates.models import Certificate
from lims.jobs.models import Job
from lims.registry.models import Instrument
from lims.standards.models import Standard
from lims.verifications.models import Verification


def _counts(session):
    session.rollback()
    return {model.__name__: session.scalar(select(func.count()).select_from(model))
            for model in (Instrument, Standard, Job, Verification, Certificate)}


@pytest.mark.slow
def test_demo_seeds_every_feature_and_is_idempotent(runner, session, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("the demo is exercised once, on the embedded database")
    first = runner.invoke(args=["demo", "--instruments", "300"])
    assert first.exit_code == 0, first.output
    counts = _counts(session)
    assert counts["Instrument"] >= 300 and counts["Standard"] >= 20
    assert counts["Job"] >= 1 and counts["Verification"] >= 1 and counts["Certificate"] >= 1
    assert "kdv" in first.output and "demo-technician-2026" in first.output
    again = runner.invoke(args=["demo", "--instruments", "300"])
    assert again.exit_code == 0, again.output
    assert _counts(session) == counts
    skipped = runner.invoke(args=["demo", "--if-empty"])
    assert "nothing seeded" in skipped.output and "Demo logins" in skipped.output
