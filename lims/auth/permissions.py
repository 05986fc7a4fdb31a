"""Roles and the permissions they grant. Routes name a permission; nothing is reachable without one or a place on
the public allow-list (``public``)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

#: role code -> (Vietnamese label, English label is the catalog's); order = how they are listed.
ROLES = {
    "admin": _l("Quản trị hệ thống"),
    "reception": _l("Tiếp nhận"),
    "technician": _l("Kiểm định viên"),
    "reviewer": _l("Người soát xét"),
    "approver": _l("Lãnh đạo trung tâm (phê duyệt)"),
    "quality_manager": _l("Phụ trách chất lượng"),
    "auditor": _l("Đánh giá viên (chỉ xem)"),
}

# Reading: registry.view (customers, instruments), lab.view (standards, personnel, facilities, methods), audit.view,
# jobs.view (requests and receipt), verifications.view (records, results, signatures).
_READ = {"registry.view", "lab.view", "audit.view", "jobs.view", "verifications.view", "certificates.view"}
# Managing the lab's resources (ISO/IEC 17025 6.2-6.5, 7.2, 8.3).
_LAB_MANAGE = {"standards.edit", "personnel.edit", "facilities.edit", "methods.edit"}
# Day-to-day records a technician keeps: intermediate checks of standards, condition readings.
_LAB_RECORD = {"standards.check", "conditions.record"}
# Signing verification records as reviewer and as approver (who may sign for which type is personnel's decision).
_SIGN = {"verifications.review", "verifications.approve"}
# Certificates: issuing (and amending) is the approver's; revoking also the quality manager's; the stamp inventory is
# kept by reception and quality. Everyone reads certificates (the auditor only reads).
_ISSUE = {"certificates.issue", "certificates.revoke"}

PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(_READ | _LAB_MANAGE | _LAB_RECORD | _SIGN | {"registry.edit", "registry.import", "users.manage",
                                                                    "audit.verify", "jobs.edit",
                                                                    "verifications.edit", "stamps.manage"} | _ISSUE),
    "reception": frozenset(_READ | {"registry.edit", "registry.import", "jobs.edit", "stamps.manage"}),
    "technician": frozenset(_READ | _LAB_RECORD | {"registry.edit", "registry.import", "jobs.edit",
                                                   "verifications.edit"}),
    "reviewer": frozenset(_READ | {"verifications.review"}),
    "approver": frozenset(_READ | {"verifications.approve"} | _ISSUE),
    "quality_manager": frozenset(_READ | _LAB_MANAGE | _LAB_RECORD | {"audit.verify", "certificates.revoke",
                                                                         "stamps.manage"}),
    # Reads everything, changes nothing (tested over every route).
    "auditor": frozenset(_READ),
}

ALL_PERMISSIONS = frozenset().union(*PERMISSIONS.values())


def permissions_of(roles: set[str]) -> frozenset[str]:
    return frozenset().union(*(PERMISSIONS.get(role, frozenset()) for role in roles))
