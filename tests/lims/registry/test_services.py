"""Registry services: customers, instruments, the identity rule, search and filters, edits in the audit trail."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from lims.audit.models import AuditEvent
from lims.registry import services
from lims.registry.models import Customer, Instrument
from lims.registry.services import InstrumentFilter
from lims.text import fold_serial

from .conftest import METER, SCALE, TODAY


def _serials(session, **filters) -> list[str]:
    page = services.search_instruments(session, InstrumentFilter(**filters), today=TODAY, per_page=100)
    return sorted(i.serial for i in page.items)


# --- customers --------------------------------------------------------------------------------------------------

def test_create_customer_folds_the_name_for_search(session):
    customer = services.create_customer(session, name="  Chợ  Tân Phú ", tax_code="0100112437-001")
    assert (customer.name, customer.name_key, customer.tax_code) == ("Chợ Tân Phú", "cho tan phu", "0100112437-001")


@pytest.mark.parametrize("tax_code", ["01001124", "0100112437-1", "01001124371", "0100 1124 3x", "0100112437/001"])
def test_create_customer_refuses_malformed_tax_code(session, tax_code):
    with pytest.raises(services.RegistryError) as caught:
        services.create_customer(session, name="A", tax_code=tax_code)
    assert caught.value.field == "tax_code"
    assert "10 chữ số" in str(caught.value)


def test_create_customer_refuses_taken_tax_code_and_names_the_owner(session, create_customer):
    first = create_customer("Công ty A", tax_code="5900123457")
    with pytest.raises(services.DuplicateTaxCodeError) as caught:
        services.create_customer(session, name="Công ty B", tax_code="5900123457")
    assert caught.value.existing_id == first.id
    assert str(caught.value) == "Mã số thuế 5900123457 đã thuộc về một khách hàng khác."


@pytest.mark.parametrize(("field", "value", "message"), [
    ("name", "   ", "Tên khách hàng không được để trống."),
    ("name", "x" * 201, "Tên khách hàng dài quá 200 ký tự."),
    ("email", "lan@", "Email không hợp lệ."),
    ("phone", "gọi tôi", "Số điện thoại chỉ gồm chữ số"),
    ("address", "a\x00b", "Địa chỉ chứa ký tự điều khiển không hợp lệ."),
])
def test_create_customer_names_the_bad_field(session, field, value, message):
    fields = {"name": "Hộ kinh doanh Lan", "tax_code": None, field: value}
    with pytest.raises(services.RegistryError) as caught:
        services.create_customer(session, **fields)
    assert caught.value.field == field
    assert str(caught.value).startswith(message)


def test_search_customers_is_accent_insensitive_and_by_tax_prefix(session, create_customer):
    create_customer("Chợ Tân Phú - Quầy Lan", tax_code="5901111111")
    create_customer("Điện lực Pleiku", tax_code="5902222222")
    create_customer("Tân Bình Phú", tax_code=None)
    assert [c.name for c in services.search_customers(session, q="tan phu").items] == ["Chợ Tân Phú - Quầy Lan"]
    assert [c.name for c in services.search_customers(session, q="DIEN LUC").items] == ["Điện lực Pleiku"]
    assert [c.name for c in services.search_customers(session, q="59022").items] == ["Điện lực Pleiku"]
    assert services.search_customers(session, q="100%").items == []  # LIKE wildcards are literal


def test_update_customer_records_old_and_new_values_with_reason(session, create_customer):
    customer = create_customer("Hộ kinh doanh Lan", tax_code=None, district="Pleiku")
    services.update_customer(session, customer=customer, reason="Khách báo đổi địa chỉ", name="Hộ kinh doanh Lan",
                             tax_code=None, district="Chư Sê")
    session.commit()
    event = session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "customers",
                                                     AuditEvent.action == "update")).one()
    assert event.changes["district"] == ["Pleiku", "Chư Sê"]
    assert event.reason == "Khách báo đổi địa chỉ"


# --- instruments ------------------------------------------------------------------------------------------------

def test_register_instrument_normalises_spec_and_keys(session, create_customer):
    customer = create_customer()
    instrument = services.register_instrument(
        session, customer_id=customer.id, type_code="nawi", manufacturer=" Cas ", serial=" AB-12 34/5 ",
        spec={"max": "30", "e": "0.010", "d": "0.01", "unit": "kg", "accuracy_class": "III"}, today=TODAY)
    assert (instrument.manufacturer_key, instrument.serial, instrument.serial_key) == ("cas", "AB-12 34/5", "ab12345")
    assert instrument.spec == {"max": "30", "e": "0.01", "d": "0.01", "unit": "kg", "accuracy_class": "III",
                               "min": "0.2", "supports": "4"}


def test_register_instrument_refuses_duplicate_on_folded_identity(session, create_instrument):
    existing = create_instrument("AB-12", manufacturer="CAS")
    with pytest.raises(services.DuplicateInstrumentError) as caught:
        services.register_instrument(session, customer_id=existing.customer_id, type_code="nawi",
                                     manufacturer="cas", serial="ab 12", spec=SCALE, today=TODAY)
    assert caught.value.existing_id == existing.id
    assert caught.value.field == "serial"
    assert str(caught.value) == "Cân điện tử (cân không tự động) số ab 12 của hãng cas đã có trong sổ."


def test_same_serial_of_another_type_or_maker_is_another_instrument(session, create_instrument):
    first = create_instrument("12345", manufacturer="CAS")
    other_maker = create_instrument("12345", manufacturer="Vibra", customer=first.customer)
    other_type = create_instrument("12345", manufacturer="CAS", type_code="energy_meter", customer=first.customer)
    assert len({first.id, other_maker.id, other_type.id}) == 3


@pytest.mark.parametrize(("spec", "field", "message"), [
    ({**SCALE, "accuracy_class": "II"}, "spec.accuracy_class", "n = Max/e = 3000 is out of range for class II"),
    ({**SCALE, "e": "abc"}, "spec.e", ""),
    ({k: v for k, v in SCALE.items() if k != "max"}, "spec.max", ""),
])
def test_register_instrument_names_the_bad_characteristic(session, create_customer, spec, field, message):
    customer = create_customer()
    with pytest.raises(services.RegistryError) as caught:
        services.register_instrument(session, customer_id=customer.id, type_code="nawi", serial="S1", spec=spec,
                                     today=TODAY)
    assert caught.value.field == field
    assert message in str(caught.value)


@pytest.mark.parametrize(("fields", "field"), [
    ({"type_code": "scale"}, "type_code"),
    ({"serial": "  "}, "serial"),
    ({"serial": "--/--"}, "serial"),
    ({"year_made": "hai nghìn"}, "year_made"),
    ({"year_made": 1850}, "year_made"),
    ({"status": "broken"}, "status"),
    ({"customer_id": 999999}, "customer_id"),
    ({"last_verified_date": dt.date(2026, 1, 1), "next_due_date": dt.date(2025, 1, 1)}, "next_due_date"),
])
def test_register_instrument_refuses_bad_fields(session, create_customer, fields, field):
    customer = create_customer()
    args = {"customer_id": customer.id, "type_code": "nawi", "serial": "S1", "spec": SCALE, **fields}
    with pytest.raises(services.RegistryError) as caught:
        services.register_instrument(session, today=TODAY, **args)
    assert caught.value.field == field


def test_register_instrument_derives_due_date_from_legal_interval(session, create_customer):
    instrument = services.register_instrument(
        session, customer_id=create_customer().id, type_code="energy_meter", serial="M1", spec=METER,
        last_verified_date=dt.date(2025, 3, 31), today=TODAY)
    assert instrument.next_due_date == dt.date(2030, 3, 31)  # 60 months for an electronic meter


def test_update_instrument_with_reason_reaches_the_audit_trail(session, create_instrument):
    instrument = create_instrument("20A1", place_of_use="Chợ Hoa Lư")
    services.update_instrument(
        session, instrument=instrument, reason="Chuyển sang quầy mới", customer_id=instrument.customer_id,
        type_code="nawi", manufacturer="CAS", serial="20A1", spec=SCALE, place_of_use="Chợ Yên Thế",
        status="suspended", today=TODAY)
    session.commit()
    event = session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "instruments",
                                                     AuditEvent.entity_id == str(instrument.id),
                                                     AuditEvent.action == "update")).one()
    assert event.reason == "Chuyển sang quầy mới"
    assert event.changes["place_of_use"] == ["Chợ Hoa Lư", "Chợ Yên Thế"]
    assert event.changes["status"] == ["active", "suspended"]
    assert "serial" not in event.changes  # unchanged fields are not recorded


def test_update_instrument_requires_a_reason(session, create_instrument):
    instrument = create_instrument()
    with pytest.raises(services.RegistryError) as caught:
        services.update_instrument(session, instrument=instrument, reason="  ", customer_id=instrument.customer_id,
                                   type_code="nawi", serial=instrument.serial, spec=SCALE, today=TODAY)
    assert caught.value.field == "reason"


def test_update_instrument_refuses_taking_another_instruments_identity(session, create_instrument):
    first = create_instrument("A-1")
    second = create_instrument("B-2", customer=first.customer)
    with pytest.raises(services.DuplicateInstrumentError) as caught:
        services.update_instrument(session, instrument=second, reason="sửa số", customer_id=second.customer_id,
                                   type_code="nawi", manufacturer="CAS", serial="a1", spec=SCALE, today=TODAY)
    assert caught.value.existing_id == first.id


# --- search and filters -----------------------------------------------------------------------------------------

@pytest.fixture
def market(create_customer, create_instrument):
    """Three owners, five instruments with due dates around TODAY."""
    lan = create_customer("Hộ kinh doanh Nguyễn Thị Lan - Chợ Tân Phú", tax_code="5901234567")
    power = create_customer("Điện lực Pleiku", tax_code="5915881391-001")
    taxi = create_customer("Công ty Taxi Phố Núi", tax_code="5976846972")
    day = dt.timedelta(days=1)
    create_instrument("20A-0001", customer=lan, next_due_date=TODAY - 10 * day)  # overdue
    create_instrument("20A-0002", customer=lan, next_due_date=TODAY + 20 * day)  # due within 30 days
    create_instrument("24123456789", customer=power, type_code="energy_meter", next_due_date=TODAY + 400 * day)
    create_instrument("24123999999", customer=power, type_code="energy_meter", next_due_date=TODAY - 5 * day,
                      status="retired")  # retired: never overdue
    create_instrument("TX2301", customer=taxi, type_code="taximeter", next_due_date=TODAY)  # due today
    return lan, power, taxi


def test_search_by_serial_prefix_ignores_case_and_separators(session, market):
    assert _serials(session, q="20a0") == ["20A-0001", "20A-0002"]
    assert _serials(session, q="20A-00 01") == ["20A-0001"]
    assert _serials(session, q="241239") == ["24123999999"]


def test_search_by_customer_name_without_accents(session, market):
    assert _serials(session, q="Tan Phu") == ["20A-0001", "20A-0002"]
    assert _serials(session, q="pho nui") == ["TX2301"]
    assert _serials(session, q="ĐIỆN LỰC") == ["24123456789", "24123999999"]


def test_search_by_tax_code_prefix(session, market):
    assert _serials(session, q="5915881") == ["24123456789", "24123999999"]


def test_filters_type_and_status(session, market):
    assert _serials(session, type_code="energy_meter", status="active") == ["24123456789"]
    assert _serials(session, status="retired") == ["24123999999"]


def test_overdue_lists_instruments_in_use_past_their_due_date(session, market):
    assert _serials(session, overdue=True) == ["20A-0001"]


def test_due_within_counts_today_and_the_last_day(session, market):
    assert _serials(session, due_within=20) == ["20A-0002", "TX2301"]
    assert _serials(session, due_within=19) == ["TX2301"]


def test_customer_filter_and_sorts(session, market):
    lan = market[0]
    assert _serials(session, customer_id=lan.id) == ["20A-0001", "20A-0002"]
    page = services.search_instruments(session, InstrumentFilter(sort="due"), today=TODAY)
    dues = [i.next_due_date for i in page.items]
    assert dues == sorted(dues)
    page = services.search_instruments(session, InstrumentFilter(sort="serial"), today=TODAY)
    assert [i.serial_key for i in page.items] == sorted(i.serial_key for i in page.items)


def test_pages_fetch_one_more_row_instead_of_counting(session, market):
    first = services.search_instruments(session, InstrumentFilter(sort="serial"), today=TODAY, per_page=2)
    last = services.search_instruments(session, InstrumentFilter(sort="serial"), today=TODAY, page=3, per_page=2)
    assert (len(first.items), first.has_next) == (2, True)
    assert ([i.serial for i in last.items], last.has_next) == (["TX2301"], False)


def test_dashboard_summary_matches_the_overdue_and_due_lists(session, market):
    summary = services.dashboard_summary(session, today=TODAY)
    assert summary == {"customers": 3, "instruments": 5, "overdue": 1, "due_soon": 2}


def test_serial_key_fast_path_matches_fold_serial():
    for serial in ["AB-12 34/5", "x_y.z", "  Số 12 ", "Đ-01", "ab\tc", "ÀBC-1", "plain123"]:
        assert services.serial_key(serial) == fold_serial(serial)


def test_prefix_range_covers_exactly_the_prefix(session, create_instrument):
    customer = create_instrument("abz").customer
    create_instrument("ab~", customer=customer)
    create_instrument("ac0", customer=customer)
    assert _serials(session, q="ab") == ["abz", "ab~"]


def test_models_are_unchanged_by_a_refused_registration(session, create_customer, counts):
    customer = create_customer()
    before = counts()
    with pytest.raises(services.RegistryError):
        services.register_instrument(session, customer_id=customer.id, type_code="nawi", serial="S",
                                     spec={"max": "x"}, today=TODAY)
    session.rollback()
    assert counts() == before
    assert session.scalar(select(Instrument.id)) is None
    assert session.scalar(select(Customer.name)) == customer.name


def test_search_matching_serial_and_owner_pages_in_id_order(session, create_customer, create_instrument):
    tan_phu = create_customer("Chợ Tân Phú")
    other = create_customer("Chợ Hoa Lư")
    first = create_instrument("TANPHU-1", customer=other)  # matches "tan phu" by serial
    second = create_instrument("A-2", customer=tan_phu)  # by owner
    third = create_instrument("A-3", customer=tan_phu)
    create_instrument("B-4", customer=other)  # no match
    top = services.search_instruments(session, InstrumentFilter(q="tan phu"), today=TODAY, per_page=2)
    rest = services.search_instruments(session, InstrumentFilter(q="tan phu"), today=TODAY, page=2, per_page=2)
    assert ([i.id for i in top.items], top.has_next) == ([third.id, second.id], True)
    assert ([i.id for i in rest.items], rest.has_next) == ([first.id], False)


@pytest.mark.parametrize("sort", ["", "due", "serial", "id"])
def test_broad_searches_find_the_same_instruments(session, market, monkeypatch, sort):
    """With many matches the conditions are written so that no index serves them; the answer must not change."""
    queries = ["20a", "tan phu", "5915881", "24123"]
    narrow = {q: _serials(session, q=q, sort=sort) for q in queries}
    monkeypatch.setattr(services, "MANY_MATCHES", 0)
    assert {q: _serials(session, q=q, sort=sort) for q in queries} == narrow
    monkeypatch.setattr(services, "MATCHED_CUSTOMERS_LISTED", 0)
    assert {q: _serials(session, q=q, sort=sort) for q in queries} == narrow
    assert narrow["tan phu"] == ["20A-0001", "20A-0002"]


def test_duplicate_caught_by_the_constraint_when_two_writers_race(session, create_instrument, monkeypatch):
    """The unique constraint backs the check: a writer that passed the check before another committed is refused
    with the same message, and its session stays usable."""
    existing = create_instrument("RACE-1", manufacturer="CAS")
    monkeypatch.setattr(services, "_check_identity_free", lambda *args, **kwargs: None)
    with pytest.raises(services.DuplicateInstrumentError) as caught:
        services.register_instrument(session, customer_id=existing.customer_id, type_code="nawi", manufacturer="CAS",
                                     serial="race-1", spec=SCALE, today=TODAY)
    assert caught.value.existing_id == existing.id
    other = services.register_instrument(session, customer_id=existing.customer_id, type_code="nawi",
                                         manufacturer="CAS", serial="RACE-2", spec=SCALE, today=TODAY)
    session.commit()
    assert sorted(session.scalars(select(Instrument.serial))) == ["RACE-1", "RACE-2"] and other.id


def test_update_refused_by_the_constraint_leaves_the_instrument_as_it_was(session, create_instrument, monkeypatch):
    first = create_instrument("RACE-1")
    second = create_instrument("RACE-2", customer=first.customer)
    monkeypatch.setattr(services, "_check_identity_free", lambda *args, **kwargs: None)
    with pytest.raises(services.DuplicateInstrumentError):
        services.update_instrument(session, instrument=second, reason="sửa", customer_id=second.customer_id,
                                   type_code="nawi", manufacturer="CAS", serial="race 1", spec=SCALE, today=TODAY)
    assert second.serial == "RACE-2"
    session.commit()
    assert sorted(session.scalars(select(Instrument.serial))) == ["RACE-1", "RACE-2"]
