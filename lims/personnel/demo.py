"""Demo data of the personnel register: a dozen staff of a provincial centre with their degrees, three years of
training and their authorisations — most valid, one expiring within a month, one expired, one revoked, one not yet
valid — and authorisations for every instrument type, valid today, for the demo logins of the roles technician,
reviewer and approver (created by ``lims.demo``; see ``demo_logins``) when they exist.

Idempotent: staff are keyed by username (an existing one is left alone), and a demo login gets an authorisation for a
type only when it holds none for that type.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field, replace

import instruments
from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.auth import services as auth
from lims.auth.models import User

from . import services
from .models import Authorisation
from lims.dates import centre_today

#: The national standards body was renamed in 2025 (Tổng cục → Ủy ban); cards name the body of their date.
_RENAMED = dt.date(2025, 3, 1)
_PROVINCE_DEPARTMENT = "Sở Khoa học và Công nghệ tỉnh Gia Lai"

SCOPES = {
    "nawi": "Cân điện tử cấp chính xác III, IIII đến 150 kg",
    "weight": "Quả cân cấp chính xác M1 từ 1 mg đến 20 kg",
    "energy_meter": "Công tơ điện xoay chiều 1 pha kiểu điện tử, cấp chính xác 1 và 2",
    "taximeter": "Taximet lắp trên xe ô tô, kiểm định trên đường thử",
}

COURSES = {
    "kdv_can": ("Bồi dưỡng kiểm định viên đo lường lĩnh vực khối lượng (cân, quả cân)",
                "Trung tâm Đào tạo nghiệp vụ Tiêu chuẩn Đo lường Chất lượng", 10, "40"),
    "kdv_cong_to": ("Kiểm định công tơ điện xoay chiều 1 pha kiểu điện tử theo ĐLVN 39",
                    "Viện Đo lường Việt Nam", 5, "40"),
    "kdv_taximet": ("Kiểm định taximet theo ĐLVN 01", "Viện Đo lường Việt Nam", 3, "24"),
    "iso17025": ("ISO/IEC 17025:2017 và đánh giá nội bộ phòng thí nghiệm", "Văn phòng Công nhận Chất lượng (BoA)",
                 3, "24"),
    "uncertainty": ("Ước lượng độ không đảm bảo đo trong hiệu chuẩn quả cân", "Viện Đo lường Việt Nam", 2, "16"),
    "de_an_996": ("Chương trình đảm bảo đo lường cho doanh nghiệp (Đề án 996)", _PROVINCE_DEPARTMENT, 2, "16"),
    "an_toan_dien": ("An toàn điện khi kiểm định công tơ tại hiện trường", "Đào tạo nội bộ của Trung tâm", 1, "8"),
}


@dataclass
class _Auth:
    type_code: str
    valid_from_days: int            # relative to today (negative: in the past)
    valid_until_days: int
    card: str = ""
    perform: bool = True
    review: bool = False
    approve: bool = False
    internal: bool = False          # granted by the head of the centre, not by an authority
    revoked_days: int | None = None
    revocation_reason: str = ""


@dataclass
class _Person:
    username: str
    full_name: str
    roles: tuple[str, ...]
    qualifications: list[tuple[str, str, str, int]]
    trainings: list[tuple[str, int]] = field(default_factory=list)   # course key, days ago it ended
    authorisations: list[_Auth] = field(default_factory=list)


_BACH_KHOA_DN = "Trường Đại học Bách khoa – Đại học Đà Nẵng"
_QUY_NHON = "Trường Đại học Quy Nhơn"
_TAY_NGUYEN = "Trường Đại học Tây Nguyên"

STAFF = [
    _Person("hung.nv", "Nguyễn Văn Hùng", ("approver",),
            [("master", "Quản lý khoa học và công nghệ", "Học viện Khoa học, Công nghệ và Đổi mới sáng tạo", 2014),
             ("engineer", "Kỹ thuật điện", _BACH_KHOA_DN, 2003)],
            [("iso17025", 700), ("de_an_996", 250)],
            [_Auth(code, -700, 1125, perform=False, review=True, approve=True) for code in SCOPES]),
    _Person("hue.ttk", "Trần Thị Kim Huệ", ("quality_manager",),
            [("bachelor", "Hoá học", _QUY_NHON, 2008)],
            [("iso17025", 700), ("uncertainty", 420), ("de_an_996", 250)],
            [_Auth("nawi", -600, 500, perform=False, review=True, internal=True),
             _Auth("weight", -600, 500, perform=False, review=True, internal=True)]),
    _Person("tuan.lm", "Lê Minh Tuấn", ("reviewer", "technician"),
            [("engineer", "Kỹ thuật đo lường và tin học công nghiệp", "Đại học Bách khoa Hà Nội", 2009)],
            [("kdv_can", 900), ("kdv_cong_to", 560), ("iso17025", 700)],
            [_Auth("nawi", -880, 945, card="KĐV 0412", review=True),
             _Auth("weight", -880, 945, card="KĐV 0412", review=True),
             _Auth("energy_meter", -540, 1285, card="KĐV 0412", review=True)]),
    _Person("bao.pq", "Phạm Quốc Bảo", ("technician",),
            [("engineer", "Cơ khí chế tạo máy", _BACH_KHOA_DN, 2013)],
            [("kdv_can", 900), ("uncertainty", 420)],
            [_Auth("nawi", -880, 945, card="KĐV 0527"), _Auth("weight", -400, 1425, card="KĐV 0527")]),
    _Person("anh.ltn", "Lê Thị Ngọc Ánh", ("technician",),
            [("engineer", "Kỹ thuật điện – điện tử", _BACH_KHOA_DN, 2015)],
            [("kdv_cong_to", 560), ("an_toan_dien", 120), ("kdv_can", 1000)],
            # Her scales card ends within the month: she is on the "expiring" list.
            [_Auth("energy_meter", -540, 1285, card="KĐV 0531"), _Auth("nawi", -1800, 20, card="KĐV 0531")]),
    _Person("long.dh", "Đặng Hoàng Long", ("technician",),
            [("college", "Công nghệ kỹ thuật ô tô", "Trường Cao đẳng Gia Lai", 2016)],
            [("kdv_taximet", 480), ("kdv_can", 900)],
            [_Auth("taximeter", -460, 1365, card="KĐV 0588"), _Auth("nawi", -880, 945, card="KĐV 0588")]),
    _Person("phuc.hv", "Huỳnh Văn Phúc", ("technician",),
            [("bachelor", "Vật lý kỹ thuật", _QUY_NHON, 2007)],
            [("kdv_cong_to", 560), ("an_toan_dien", 120)],
            # His scales card expired last month and was not renewed.
            [_Auth("energy_meter", -540, 1285, card="KĐV 0309"), _Auth("nawi", -1870, -45, card="KĐV 0309")]),
    _Person("mai.bt", "Bùi Thị Mai", ("technician",),
            [("engineer", "Công nghệ kỹ thuật cơ khí", _TAY_NGUYEN, 2017)],
            [("kdv_can", 900), ("uncertainty", 420), ("kdv_can", 30)],
            [_Auth("weight", -400, 1425, card="KĐV 0602"),
             _Auth("nawi", -880, 945, card="KĐV 0602", revoked_days=-90,
                   revocation_reason="Không đạt đánh giá tay nghề định kỳ về kiểm định cân (biên bản đánh giá "
                                     "nội bộ); phải đào tạo lại trước khi được ủy quyền lại")]),
    _Person("son.dt", "Đỗ Thanh Sơn", ("technician", "reviewer"),
            [("engineer", "Kỹ thuật điện", _BACH_KHOA_DN, 2006), ("master", "Kỹ thuật điện", _BACH_KHOA_DN, 2012)],
            [("kdv_taximet", 480), ("kdv_cong_to", 560), ("iso17025", 700), ("kdv_can", 1050)],
            [_Auth("taximeter", -460, 1365, card="KĐV 0277", review=True),
             _Auth("energy_meter", -540, 1285, card="KĐV 0277", review=True),
             # An earlier card for scales, then its renewal from the next day: history on his page.
             _Auth("nawi", -1900, -301, card="KĐV 0277"), _Auth("nawi", -300, 1525, card="KĐV 0277")]),
    _Person("thang.nd", "Ngô Đức Thắng", ("technician",),
            [("college", "Công nghệ kỹ thuật điện", "Trường Cao đẳng Gia Lai", 2018)],
            [("kdv_cong_to", 560), ("kdv_taximet", 480), ("an_toan_dien", 120)],
            [_Auth("energy_meter", -540, 1285, card="KĐV 0655"), _Auth("taximeter", -460, 1365, card="KĐV 0655")]),
    _Person("oanh.ttk", "Trương Thị Kim Oanh", ("technician",),
            [("bachelor", "Kỹ thuật hoá học", _TAY_NGUYEN, 2019)],
            [("kdv_can", 900), ("uncertainty", 420), ("de_an_996", 250)],
            [_Auth("weight", -400, 1425, card="KĐV 0671")]),
    _Person("nam.pv", "Phan Văn Nam", ("technician",),
            [("engineer", "Kỹ thuật cơ điện tử", _TAY_NGUYEN, 2023)],
            [("kdv_can", 30), ("iso17025", 60)],
            # Newly trained: his first card takes effect in ten days.
            [_Auth("nawi", 10, 1835, card="KĐV 0702")]),
]

#: What the demo logins are authorised for, on every instrument type, by their role.
DEMO_LOGINS = {
    # Cards numbered KĐV 0900 + user id, so that each login holds its own.
    "technician": _Auth("", -400, 1425, card="KĐV 0900"),
    "reviewer": _Auth("", -400, 1425, card="KĐV 0900", review=True),
    "approver": _Auth("", -400, 1425, perform=False, review=True, approve=True),
}


def demo_logins() -> dict[str, str]:
    """username -> role of the demo logins to authorise: those of ``lims.demo.LOGINS`` with a role of
    ``DEMO_LOGINS``, and users named after the role itself (``technician``, ``reviewer``, ``approver``)."""
    logins = {role: role for role in DEMO_LOGINS}
    try:
        from lims.demo import LOGINS
    except ImportError:
        return logins
    return {username: role for username, _password, role in LOGINS if role in DEMO_LOGINS} | logins


def _authority(valid_from: dt.date) -> str:
    if valid_from < _RENAMED:
        return "Tổng cục Tiêu chuẩn Đo lường Chất lượng"
    return "Ủy ban Tiêu chuẩn Đo lường Chất lượng Quốc gia"


def _grant(session: Session, user: User, spec: _Auth, type_code: str, *, today: dt.date,
           head: User | None) -> Authorisation:
    valid_from = today + dt.timedelta(days=spec.valid_from_days)
    internal = (spec.internal or not spec.perform) and head is not None and head.id != user.id
    authorisation = services.grant_authorisation(
        session, user_id=user.id, instrument_type=type_code, scope=SCOPES[type_code], card_number=spec.card,
        valid_from=valid_from, valid_until=today + dt.timedelta(days=spec.valid_until_days),
        can_perform=spec.perform, can_review=spec.review, can_approve=spec.approve,
        granted_by_id=head.id if internal else None,
        granted_by_authority="" if internal else (_authority(valid_from) if spec.perform else _PROVINCE_DEPARTMENT))
    if spec.revoked_days is not None:
        services.revoke_authorisation(session, authorisation=authorisation,
                                      revoked_date=today + dt.timedelta(days=spec.revoked_days),
                                      revocation_reason=spec.revocation_reason)
    return authorisation


def _train(session: Session, user: User, key: str, ended_days_ago: int, *, today: dt.date, serial: int) -> None:
    course, provider, days, hours = COURSES[key]
    end_date = today - dt.timedelta(days=ended_days_ago)
    services.add_training(session, user_id=user.id, course=course, provider=provider,
                          start_date=end_date - dt.timedelta(days=days - 1), end_date=end_date, hours=hours,
                          certificate_number=f"{serial:03d}/{end_date.year}/CC", today=today)


def seed(session: Session, *, today: dt.date | None = None) -> list[str]:
    """Seed the demo staff and authorisations; returns lines describing what was created. Callers commit."""
    today = today or centre_today()
    lines: list[str] = []
    existing = set(session.scalars(select(User.username)))
    head = session.scalar(select(User).where(User.username == STAFF[0].username))
    people = trainings = authorisations = 0
    serial = 0
    for person in STAFF:
        if person.username in existing:
            continue
        user = auth.create_user(session, username=person.username, full_name=person.full_name,
                                password=secrets.token_urlsafe(24), roles=list(person.roles))
        if head is None:
            head = user  # the first of STAFF is the head of the centre, who grants internal authorisations
        people += 1
        for degree, field_name, institution, year in person.qualifications:
            services.add_qualification(session, user_id=user.id, degree=degree, field=field_name,
                                       institution=institution, year=year, today=today)
        for key, ended_days_ago in person.trainings:
            serial += 1
            _train(session, user, key, ended_days_ago, today=today, serial=serial)
            trainings += 1
        for spec in person.authorisations:
            _grant(session, user, spec, spec.type_code, today=today, head=head)
            authorisations += 1
    if people:
        lines.append(f"Personnel: {people} staff with {trainings} training records and {authorisations} "
                     f"authorisations")
    found = 0
    for username, role in demo_logins().items():
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            continue
        found += 1
        spec = DEMO_LOGINS[role]
        if spec.card:
            spec = replace(spec, card=f"KĐV {900 + user.id:04d}")
        held = set(session.scalars(select(Authorisation.instrument_type).where(Authorisation.user_id == user.id)))
        added = [kind.code for kind in instruments.all_types() if kind.code not in held]
        for code in added:
            _grant(session, user, spec, code, today=today, head=head)
        if added:
            lines.append(f"Personnel: {username} ({role}) authorised for {', '.join(added)} until "
                         f"{services.day_text(today + dt.timedelta(days=spec.valid_until_days))}")
    if not found:
        lines.append("Personnel: no demo login (technician, reviewer, approver) exists yet, so none was authorised; "
                     "run lims.demo first")
    return lines
