"""Fixtures: the small laboratory of tests/lims/workflow_fixtures.py."""

from tests.lims.workflow_fixtures import lab  # noqa: F401  (a fixture)
