"""The receipt slip (phiếu tiếp nhận) handed to the customer: A4, Vietnamese in Be Vietnam Pro, the job number, the
items received with their condition, the fees, and room for both signatures (ISO/IEC 17025 7.4.1, 7.4.3)."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

import instruments
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from xml.sax.saxutils import escape

from lims.certificates.pdf import FONT, FONT_BOLD, FONT_ITALIC, register_fonts

from . import services
from .models import Job


@dataclass(frozen=True)
class SlipPeople:
    """Names printed on the slip (looked up by the caller)."""

    received_by: str = ""
    assigned_to: str = ""


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=FONT, fontSize=9.5, leading=12.5)
    return {
        "base": base,
        "small": ParagraphStyle("small", parent=base, fontSize=8.5, leading=11),
        "centre": ParagraphStyle("centre", parent=base, fontName=FONT_BOLD, fontSize=10.5, alignment=TA_CENTER),
        "title": ParagraphStyle("title", parent=base, fontName=FONT_BOLD, fontSize=15, leading=19,
                                alignment=TA_CENTER, spaceBefore=6, spaceAfter=2),
        "subtitle": ParagraphStyle("subtitle", parent=base, fontName=FONT_ITALIC, alignment=TA_CENTER),
        "heading": ParagraphStyle("heading", parent=base, fontName=FONT_BOLD, fontSize=10.5, spaceBefore=8,
                                  spaceAfter=3),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8.5, leading=10.5),
        "cell_bold": ParagraphStyle("cell_bold", parent=base, fontName=FONT_BOLD, fontSize=8.5, leading=10.5),
        "right": ParagraphStyle("right", parent=base, fontSize=8.5, leading=10.5, alignment=TA_RIGHT),
        "sign": ParagraphStyle("sign", parent=base, fontName=FONT_BOLD, alignment=TA_CENTER),
        "sign_note": ParagraphStyle("sign_note", parent=base, fontName=FONT_ITALIC, fontSize=8.5,
                                    alignment=TA_CENTER),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text or "").replace("\n", "<br/>"), style)


def _day(value: dt.date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def _grid(widths, rows, *, header_rows: int = 1) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=header_rows)
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("BACKGROUND", (0, 0), (-1, header_rows - 1), colors.Color(0.91, 0.91, 0.91)),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]))
    return table


def render_slip(job: Job, *, centre_name: str, people: SlipPeople) -> bytes:
    """The slip of ``job`` as PDF bytes (call inside the locale the customer reads, Vietnamese)."""
    register_fonts()
    s = _styles()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=15 * mm, topMargin=14 * mm,
                            bottomMargin=16 * mm, title=f"Phiếu tiếp nhận {job.number}", author=centre_name,
                            invariant=1)
    customer = job.customer
    story = [
        Table([[_p(centre_name.upper(), s["centre"]),
                _p("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập – Tự do – Hạnh phúc", s["centre"])]],
              colWidths=[85 * mm, 92 * mm]),
        _p("PHIẾU TIẾP NHẬN PHƯƠNG TIỆN ĐO", s["title"]),
        _p(f"Số: {job.number} — ngày tiếp nhận {_day(job.received_date)}", s["subtitle"]),
        Spacer(1, 4 * mm),
    ]
    address = ", ".join(part for part in (customer.address, customer.commune, customer.district,
                                          customer.province) if part)
    info = [
        ("Khách hàng", customer.name),
        ("Mã số thuế", customer.tax_code or ""),
        ("Địa chỉ", address),
        ("Người giao", job.contact_name or customer.contact_name),
        ("Điện thoại", customer.phone),
        ("Nơi thực hiện", str(services.LOCATION_LABELS[job.location]) +
         (f": {job.site_address}" if job.location == "on_site" and job.site_address else "")),
        ("Ngày hẹn trả kết quả", _day(job.due_date)),
        ("Kiểm định viên phụ trách", people.assigned_to),
    ]
    story.append(Table([[_p(label, s["cell_bold"]), _p(value, s["cell"])] for label, value in info if value],
                       colWidths=[45 * mm, 132 * mm], style=[("VALIGN", (0, 0), (-1, -1), "TOP"),
                                                             ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    story.append(_p("Phương tiện đo được tiếp nhận", s["heading"]))
    rows = [[_p(h, s["cell_bold"]) for h in ("STT", "Phương tiện đo", "Số sản xuất", "Yêu cầu",
                                              "Tình trạng khi nhận", "Phụ kiện")]]
    for index, item in enumerate(job.items, 1):
        instrument = item.instrument
        name = instruments.get(instrument.type_code).name_vi
        maker = " ".join(part for part in (instrument.manufacturer, instrument.model) if part)
        rows.append([_p(str(index), s["cell"]), _p(f"{name}\n{maker}".strip(), s["cell"]),
                     _p(instrument.serial, s["cell"]), _p(str(services.SERVICE_LABELS[item.service]), s["cell"]),
                     _p(item.condition_on_receipt, s["cell"]), _p(item.accessories, s["cell"])])
    story.append(_grid([10 * mm, 45 * mm, 28 * mm, 30 * mm, 40 * mm, 24 * mm], rows))
    if job.fees:
        story.append(_p("Phí kiểm định, hiệu chuẩn", s["heading"]))
        fee_rows = [[_p(h, s["cell_bold"]) for h in ("Nội dung", "SL", "Đơn giá (đ)", "Thành tiền (đ)")]]
        for line in job.fees:
            fee_rows.append([_p(line.description, s["cell"]), _p(str(line.quantity), s["right"]),
                             _p(services.format_vnd(line.unit_price_vnd), s["right"]),
                             _p(services.format_vnd(line.unit_price_vnd * line.quantity), s["right"])])
        fee_rows.append([_p("Tổng cộng", s["cell_bold"]), "", "",
                         _p(services.format_vnd(services.total_vnd(job)), s["right"])])
        table = _grid([97 * mm, 14 * mm, 32 * mm, 34 * mm], fee_rows)
        table.setStyle(TableStyle([("SPAN", (0, -1), (2, -1))]))
        story.append(table)
    if job.notes:
        story += [_p("Ghi chú", s["heading"]), _p(job.notes, s["base"])]
    story += [
        Spacer(1, 4 * mm),
        _p("Khách hàng kiểm tra và xác nhận danh sách, tình trạng phương tiện đo khi giao. Kết quả được trả khi "
           "xuất trình phiếu này.", s["small"]),
        Spacer(1, 6 * mm),
        Table([[_p("NGƯỜI GIAO", s["sign"]), _p("NGƯỜI NHẬN", s["sign"])],
               [_p("(Ký, ghi rõ họ tên)", s["sign_note"]), _p("(Ký, ghi rõ họ tên)", s["sign_note"])],
               [Spacer(1, 18 * mm), Spacer(1, 18 * mm)],
               [_p(job.contact_name or customer.contact_name, s["sign"]), _p(people.received_by, s["sign"])]],
              colWidths=[88 * mm, 89 * mm]),
    ]

    def footer(canvas, document):
        canvas.saveState()
        canvas.setFont(FONT, 8)
        canvas.drawString(18 * mm, 9 * mm, f"{job.number}")
        canvas.drawRightString(A4[0] - 15 * mm, 9 * mm, f"Trang {document.page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
