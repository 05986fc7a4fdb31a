"""The certificate PDF: what ISO/IEC 17025 7.8 and Vietnamese practice require on it, read back from the file."""

import dataclasses
import datetime as dt
import hashlib
import io
import os
import shutil
import subprocess
import unicodedata

import pypdf
import pytest
import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image

from lims.certificates import pdf, samples, seal
from lims.certificates.document import Amendment, DocumentKind, Row
from lims.certificates.seal import SealPayload, Verdict

PUBLIC_URL = "https://kiemdinh.tdc-dongnai.gov.vn"
NUMBER = "KĐ-2026-012345"


@pytest.fixture(scope="module")
def key():
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def sealed(key):
    """A verification certificate with a real seal: (document, seal URL, public keys)."""
    document = samples.sample_document(number=NUMBER)
    token = seal.sign(SealPayload(number=NUMBER, revision=0, issue_date=document.issue_date,
                                  valid_until=document.valid_until, serial=document.instrument.serial,
                                  verdict=Verdict.PASSED, digest=seal.record_digest({"number": NUMBER})),
                      key, seal.key_id_for(key))
    url = seal.seal_url(PUBLIC_URL, token)
    return dataclasses.replace(document, seal_url=url), url, {seal.key_id_for(key): key.public_key()}


@pytest.fixture(scope="module")
def rendered(sealed):
    return pdf.render_certificate(sealed[0])


def _pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages]


def _flat(text: str) -> str:
    return " ".join(text.split())


def _png(data: bytes, page: int, tmp_path, dpi: int = 150) -> Image.Image:
    if not shutil.which("pdftoppm"):
        message = "poppler-utils' pdftoppm is not installed (apt-get install poppler-utils)"
        if os.environ.get("LIMS_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    path = tmp_path / "certificate.pdf"
    path.write_bytes(data)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", "-f", str(page), "-l", str(page), "-singlefile",
                    str(path), str(tmp_path / "page")], check=True, timeout=60)
    return Image.open(tmp_path / "page.png")


def test_pdf_is_a4_and_every_page_carries_the_number_and_page_x_of_y(rendered):
    reader = pypdf.PdfReader(io.BytesIO(rendered))
    assert [round(float(v)) for v in reader.pages[0].mediabox[2:]] == [595, 842]
    pages = _pages(rendered)
    assert len(pages) == 2
    for index, text in enumerate(pages, start=1):
        assert text.count(NUMBER) >= 2, f"page {index}: the number in the header and the footer"
        assert f"Trang {index}/2" in text and f"Page {index} of 2" in text
        assert "TRUNG TÂM KỸ THUẬT TIÊU CHUẨN ĐO LƯỜNG CHẤT LƯỢNG" in text


def test_pdf_carries_the_fields_of_a_vietnamese_verification_certificate(rendered):
    text = _flat(" ".join(_pages(rendered)))
    for expected in [
        "GIẤY CHỨNG NHẬN KIỂM ĐỊNH", "VERIFICATION CERTIFICATE", f"Số / No.: {NUMBER}",
        # the item (17025 7.8.2.1 g)
        "Cân điện tử / Electronic weighing instrument", "SW-1S", "SW1S-2310457", "CAS (Hàn Quốc)", "2023",
        "PDM 1234-2021", "Mức cân lớn nhất (Max): 30 kg",
        "Giá trị độ chia kiểm e (Verification scale interval e): 0,01 kg",
        "Cấp chính xác (Accuracy class): III",
        # customer, place, dates, method, conditions, standards, traceability
        "Công ty TNHH Thương mại Chợ Tân Phú", "Phòng thí nghiệm khối lượng", "Ngày nhận phương tiện đo",
        "02/03/2026", "04/03/2026", "ĐLVN 15:2009 – Cân đồng hồ lò xo, cân điện tử – Quy trình kiểm định",
        "Nhiệt độ/Temperature: 24,6 °C", "Độ ẩm/Humidity: 61 %", "QC-M1-03", "GCN/Cert. HC-2025/0871",
        "Viện Đo lường Việt Nam", "05/03/2026",
        # results with units, conclusion, stamp, validity
        "Kiểm tra sai số khi tăng và giảm tải", "Load (kg)", "MPE (kg)", "±0,005", "Kiểm tra độ lệch tâm",
        "Đạt yêu cầu kỹ thuật đo lường", "Meets the metrological requirements", "TEM-DN 0412377", "04/03/2027",
        "Kết quả chỉ có giá trị đối với phương tiện đo", "The results relate only to the item",
        # signatures: name, meaning, time
        "NGƯỜI THỰC HIỆN", "Performed by", "Nguyễn Văn Hùng", "NGƯỜI SOÁT XÉT", "Reviewed by", "Trần Thị Lan",
        "THỦ TRƯỞNG ĐƠN VỊ", "Approved by", "Lê Quốc Đạt", "05/03/2026 09:15 (UTC+7)", "Đã ký điện tử",
        "Biên Hòa, ngày 05 tháng 03 năm 2026",
    ]:
        assert expected in text, expected
    assert "Không đạt" not in text


def test_the_end_marker_closes_the_last_page_only(rendered):
    first, last = _pages(rendered)
    assert "--- Hết ---" not in first
    assert "--- Hết ---" in last
    assert last.rstrip().endswith("End of document")
    assert last.index("--- Hết ---") > last.index("Lê Quốc Đạt")


def test_the_seal_url_is_printed_under_the_qr_code(rendered, sealed):
    _doc, url, _keys = sealed
    last = "".join(_pages(rendered)[-1].split())  # the URL is wrapped over lines
    assert url in last


def test_two_renders_of_a_document_are_byte_identical(sealed, rendered):
    again = pdf.render_certificate(sealed[0])
    assert again == rendered
    assert hashlib.sha256(again).hexdigest() == hashlib.sha256(rendered).hexdigest()


def test_a_render_in_a_fresh_process_is_byte_identical(sealed, rendered, tmp_path):
    # Nothing depends on process state (font subset names, ids, dates): a certificate re-rendered later from the
    # stored record matches the stored SHA-256.
    document, url, _keys = sealed
    script = ("import sys, dataclasses; from lims.certificates import pdf, samples; "
              f"doc = dataclasses.replace(samples.sample_document(number={NUMBER!r}), seal_url={url!r}); "
              "sys.stdout.buffer.write(pdf.render_certificate(doc))")
    output = subprocess.run([os.sys.executable, "-c", script], capture_output=True, check=True, timeout=120)
    assert output.stdout == rendered


def test_the_qr_code_read_back_from_the_page_verifies_and_names_the_certificate(rendered, sealed, tmp_path):
    _doc, url, keys = sealed
    image = _png(rendered, 2, tmp_path)
    decoded = zxingcpp.read_barcodes(image)
    assert [d.text for d in decoded] == [url]
    assert decoded[0].format == zxingcpp.BarcodeFormat.QRCode
    token = decoded[0].text.rsplit("/V/", 1)[1]
    payload = seal.verify(token, keys)
    assert (payload.number, payload.serial, payload.valid_until) == (NUMBER, "SW1S-2310457", dt.date(2027, 3, 4))


def test_a_long_results_table_spills_to_the_next_page_with_its_header_repeated(sealed):
    long_document = samples.sample_document(number=NUMBER, extra_rows=70, seal_url=sealed[1])
    pages = _pages(pdf.render_certificate(long_document))
    assert len(pages) == 4
    for index, text in enumerate(pages, start=1):
        assert f"Trang {index}/4" in text and NUMBER in text
    # 79 weighing rows: they start on page 1 and go on over pages 2 and 3, under the column header on each page.
    rows = [text.count("Tăng") + text.count("Giảm") for text in pages]
    assert rows[0] > 0 and rows[1] > 0 and rows[2] > 0 and sum(rows) == 79
    for text in pages[:3]:
        assert "Corrected error Ec" in text and "Sai số hiệu" in text
    for text in pages[1:3]:
        assert "Kiểm tra sai số khi tăng và giảm tải (tiếp theo / continued)" in text
    assert "--- Hết ---" in pages[3]


def test_a_notice_of_failure_says_failed_and_why_with_no_stamp_or_validity(sealed):
    notice = samples.sample_document(kind=DocumentKind.FAILURE_NOTICE, number="TB-2026-000123")
    text = _flat(" ".join(_pages(pdf.render_certificate(notice))))
    assert "THÔNG BÁO KẾT QUẢ KIỂM ĐỊNH KHÔNG ĐẠT" in text
    assert "Không đạt yêu cầu kỹ thuật đo lường" in text
    assert "Kiểm tra độ lệch tâm: 1/5 điểm không đạt" in text
    assert "Tem kiểm định số" not in text and "Hiệu lực đến" not in text
    assert "Đạt yêu cầu kỹ thuật đo lường" not in text.replace("Không đạt yêu cầu kỹ thuật đo lường", "")


def test_a_calibration_certificate_shows_y_plus_minus_u_with_k_and_the_ilac_wording():
    calibration = samples.sample_calibration()
    text = _flat(" ".join(_pages(pdf.render_certificate(calibration))))
    u = calibration.uncertainties[0]
    assert "GIẤY CHỨNG NHẬN HIỆU CHUẨN" in text and "CALIBRATION CERTIFICATE" in text
    assert f"Khối lượng quy ước: {u.value} ± {u.expanded_uncertainty} (k = 2)" in text
    assert "hệ số phủ k = 2, tương ứng với xác suất phủ xấp xỉ 95 %" in text
    assert "multiplied by the coverage factor k = 2, which for a normal distribution corresponds to a coverage " \
           "probability of approximately 95 %" in text
    assert "Expanded uncertainty U (mg)" in text and "Conventional mass mc (g)" in text
    assert "Phù hợp cấp chính xác M1" in text and "Quy tắc quyết định" in text
    assert "Đạt yêu cầu kỹ thuật đo lường" not in text  # no legal verdict on a calibration
    assert "ĐLVN 286:2015" in text and "QC-F2-10" in text


def test_an_amendment_says_which_certificate_it_replaces_and_why():
    amended = samples.sample_document(number="KĐ-2026-012400", amendment=Amendment(
        "KĐ-2026-012345", "sai số sản xuất của phương tiện đo ghi nhầm"))
    pages = _pages(pdf.render_certificate(amended))
    text = _flat(" ".join(pages))
    assert "Lần ban hành 1: thay thế giấy chứng nhận số KĐ-2026-012345 vì sai số sản xuất của phương tiện đo ghi " \
           "nhầm" in text
    assert "replaces certificate No. KĐ-2026-012345" in text
    for page in pages:
        assert "Lần ban hành / Revision: 1" in page and "KĐ-2026-012400" in page


def test_decomposed_vietnamese_is_printed_composed_and_missing_glyphs_fall_back():
    decomposed = unicodedata.normalize("NFD", "Hợp tác xã Nông nghiệp Đồng Tiến")
    document = samples.sample_document()
    document = dataclasses.replace(
        document, customer=dataclasses.replace(document.customer, name=decomposed),
        instrument=dataclasses.replace(document.instrument, characteristics=(Row("Điện trở", "10 Ω", "Resistance"),)))
    text = " ".join(_pages(pdf.render_certificate(document)))
    assert "Hợp tác xã Nông nghiệp Đồng Tiến" in unicodedata.normalize("NFC", text)
    assert "Hợp tác xã Nông nghiệp Đồng Tiến" in text
    assert "Ω" in text


def test_every_glyph_of_vietnamese_is_in_the_font():
    pdf.register_fonts()
    letters = "aàảãáạăằẳẵắặâầẩẫấậbcdđeèẻẽéẹêềểễếệghiìỉĩíịklmnoòỏõóọôồổỗốộơờởỡớợpqrstuùủũúụưừửữứựvxyỳỷỹýỵ"
    for font in (pdf.FONT, pdf.FONT_BOLD, pdf.FONT_ITALIC):
        missing = [c for c in letters + letters.upper() + "±°…–—·" if pdf._runs(c, font)[0][0] != font]
        assert missing == [], (font, missing)


def test_inconsistent_documents_are_refused():
    document = samples.sample_document()
    with pytest.raises(ValueError, match="notice of failure"):
        dataclasses.replace(document, kind=DocumentKind.FAILURE_NOTICE)
    with pytest.raises(ValueError, match="conformity"):
        dataclasses.replace(document, conformity="Phù hợp")
    with pytest.raises(ValueError, match="revision"):
        dataclasses.replace(document, amendment=Amendment("KĐ-1", "lỗi"))


def test_wrap_breaks_at_spaces_and_inside_words_too_long_for_a_line():
    pdf.register_fonts()
    lines = pdf.wrap("Số 1597 Phạm Văn Thuận, phường Thống Nhất", pdf.FONT, 9, 80)
    assert len(lines) > 1 and " ".join(lines) == "Số 1597 Phạm Văn Thuận, phường Thống Nhất"
    url_lines = pdf.wrap("HTTPS://X.VN/V/" + "A" * 300, pdf.FONT, 6, 200)
    assert "".join(url_lines) == "HTTPS://X.VN/V/" + "A" * 300
    assert all(pdf._width(line, pdf.FONT, 6) <= 200 for line in url_lines)


def test_the_decimal_separator_of_the_conditions_follows_the_document_setting():
    document = samples.sample_document()
    assert "Nhiệt độ/Temperature: 24,6 °C" in _flat(" ".join(_pages(pdf.render_certificate(document))))
    pointed = dataclasses.replace(document, decimal_comma=False)
    assert "Nhiệt độ/Temperature: 24.6 °C" in _flat(" ".join(_pages(pdf.render_certificate(pointed))))
