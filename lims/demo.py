"""A realistic demo centre: the provincial metrology centre of Gia Lai, its staff, customers and their instruments.

``seed`` is idempotent (a second run adds nothing) and deterministic (one ``random.Random`` per kind of data, so the
first N instruments are the same whatever ``instrument_count`` is). Instruments go in through the bulk import, as a
utility's spreadsheet would. The generators here also feed the registry benchmark (``bench/registry_bench.py``).
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from flask_babel import force_locale
from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from lims.dates import centre_today
from lims.text import fold

#: (username, password, role): the demo's logins, printed by ``lims demo``.
LOGINS = [
    ("admin", "demo-quantri-2026", "admin"),
    ("tiepnhan", "demo-reception-2026", "reception"),
    ("kdv", "demo-technician-2026", "technician"),
    ("soatxet", "demo-reviewer-2026", "reviewer"),
    ("giamdoc", "demo-approver-2026", "approver"),
    ("chatluong", "demo-quality-2026", "quality_manager"),
    ("danhgia", "demo-auditor-2026", "auditor"),
]
FULL_NAMES = {
    "admin": "Lê Minh Quân", "tiepnhan": "Rơ Châm H'Linh", "kdv": "Trần Đức Thịnh", "soatxet": "Nguyễn Thị Thu Hà",
    "giamdoc": "Phạm Văn Hưng", "chatluong": "Võ Thị Ngọc Lan", "danhgia": "Đặng Quốc Bảo",
}

PROVINCE = "Gia Lai"
#: District -> communes and wards (the administrative map before the 2025 merger of provinces).
DISTRICTS = {
    "TP. Pleiku": ["Phường Hội Thương", "Phường Hội Phú", "Phường Tây Sơn", "Phường Diên Hồng", "Phường Yên Đỗ",
                   "Phường Ia Kring", "Phường Hoa Lư", "Phường Phù Đổng", "Phường Thống Nhất", "Phường Đống Đa",
                   "Phường Trà Bá", "Phường Thắng Lợi", "Phường Yên Thế", "Xã Biển Hồ", "Xã Trà Đa"],
    "Thị xã An Khê": ["Phường An Bình", "Phường An Phú", "Phường Tây Sơn", "Xã Song An", "Xã Thành An"],
    "Thị xã Ayun Pa": ["Phường Cheo Reo", "Phường Hòa Bình", "Phường Đoàn Kết", "Xã Ia Rbol"],
    "Huyện Chư Sê": ["Thị trấn Chư Sê", "Xã Ia Pal", "Xã Dun", "Xã Ia Glai"],
    "Huyện Chư Păh": ["Thị trấn Phú Hòa", "Thị trấn Ia Ly", "Xã Nghĩa Hưng"],
    "Huyện Chư Prông": ["Thị trấn Chư Prông", "Xã Ia Drang", "Xã Thăng Hưng"],
    "Huyện Đak Đoa": ["Thị trấn Đak Đoa", "Xã Tân Bình", "Xã Glar"],
    "Huyện Ia Grai": ["Thị trấn Ia Kha", "Xã Ia Sao", "Xã Ia Hrung"],
    "Huyện Đức Cơ": ["Thị trấn Chư Ty", "Xã Ia Dơk"],
    "Huyện Phú Thiện": ["Thị trấn Phú Thiện", "Xã Ia Sol", "Xã Tân Phú"],
    "Huyện Krông Pa": ["Thị trấn Phú Túc", "Xã Ia Rsai"],
    "Huyện Mang Yang": ["Thị trấn Kon Dơng", "Xã Ayun"],
}
#: Markets: (name, district, ward).
MARKETS = [
    ("Chợ Trung tâm Pleiku", "TP. Pleiku", "Phường Tây Sơn"), ("Chợ Hoa Lư", "TP. Pleiku", "Phường Hoa Lư"),
    ("Chợ Phù Đổng", "TP. Pleiku", "Phường Phù Đổng"), ("Chợ Thắng Lợi", "TP. Pleiku", "Phường Thắng Lợi"),
    ("Chợ Yên Thế", "TP. Pleiku", "Phường Yên Thế"), ("Chợ Biển Hồ", "TP. Pleiku", "Xã Biển Hồ"),
    ("Chợ An Khê", "Thị xã An Khê", "Phường An Phú"), ("Chợ Ayun Pa", "Thị xã Ayun Pa", "Phường Cheo Reo"),
    ("Chợ Chư Sê", "Huyện Chư Sê", "Thị trấn Chư Sê"), ("Chợ Phú Hòa", "Huyện Chư Păh", "Thị trấn Phú Hòa"),
    ("Chợ Đak Đoa", "Huyện Đak Đoa", "Thị trấn Đak Đoa"), ("Chợ Tân Phú", "Huyện Phú Thiện", "Xã Tân Phú"),
]
STREETS = ["Hùng Vương", "Trần Hưng Đạo", "Lê Lợi", "Phan Bội Châu", "Nguyễn Tất Thành", "Quang Trung",
           "Lý Thái Tổ", "Trường Chinh", "Phạm Văn Đồng", "Cách Mạng Tháng Tám", "Lê Duẩn", "Lê Thánh Tôn",
           "Nguyễn Văn Cừ", "Hai Bà Trưng", "Tôn Đức Thắng"]
SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô",
            "Dương", "Lý", "Trương", "Đinh"]
MIDDLE = {"m": ["Văn", "Đức", "Hữu", "Minh", "Quốc", "Thanh", "Xuân", "Công"],
          "f": ["Thị", "Thị", "Ngọc", "Thu", "Kim", "Thanh", "Mỹ"]}
GIVEN = {"m": ["Hùng", "Dũng", "Tuấn", "Nam", "Hải", "Long", "Bình", "Sơn", "Cường", "Khoa", "Phúc", "Tâm", "Thắng",
               "Quang", "Trung", "Hiếu", "Lộc", "Tài"],
         "f": ["Lan", "Hoa", "Hương", "Mai", "Hạnh", "Phương", "Thảo", "Hà", "Trang", "Linh", "Yến", "Nga", "Loan",
               "Thủy", "Dung", "Nhung", "Vân", "Oanh"]}
# Jrai and Bahnar names of the Central Highlands (family name, then H' for women or Y/A for men).
HIGHLAND = [("Rơ Châm", "H'"), ("Ksor", "Y "), ("Siu", "H'"), ("Rah Lan", "Y "), ("Kpă", "H'"), ("Nay", "Y "),
            ("Rơ Mah", "H'"), ("Puih", "A ")]
HIGHLAND_GIVEN = ["Blơi", "Hyơn", "Phơi", "Mlô", "Nhím", "Djơn", "Briu", "Tih", "Wơn", "Dlai"]
SHOP_WORDS = ["Hoàng Long", "Minh Phát", "Thành Đạt", "Tân Phú", "Kim Thành", "Phú Quý", "An Phước", "Hưng Thịnh",
              "Thiên Ân", "Bảo Ngọc", "Phước Lộc", "Đại Phát", "Trường Sơn", "Tây Nguyên", "Phố Núi", "Ngọc Bích",
              "Hòa Bình", "Vĩnh An", "Gia Huy", "Quang Minh", "Thanh Tâm", "Nhật Quang", "Đức Tín", "Hải Vân"]
GOODS = ["tạp hóa", "gạo", "nông sản", "cà phê", "hồ tiêu", "phân bón", "vật liệu xây dựng", "hải sản", "thịt heo",
         "rau củ", "trái cây", "thực phẩm khô", "thuốc bắc"]

#: Plausible characteristics per kind of owner (specs as the engine's contract writes them).
SCALE_SPECS = {
    "market": [{"max": "30", "e": "0.01", "d": "0.01", "unit": "kg", "accuracy_class": "III"},
               {"max": "60", "e": "0.02", "d": "0.02", "unit": "kg", "accuracy_class": "III"},
               {"max": "15", "e": "0.005", "d": "0.005", "unit": "kg", "accuracy_class": "III"},
               {"max": "150", "e": "0.05", "d": "0.05", "unit": "kg", "accuracy_class": "III"}],
    "gold": [{"max": "220", "e": "0.01", "d": "0.001", "unit": "g", "accuracy_class": "II"},
             {"max": "620", "e": "0.01", "d": "0.01", "unit": "g", "accuracy_class": "II"}],
    "lab": [{"max": "220", "e": "0.001", "d": "0.0001", "unit": "g", "accuracy_class": "I"},
            {"max": "3200", "e": "0.1", "d": "0.01", "unit": "g", "accuracy_class": "II"}],
    "mill": [{"max": "500", "e": "0.1", "d": "0.1", "unit": "kg", "accuracy_class": "III"},
             {"max": "1000", "e": "0.5", "d": "0.5", "unit": "kg", "accuracy_class": "III"},
             {"max": "60", "e": "0.02", "d": "0.02", "unit": "t", "accuracy_class": "III"}],
}
SCALE_MAKERS = {"market": [("CAS", "SW-1S"), ("CAS", "ER Plus"), ("Vibra", "TPS"), ("Yaohua", "XK3190-A12"),
                           ("Ohaus", "R31P30")],
                "gold": [("AND", "GF-300"), ("Shimadzu", "ATX224"), ("Ohaus", "PX223")],
                "lab": [("Mettler Toledo", "ME204"), ("Sartorius", "Quintix 224"), ("AND", "GX-3202A")],
                "mill": [("Mettler Toledo", "IND236"), ("Keli", "D2008"), ("Yaohua", "XK3190-A9")]}
METER_SPECS = [
    {"accuracy_class": "1", "un_v": "220", "ib_a": "5", "imax_a": "20", "constant_imp_per_kwh": "1600",
     "kind": "electronic"},
    {"accuracy_class": "1", "un_v": "220", "ib_a": "10", "imax_a": "40", "constant_imp_per_kwh": "1000",
     "kind": "electronic"},
    {"accuracy_class": "2", "un_v": "220", "ib_a": "5", "imax_a": "20", "constant_imp_per_kwh": "3200",
     "kind": "electronic"},
    {"accuracy_class": "2", "un_v": "220", "ib_a": "5", "imax_a": "20", "constant_imp_per_kwh": "450",
     "kind": "induction"},
]
METER_MAKERS = [("EMIC", "CE-18"), ("EMIC", "ME-40"), ("Vinasino", "VSE11-20"), ("Gelex", "DDS26"),
                ("Landis+Gyr", "E350")]
WEIGHT_SPECS = [("1", "kg"), ("2", "kg"), ("5", "kg"), ("10", "kg"), ("20", "kg"), ("500", "g"), ("200", "g")]
TAXI_MAKERS = [("Digitax", "F2"), ("Centrodyne", "S700"), ("Semitron", "TX-28")]


def tax_code(rng: random.Random, *, branch: int | None = None) -> str:
    """A 10-digit Mã số thuế with a valid check digit (weights 31 29 23 19 17 13 7 5 3, mod 11), Gia Lai's 59 prefix.

    >>> code = tax_code(random.Random(1)); len(code), code[:2]
    (10, '59')
    """
    weights = (31, 29, 23, 19, 17, 13, 7, 5, 3)
    while True:
        digits = [5, 9] + [rng.randrange(10) for _ in range(7)]
        check = 10 - sum(d * w for d, w in zip(digits, weights)) % 11
        if check < 10:
            code = "".join(map(str, digits)) + str(check)
            return f"{code}-{branch:03d}" if branch is not None else code


def person(rng: random.Random) -> str:
    if rng.random() < 0.12:
        family, prefix = rng.choice(HIGHLAND)
        return f"{family} {prefix}{rng.choice(HIGHLAND_GIVEN)}"
    sex = rng.choice("mf")
    return f"{rng.choice(SURNAMES)} {rng.choice(MIDDLE[sex])} {rng.choice(GIVEN[sex])}"


@dataclass
class CustomerPlan:
    """A customer to create, and what kind of instruments it owns."""

    kind: str
    fields: dict
    weight: float  # share of the instruments


def customers(rng: random.Random, count: int) -> list[CustomerPlan]:
    """``count`` customers of a provincial centre: mostly market traders and shops, a power company's branches,
    taxi firms, rice mills, gold shops, a hospital laboratory."""
    plans: list[CustomerPlan] = []
    used: set[str] = set()

    def code(branch: int | None = None, base: str | None = None) -> str:
        while True:
            value = f"{base}-{branch:03d}" if base else tax_code(rng)
            if value not in used:
                used.add(value)
                return value

    power = code()
    plans.append(CustomerPlan("power", dict(
        name="Công ty Điện lực Gia Lai", tax_code=power, address="120 Phạm Văn Đồng", commune="Phường Thống Nhất",
        district="TP. Pleiku", province=PROVINCE, contact_name="Phòng Kinh doanh", phone="0269 3823 401",
        email="kinhdoanh@pcgialai.example.vn"), 0.0))
    for number, district in enumerate(["TP. Pleiku", "Thị xã An Khê", "Thị xã Ayun Pa", "Huyện Chư Sê",
                                       "Huyện Đak Đoa", "Huyện Ia Grai"], 1):
        short = district.replace("TP. ", "").replace("Thị xã ", "").replace("Huyện ", "")
        plans.append(CustomerPlan("power", dict(
            name=f"Điện lực {short} - Công ty Điện lực Gia Lai", tax_code=code(number, power),
            address=f"{rng.randrange(1, 300)} {rng.choice(STREETS)}", commune=rng.choice(DISTRICTS[district]),
            district=district, province=PROVINCE, contact_name=person(rng),
            phone=f"0269 38{rng.randrange(10000, 99999)}", email=""), 14.0))
    taxis = ["Công ty Cổ phần Taxi Phố Núi", "Công ty TNHH Vận tải Taxi Pleiku Xanh", "Hợp tác xã Taxi Tây Nguyên",
             "Công ty TNHH Taxi An Khê"]
    for name in taxis:
        plans.append(CustomerPlan("taxi", dict(name=name, tax_code=code(), address=f"{rng.randrange(1, 500)} "
                                               f"{rng.choice(STREETS)}", commune=rng.choice(DISTRICTS["TP. Pleiku"]),
                                               district="TP. Pleiku", province=PROVINCE, contact_name=person(rng),
                                               phone=f"0905 {rng.randrange(100000, 999999)}", email=""), 4.0))
    fixed = [("mill", "Cơ sở xay xát gạo Tân Phú", "Huyện Phú Thiện", "Xã Tân Phú"),
             ("mill", "Công ty TNHH Lương thực Ayun Pa", "Thị xã Ayun Pa", "Phường Đoàn Kết"),
             ("gold", "Doanh nghiệp tư nhân Vàng bạc Kim Thành", "TP. Pleiku", "Phường Hội Thương"),
             ("gold", "Tiệm vàng Phú Quý Chư Sê", "Huyện Chư Sê", "Thị trấn Chư Sê"),
             ("lab", "Bệnh viện Đa khoa tỉnh Gia Lai - Khoa Dược", "TP. Pleiku", "Phường Tây Sơn"),
             ("lab", "Trung tâm Kiểm soát bệnh tật tỉnh Gia Lai", "TP. Pleiku", "Phường Hoa Lư"),
             ("weights", "Hợp tác xã Cà phê Ia Grai", "Huyện Ia Grai", "Thị trấn Ia Kha")]
    for kind, name, district, commune in fixed:
        plans.append(CustomerPlan(kind, dict(name=name, tax_code=code(), address=f"{rng.randrange(1, 400)} "
                                             f"{rng.choice(STREETS)}", commune=commune, district=district,
                                             province=PROVINCE, contact_name=person(rng),
                                             phone=f"0269 3{rng.randrange(100000, 999999)}", email=""), 1.5))
    while len(plans) < count:
        roll = rng.random()
        if roll < 0.62:
            market, district, commune = rng.choice(MARKETS)
            owner = person(rng)
            name = f"Hộ kinh doanh {owner}" if rng.random() < 0.7 else f"Quầy {rng.choice(GOODS)} {owner}"
            fields = dict(name=name, tax_code=code() if rng.random() < 0.85 else None,
                          address=f"Ki-ốt {rng.randrange(1, 240)}, {market}", commune=commune, district=district,
                          province=PROVINCE, contact_name=owner, phone=f"09{rng.randrange(10000000, 99999999)}",
                          email="")
            plans.append(CustomerPlan("market", fields, 1.0))
        else:
            district = rng.choice(list(DISTRICTS))
            owner = person(rng)
            words = rng.choice(SHOP_WORDS)
            name = rng.choice([f"Cửa hàng {rng.choice(GOODS)} {words}", f"Công ty TNHH Thương mại {words}",
                               f"Đại lý {rng.choice(GOODS)} {owner}", f"Công ty Cổ phần Nông sản {words}"])
            if name in {p.fields["name"] for p in plans[-50:]}:
                name = f"{name} {rng.randrange(2, 9)}"
            fields = dict(name=name, tax_code=code(), address=f"{rng.randrange(1, 600)} {rng.choice(STREETS)}",
                          commune=rng.choice(DISTRICTS[district]), district=district, province=PROVINCE,
                          contact_name=owner,
                          phone=f"0{rng.choice(['9', '3', '8'])}{rng.randrange(10000000, 99999999)}",
                          email="")
            plans.append(CustomerPlan("shop" if rng.random() < 0.8 else "weights", fields, 1.5))
    return plans


def _customer_ref(plan: CustomerPlan) -> dict:
    f = plan.fields
    return {"customer_tax_code": f["tax_code"] or "", "customer_name": f["name"], "customer_address": f["address"],
            "customer_commune": f["commune"], "customer_district": f["district"],
            "customer_province": f["province"]}


def instruments(rng: random.Random, plans: list[CustomerPlan], count: int, *, today: dt.date) -> Iterator[dict]:
    """``count`` instrument rows (import column keys) owned by ``plans``, due dates spread around ``today``."""
    owners = [p for p in plans if p.weight > 0]
    cumulative = list(itertools.accumulate(p.weight for p in owners))  # once: choices() would redo it per call
    serial_seen: set[str] = set()
    for index in range(count):
        plan = rng.choices(owners, cum_weights=cumulative)[0]
        kind = plan.kind
        row = _customer_ref(plan)
        year = rng.randrange(today.year - 12, today.year)  # adjusted below to precede the first verification
        if kind == "power":
            maker, model = rng.choice(METER_MAKERS)
            spec = dict(rng.choice(METER_SPECS))
            if spec["kind"] == "induction":
                maker, model, year = "EMIC", "CV140", rng.randrange(2005, 2015)
            serial = f"{year % 100:02d}{rng.randrange(10**8, 10**9)}"
            row.update(type_code="energy_meter", place_of_use=f"{rng.randrange(1, 900)} {rng.choice(STREETS)}, "
                                                              f"{plan.fields['district']}")
            months = 60
        elif kind == "taxi":
            maker, model = rng.choice(TAXI_MAKERS)
            plate = f"81A-{rng.randrange(100, 999)}.{rng.randrange(10, 99)}"
            spec = {"k_imp_per_km": str(rng.choice([1000, 1600, 2000, 2548, 4000])), "vehicle_plate": plate}
            serial = f"TX{year % 100:02d}{rng.randrange(10000, 99999)}"
            row.update(type_code="taximeter", place_of_use=f"Xe {plate}")
            months = 18
        elif kind == "weights" or (kind == "market" and rng.random() < 0.2):
            nominal, unit = rng.choice(WEIGHT_SPECS)
            spec = {"nominal": nominal, "unit": unit, "accuracy_class": "M1"}
            maker, model = rng.choice([("Nhơn Hòa", "QC-M1"), ("Ohaus", "M1 Cast Iron"), ("Kern", "M1-336")])
            serial = f"M1-{nominal}{unit}-{rng.randrange(1000, 99999)}"
            row.update(type_code="weight", place_of_use=row["customer_address"])
            months = 12
        else:
            group = {"shop": "market", "market": "market"}.get(kind, kind)
            maker, model = rng.choice(SCALE_MAKERS[group])
            spec = dict(rng.choice(SCALE_SPECS[group]))
            serial = f"{year % 100:02d}{rng.choice('ABCDEFGHJK')}{rng.randrange(10000, 999999)}"
            row.update(type_code="nawi", place_of_use=row["customer_address"])
            months = 12
        if serial in serial_seen:
            serial = f"{serial}-{index}"
        serial_seen.add(serial)
        # Due dates: most within the interval ahead, about a tenth overdue, some in the next month.
        offset = rng.randrange(-months * 30 // 8, months * 30)
        due = today + dt.timedelta(days=offset)
        last = due - dt.timedelta(days=months * 30) if rng.random() < 0.9 else None
        year = min(year, (last or due - dt.timedelta(days=months * 30)).year)
        status = "active" if rng.random() < 0.93 else rng.choice(["suspended", "retired"])
        row.update(manufacturer=maker, model=model, serial=serial, year_made=str(year),
                   pattern_approval_mark=f"PDM {rng.randrange(1, 250):03d}-{rng.randrange(2008, 2024)}",
                   status=status, last_verified_date=last.isoformat() if last else "",
                   next_due_date=due.isoformat(), **spec)
        yield row


@dataclass
class Summary:
    users: int = 0
    customers: int = 0
    instruments: int = 0
    skipped_instruments: int = 0
    skipped: bool = False
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        if self.skipped:
            return ["Database already has users: nothing seeded (--if-empty)."]
        return [f"Demo centre: {PROVINCE}.",
                f"Created {self.users} users, {self.customers} customers, {self.instruments} instruments "
                f"({self.skipped_instruments} instruments already present).", *self.notes]


CUSTOMER_COUNT = 160
SEED = 2026


def seed(session: Session, *, instrument_count: int = 3000, only_if_empty: bool = False,
         today: dt.date | None = None) -> Summary:
    """Create the demo centre; running it again adds nothing. The caller commits."""
    from lims.auth import services as auth
    from lims.auth.models import User
    from lims.registry import importing, services
    from lims.registry.models import Customer, Instrument

    summary = Summary()
    if only_if_empty and session.scalar(select(func.count()).select_from(User)):
        summary.skipped = True
        return summary
    today = today or centre_today()
    with force_locale("vi"):
        for username, password, role in LOGINS:
            if session.scalar(select(User.id).where(User.username == username)) is None:
                auth.create_user(session, username=username, full_name=FULL_NAMES[username], password=password,
                                 roles=[role])
                summary.users += 1
        plans = customers(random.Random(SEED), CUSTOMER_COUNT)
        known_codes = set(session.scalars(select(Customer.tax_code).where(Customer.tax_code.is_not(None))))
        known_names = {(name_key, fold(address)) for name_key, address in session.execute(
            select(Customer.name_key, Customer.address).where(Customer.tax_code.is_(None)))}
        for plan in plans:
            f = plan.fields
            if f["tax_code"] in known_codes or (
                    f["tax_code"] is None and (fold(f["name"]), fold(f["address"])) in known_names):
                continue
            services.create_customer(session, **f)
            summary.customers += 1
        rows = list(instruments(random.Random(SEED + 1), plans, instrument_count, today=today))
        present = set()
        keys = [(r["type_code"], services.manufacturer_key(r["manufacturer"]), services.serial_key(r["serial"]))
                for r in rows]
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            present.update(session.execute(select(Instrument.type_code, Instrument.manufacturer_key,
                                                  Instrument.serial_key).where(
                tuple_(Instrument.type_code, Instrument.manufacturer_key, Instrument.serial_key).in_(chunk))).all())
        missing = [row for row, key in zip(rows, keys) if key not in present]
        summary.skipped_instruments = len(rows) - len(missing)
        if missing:
            report = importing.import_records(session, missing, source="demo", today=today)
            if not report.ok:
                raise RuntimeError("demo data rejected by the import: " + "; ".join(report.lines()[1:4]))
            summary.instruments = report.created
    return summary
