"""Fixtures of the certificate tests: the application configured with a centre's identity, and ``lab``."""

from __future__ import annotations

import pytest

from .factories import CENTRE_CONFIG, Lab


@pytest.fixture
def app_config(app_config):
    return {**app_config, **CENTRE_CONFIG}


@pytest.fixture
def lab(app, session):
    """People, a customer, and helpers to make instruments, approved records, keys, stamps and certificates."""
    return Lab(app, session)


@pytest.fixture
def ready_lab(lab):
    """``lab`` with a seal key and 20 stamps given to its technician."""
    return lab.ready()
