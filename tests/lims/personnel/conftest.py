"""Factories for the personnel tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def grant(session):
    """Record an authorisation with sensible defaults (nawi, performing, card KĐV 0001, granted by the standards
    body) and commit it; ``revoked`` = (date, reason) revokes it too."""
    from lims.personnel import services

    def make(user, *, instrument_type="nawi", valid_from, valid_until, card_number="KĐV 0001", revoked=None,
             **fields):
        fields.setdefault("granted_by_authority", "Tổng cục Tiêu chuẩn Đo lường Chất lượng")
        authorisation = services.grant_authorisation(
            session, user_id=user.id, instrument_type=instrument_type, scope=fields.pop("scope", "Cân điện tử cấp III"),
            card_number=card_number, valid_from=valid_from, valid_until=valid_until, **fields)
        if revoked:
            services.revoke_authorisation(session, authorisation=authorisation, revoked_date=revoked[0],
                                          revocation_reason=revoked[1])
        session.commit()
        return authorisation

    return make
