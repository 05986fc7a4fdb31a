"""The certificate PDF: A4, Vietnamese in Be Vietnam Pro, the unique number and "Trang x/y" on every page, the QR seal.

:func:`render_certificate` lays the document out in a first pass (text measured and wrapped, tables split across pages
with their header repeated), which gives the page count, and draws in a second pass with reportlab's canvas. No
platypus: the layout here is simple, and drawing straight on the canvas (all of a page's text in one text object) keeps
a certificate about as fast as a bare reportlab script printing the same pages (``bench/certificates_bench.py``).

Rendering is deterministic: the canvas runs in reportlab's invariant mode (fixed dates and document id), nothing
depends on the clock or on dictionary order, so the same document gives the same bytes and the stored SHA-256 of a
certificate's PDF can be checked by rendering it again.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from . import qr
from .document import SIGNATURE_ROLES, CertificateDocument, Column, DocumentKind, ResultTable
from .results import Formatter

__all__ = ["render_certificate", "register_fonts", "draw_qr", "wrap", "FONT", "FONT_BOLD", "FONT_ITALIC"]

FONT, FONT_BOLD, FONT_ITALIC = "BeVietnamPro", "BeVietnamPro-Bold", "BeVietnamPro-Italic"
_FONT_FILES = {FONT: "BeVietnamPro-Regular.ttf", FONT_BOLD: "BeVietnamPro-Bold.ttf",
               FONT_ITALIC: "BeVietnamPro-Italic.ttf"}
#: Glyphs Be Vietnam Pro lacks (Greek: ΔL, δm, cos φ; √, arrows…) are drawn in DejaVu Sans, which matplotlib (a
#: dependency, for charts) ships; without it they would print as empty boxes.
_FALLBACK_FILES = {FONT: "DejaVuSans.ttf", FONT_BOLD: "DejaVuSans-Bold.ttf", FONT_ITALIC: "DejaVuSans-Oblique.ttf"}
_FALLBACK: dict[str, str] = {}
_COVERAGE: dict[str, dict] = {}
_fonts_lock = threading.Lock()
_fonts_registered = False

PAGE_WIDTH, PAGE_HEIGHT = A4
LEFT, RIGHT, TOP, BOTTOM = 20 * mm, PAGE_WIDTH - 15 * mm, PAGE_HEIGHT - 12 * mm, 12 * mm
WIDTH = RIGHT - LEFT
LABEL_WIDTH = 52 * mm          # the label column of the information rows
QR_SIZE = 30 * mm
ENGLISH_GREY = 0.33            # English labels: same font family, smaller and grey
RULE_GREY = 0.55
HEADER_FILL = 0.91
VIETNAM_TIME = dt.timezone(dt.timedelta(hours=7), "UTC+7")  # no daylight saving time in Vietnam
END_MARKER = "--- Hết ---"


def register_fonts() -> None:
    """Register Be Vietnam Pro (regular, bold, italic) with reportlab, once per process. The static TrueType files
    come from the ``fontpkg-be-vietnam-pro`` package (setup.cfg); reportlab embeds a subset of each in every PDF."""
    global _fonts_registered
    if _fonts_registered:
        return
    with _fonts_lock:
        if _fonts_registered:
            return
        import fontpkg_be_vietnam_pro

        folder = fontpkg_be_vietnam_pro.ROOT / "files"
        for name, filename in _FONT_FILES.items():
            font = TTFont(name, str(folder / filename))
            pdfmetrics.registerFont(font)
            _COVERAGE[name] = font.face.charToGlyph
        pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic=FONT_ITALIC, boldItalic=FONT_BOLD)
        fallback_folder = _matplotlib_fonts()
        if fallback_folder is not None:
            for name, filename in _FALLBACK_FILES.items():
                if (fallback_folder / filename).exists():
                    fallback = "LIMS-" + filename.removesuffix(".ttf")
                    pdfmetrics.registerFont(TTFont(fallback, str(fallback_folder / filename)))
                    _FALLBACK[name] = fallback
        _fonts_registered = True


def _matplotlib_fonts():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("matplotlib")  # located, not imported
    if spec is None or not spec.origin:
        return None
    return Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf"


def render_certificate(doc: CertificateDocument) -> bytes:
    """The PDF of ``doc``: the same document always gives the same bytes."""
    register_fonts()
    layout = _Layout(doc)
    layout.build()
    return layout.draw()


# --- text helpers -------------------------------------------------------------------------------------------------

def _nfc(text: str) -> str:
    # Be Vietnam Pro has the precomposed letters; decomposed input (NFD, e.g. pasted from macOS) would print
    # combining marks placed by a renderer that does no shaping.
    return text if text.isascii() else unicodedata.normalize("NFC", text)


@functools.lru_cache(maxsize=8192)
def _runs(text: str, font: str) -> tuple[tuple[str, str], ...]:
    """``text`` split into ``(font, part)`` runs: the fallback font for the characters ``font`` has no glyph for."""
    fallback = _FALLBACK.get(font)
    if text.isascii():
        return ((font, text),)
    text = _nfc(text)
    if fallback is None:
        return ((font, text),)
    coverage = _COVERAGE[font]
    runs: list[list[str]] = []
    for char in text:
        name = font if ord(char) in coverage or char.isspace() else fallback
        if runs and runs[-1][0] == name:
            runs[-1][1] += char
        else:
            runs.append([name, char])
    return tuple((name, part) for name, part in runs)


def _width(text: str, font: str, size: float) -> float:
    if text.isascii():
        return pdfmetrics.stringWidth(text, font, size)
    return sum(pdfmetrics.stringWidth(part, name, size) for name, part in _runs(text, font))


def wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Greedy word wrap to ``width`` points; a word longer than a line (a URL) is broken between characters.
    Explicit newlines are kept."""
    lines: list[str] = []
    for paragraph in _nfc(text).split("\n"):
        if _width(paragraph, font, size) <= width:
            lines.append(paragraph)
            continue
        space = _width(" ", font, size)
        current, current_width = "", 0.0
        for word in paragraph.split(" "):
            word_width = _width(word, font, size)
            if current and current_width + space + word_width <= width:
                current, current_width = f"{current} {word}", current_width + space + word_width
                continue
            if current:
                lines.append(current)
            if word_width <= width:
                current, current_width = word, word_width
                continue
            current, current_width = "", 0.0
            for char in word:  # break an over-long word
                char_width = _width(char, font, size)
                if current and current_width + char_width > width:
                    lines.append(current)
                    current, current_width = "", 0.0
                current, current_width = current + char, current_width + char_width
        lines.append(current)
    return lines


def _date(value: dt.date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else "—"


def _signed_at(value: dt.datetime) -> str:
    return value.astimezone(VIETNAM_TIME).strftime("%d/%m/%Y %H:%M") + " (UTC+7)"


@dataclass(frozen=True)
class _Style:
    font: str
    size: float
    grey: float = 0.0

    @property
    def leading(self) -> float:
        return self.size * 1.25


BODY = _Style(FONT, 9)
BODY_BOLD = _Style(FONT_BOLD, 9)
LABEL = _Style(FONT, 8.5)
LABEL_EN = _Style(FONT_ITALIC, 6.8, ENGLISH_GREY)
SMALL = _Style(FONT, 7)
SMALL_EN = _Style(FONT_ITALIC, 6.3, ENGLISH_GREY)
CELL = _Style(FONT, 8)
HEAD = _Style(FONT_BOLD, 7.3)
HEAD_EN = _Style(FONT_ITALIC, 6.3, ENGLISH_GREY)
SECTION = _Style(FONT_BOLD, 9.5)
TABLE_TITLE = _Style(FONT_BOLD, 8.5)
SECTION_EN = _Style(FONT_ITALIC, 7.5, ENGLISH_GREY)


# --- layout -------------------------------------------------------------------------------------------------------

# Drawing operations, recorded during layout and replayed per page once the page count is known:
#   ("t", font, size, grey, x, y, text, align)   align: "l", "c", "r"
#   ("l", x1, y1, x2, y2, line_width)
#   ("f", x, y, w, h, grey)                       filled rectangle
#   ("q", x, y, size, matrix)                     QR code, (x, y) its lower left corner
Op = tuple


class _Layout:
    def __init__(self, doc: CertificateDocument):
        self.doc = doc
        self.pages: list[list[Op]] = []
        self.header_lines = self._header_lines()
        self.body_top = TOP - self._header_height() - 4 * mm
        self.body_bottom = BOTTOM + 9 * mm
        self.y = 0.0
        self._new_page()

    # pages

    def _new_page(self) -> None:
        self.pages.append([])
        self.y = self.body_top

    def ensure(self, height: float) -> None:
        """Start a new page unless ``height`` points fit below the cursor."""
        if self.y - height < self.body_bottom and self.y < self.body_top:
            self._new_page()

    @property
    def ops(self) -> list[Op]:
        return self.pages[-1]

    # primitive emitters

    def text(self, style: _Style, x: float, y: float, text: str, align: str = "l") -> None:
        self.ops.append(("t", style.font, style.size, style.grey, x, y, text, align))

    def lines(self, style: _Style, x: float, lines: Sequence[str], align: str = "l") -> None:
        """Emit ``lines`` from the cursor down (the cursor moves)."""
        for line in lines:
            self.y -= style.leading
            self.text(style, x, self.y + style.size * 0.25, line, align)

    def paragraph(self, style: _Style, text: str, *, x: float = LEFT, width: float = WIDTH, align: str = "l",
                  space_after: float = 0.0) -> None:
        """Wrapped text that may break across pages between lines."""
        anchor = {"l": x, "c": x + width / 2, "r": x + width}[align]
        for line in wrap(text, style.font, style.size, width):
            self.ensure(style.leading)
            self.lines(style, anchor, [line], align)
        self.y -= space_after

    # the page header and footer (drawn on every page at draw time)

    def _header_lines(self) -> dict[str, list[str]]:
        centre = self.doc.centre
        left_width = WIDTH * 0.62
        return {
            "parent": wrap(centre.parent.upper(), SMALL.font, SMALL.size, left_width) if centre.parent else [],
            "name": wrap(centre.name.upper(), BODY_BOLD.font, BODY_BOLD.size, left_width),
            "address": wrap(centre.address, SMALL.font, SMALL.size, left_width),
            "contact": wrap(" · ".join(filter(None, [centre.phone and f"ĐT/Tel: {centre.phone}", centre.email])),
                            SMALL.font, SMALL.size, left_width) if centre.phone or centre.email else [],
            "accreditation": wrap("; ".join(filter(None, [centre.designation, centre.accreditation])),
                                  SMALL.font, SMALL.size, left_width),
        }

    def _header_height(self) -> float:
        h = self.header_lines
        left = (len(h["parent"]) + len(h["address"]) + len(h["contact"]) + len(h["accreditation"])) * SMALL.leading
        left += len(h["name"]) * BODY_BOLD.leading
        return max(left, 3 * BODY.leading) + 3

    # the document

    def build(self) -> None:
        self._title()
        self._information()
        self._results()
        self._uncertainty()
        self._conclusion()
        self._remarks()
        self._signatures()
        self._seal()
        self._end_marker()

    def _title(self) -> None:
        title_vi, title_en = self.doc.title
        centre_x = LEFT + WIDTH / 2
        self.y -= 4
        self.lines(_Style(FONT_BOLD, 15), centre_x, [title_vi], "c")
        self.lines(_Style(FONT_ITALIC, 9, ENGLISH_GREY), centre_x, [title_en], "c")
        self.y -= 2
        self.lines(_Style(FONT_BOLD, 10.5), centre_x, [f"Số / No.: {self.doc.number}"], "c")
        if self.doc.amendment:
            # 17025 7.8.8.2: the new document says which one it replaces, and why.
            amendment = self.doc.amendment
            notice = self.doc.kind is DocumentKind.FAILURE_NOTICE
            self.y -= 3
            self.paragraph(BODY_BOLD, f"Lần ban hành {self.doc.revision}: thay thế "
                                      f"{'thông báo' if notice else 'giấy chứng nhận'} số "
                                      f"{amendment.replaces_number} vì {amendment.reason}", align="c")
            self.paragraph(LABEL_EN, f"Revision {self.doc.revision}: replaces {'notice' if notice else 'certificate'} "
                                     f"No. {amendment.replaces_number}, for the reason stated above.", align="c")
        self.y -= 6

    def _information(self) -> None:
        doc, inst = self.doc, self.doc.instrument
        rows: list[tuple[str, str, str]] = [
            ("Tên phương tiện đo", "Instrument", " / ".join(filter(None, [inst.type_name_vi, inst.type_name_en]))),
            ("Kiểu", "Model", inst.model),
            ("Số sản xuất", "Serial number", inst.serial),
            ("Cơ sở sản xuất", "Manufacturer", inst.manufacturer),
            ("Năm sản xuất", "Year of manufacture", str(inst.year or "")),
        ]
        if inst.pattern_approval:
            rows.append(("Ký hiệu mẫu phê duyệt", "Pattern approval", inst.pattern_approval))
        if inst.characteristics:
            rows.append(("Đặc trưng kỹ thuật đo lường", "Metrological characteristics", "\n".join(
                f"{row.label_vi}{f' ({row.label_en})' if row.label_en else ''}: {row.value}"
                for row in inst.characteristics)))
        rows += [
            ("Cơ sở sử dụng", "Customer", "\n".join(filter(None, [doc.customer.name, doc.customer.address]))),
            ("Nơi thực hiện", "Place of work", doc.place_of_work),
            ("Ngày nhận phương tiện đo", "Date of receipt", _date(doc.receipt_date) if doc.receipt_date else ""),
            ("Ngày thực hiện", "Date(s) of work", self._work_dates()),
            ("Phương pháp thực hiện", "Method", " – ".join(filter(None, [doc.method.number, doc.method.title]))),
        ]
        if doc.conditions:
            rows.append(("Điều kiện môi trường", "Environmental conditions", self._conditions()))
        if doc.standards:
            rows.append(("Chuẩn đo lường sử dụng", "Standards used", "\n".join(
                ", ".join(filter(None, [
                    s.name, s.identification and f"số {s.identification}",
                    s.certificate_number and f"GCN/Cert. {s.certificate_number}",
                    s.valid_until and f"hiệu lực đến {_date(s.valid_until)}",
                ])) for s in doc.standards)))
        if doc.traceability:
            rows.append(("Tính liên kết chuẩn", "Traceability", doc.traceability))
        rows.append(("Ngày ban hành", "Date of issue", _date(doc.issue_date)))
        value_x = LEFT + LABEL_WIDTH
        value_width = WIDTH - LABEL_WIDTH
        for label_vi, label_en, value in rows:
            if not value:
                continue
            label_lines = wrap(label_vi, LABEL.font, LABEL.size, LABEL_WIDTH - 6)
            en_lines = wrap(label_en, LABEL_EN.font, LABEL_EN.size, LABEL_WIDTH - 6)
            value_lines = wrap(value, BODY.font, BODY.size, value_width)
            label_height = len(label_lines) * LABEL.leading + len(en_lines) * LABEL_EN.leading
            value_height = len(value_lines) * BODY.leading
            self.ensure(max(label_height, value_height) + 2.5)
            top = self.y
            self.lines(LABEL, LEFT, label_lines)
            self.lines(LABEL_EN, LEFT, en_lines)
            bottom = self.y
            self.y = top
            self.lines(BODY, value_x, value_lines)
            self.y = min(self.y, bottom) - 2.5

    def _work_dates(self) -> str:
        start, end = self.doc.work_start_date, self.doc.work_end_date
        if start and end and start != end:
            return f"{_date(start)} – {_date(end)}"
        return _date(start or end) if (start or end) else ""

    def _conditions(self) -> str:
        c, parts = self.doc.conditions, []
        number = Formatter(self.doc.decimal_comma).number
        if c.temperature_c:
            parts.append(f"Nhiệt độ/Temperature: {number(c.temperature_c)} °C")
        if c.humidity_pct:
            parts.append(f"Độ ẩm/Humidity: {number(c.humidity_pct)} %")
        if c.pressure_hpa:
            parts.append(f"Áp suất/Pressure: {number(c.pressure_hpa)} hPa")
        return "; ".join(parts)

    def _section(self, vi: str, en: str, keep: float = 0.0) -> None:
        """A section heading, kept on the page with the first ``keep`` points of what follows."""
        self.ensure(SECTION.leading + keep + 6)
        self.y -= 4 + SECTION.leading
        baseline = self.y + SECTION.size * 0.25
        heading = vi.upper()
        self.text(SECTION, LEFT, baseline, heading)
        self.text(SECTION_EN, LEFT + _width(heading, SECTION.font, SECTION.size) + 5, baseline, f"/ {en}")
        self.y -= 2

    def _results(self) -> None:
        if not self.doc.results:
            return
        self._section("Kết quả", "Results", keep=40)
        for table in self.doc.results:
            self._table(table)

    def _table(self, table: ResultTable) -> None:
        total = sum(c.width for c in table.columns)
        widths = [WIDTH * c.width / total for c in table.columns]
        xs = [LEFT]
        for w in widths:
            xs.append(xs[-1] + w)
        pad = 2.5
        header = [self._header_cell(c, w - 2 * pad) for c, w in zip(table.columns, widths)]
        header_height = max(h for h, _ in header) + 2 * pad
        rows = []
        for row in table.rows:
            cells = [wrap(text, CELL.font, CELL.size, w - 2 * pad) for text, w in zip(row, widths)]
            rows.append((cells, max(len(c) for c in cells) * CELL.leading + 2 * pad - 1))
        title_vi = wrap(table.title_vi, TABLE_TITLE.font, TABLE_TITLE.size, WIDTH)
        title_en = wrap(table.title_en, LABEL_EN.font, LABEL_EN.size, WIDTH) if table.title_en else []
        title_height = len(title_vi) * TABLE_TITLE.leading + len(title_en) * LABEL_EN.leading + 2
        first_rows = sum(height for _cells, height in rows[:2])
        self.ensure(title_height + header_height + first_rows + 3)
        self.y -= 3
        self.lines(TABLE_TITLE, LEFT, title_vi)
        self.lines(LABEL_EN, LEFT, title_en)
        self.y -= 2

        segment_top = self._table_header(header, header_height, xs, pad)
        for cells, height in rows:
            if self.y - height < self.body_bottom:
                self._table_verticals(xs, segment_top)
                self._new_page()
                self.y -= 2
                self.lines(LABEL_EN, LEFT, [f"{table.title_vi} (tiếp theo / continued)"])
                self.y -= 2
                segment_top = self._table_header(header, header_height, xs, pad)
            top = self.y
            for (lines, column, x0, x1) in zip(cells, table.columns, xs, xs[1:]):
                self.y = top - pad + 1
                anchor = {"left": x0 + pad, "center": (x0 + x1) / 2, "right": x1 - pad}[column.align]
                self.lines(CELL, anchor, lines, column.align[0])
            self.y = top - height
            self.ops.append(("l", LEFT, self.y, RIGHT, self.y, 0.3))
        self._table_verticals(xs, segment_top)
        if table.note:
            self.y -= 1
            self.paragraph(SMALL, table.note)

    def _header_cell(self, column: Column, width: float) -> tuple[float, list[tuple[_Style, str]]]:
        lines = [(HEAD, line) for line in wrap(column.label_vi, HEAD.font, HEAD.size, width)]
        english = column.label_en + (f" ({column.unit})" if column.unit else "")
        lines += [(HEAD_EN, line) for line in wrap(english, HEAD_EN.font, HEAD_EN.size, width)] if english else []
        return sum(style.leading for style, _ in lines), lines

    def _table_header(self, header, height: float, xs: list[float], pad: float) -> float:
        top = self.y
        self.ops.append(("f", LEFT, top - height, WIDTH, height, HEADER_FILL))
        self.ops.append(("l", LEFT, top, RIGHT, top, 0.6))
        for (_h, lines), x0, x1 in zip(header, xs, xs[1:]):
            self.y = top - pad
            for style, line in lines:
                self.lines(style, (x0 + x1) / 2, [line], "c")
        self.y = top - height
        self.ops.append(("l", LEFT, self.y, RIGHT, self.y, 0.6))
        return top

    def _table_verticals(self, xs: list[float], top: float) -> None:
        for i, x in enumerate(xs):
            self.ops.append(("l", x, top, x, self.y, 0.6 if i in (0, len(xs) - 1) else 0.3))

    def _uncertainty(self) -> None:
        doc = self.doc
        if not doc.uncertainties:
            return
        self._section("Độ không đảm bảo đo", "Measurement uncertainty", keep=30)
        for u in doc.uncertainties:
            self.paragraph(BODY_BOLD, f"{u.quantity_vi}: {u.value} ± {u.expanded_uncertainty} (k = {u.k})")
            self.paragraph(LABEL_EN, f"{u.quantity_en}: {u.value} ± {u.expanded_uncertainty} (k = {u.k})")
        k = doc.uncertainties[0].k
        coverage = doc.uncertainties[0].coverage_pct
        self.y -= 2
        # ILAC P14:09/2020 5.4 / EA-4/02 wording.
        self.paragraph(SMALL, f"Độ không đảm bảo đo mở rộng được công bố bằng độ không đảm bảo đo chuẩn nhân với hệ số "
                              f"phủ k = {k}, tương ứng với xác suất phủ xấp xỉ {coverage} % đối với phân bố chuẩn. "
                              f"Độ không đảm bảo đo được đánh giá theo JCGM 100:2008 (GUM).")
        self.paragraph(SMALL_EN, f"The reported expanded uncertainty of measurement is stated as the standard "
                                 f"uncertainty of measurement multiplied by the coverage factor k = {k}, which for a "
                                 f"normal distribution corresponds to a coverage probability of approximately "
                                 f"{coverage} %. It has been estimated in accordance with JCGM 100:2008 (GUM).")

    def _conclusion(self) -> None:
        doc = self.doc
        conclusion = doc.conclusion
        if conclusion is None and not doc.conformity:
            return
        self._section("Kết luận", "Conclusion", keep=36)
        if conclusion:
            vi, en = conclusion
            self.paragraph(_Style(FONT_BOLD, 12), vi)
            self.paragraph(_Style(FONT_ITALIC, 8.5, ENGLISH_GREY), en, space_after=2)
        if doc.conformity:
            self.paragraph(BODY_BOLD, doc.conformity)
        if doc.decision_rule:
            self.paragraph(SMALL, f"Quy tắc quyết định / Decision rule: {doc.decision_rule}")
        for reason in doc.failure_reasons:
            self.paragraph(BODY, f"– {reason}")
        facts = []
        if doc.stamp_number:
            facts.append(("Tem kiểm định số", "Stamp No.", doc.stamp_number))
        if doc.valid_until:
            facts.append(("Hiệu lực đến hết ngày", "Valid until", _date(doc.valid_until)))
        for vi, en, value in facts:
            self.ensure(BODY.leading)
            self.y -= BODY.leading
            baseline = self.y + BODY.size * 0.25
            self.text(LABEL, LEFT, baseline, vi)
            self.text(LABEL_EN, LEFT + _width(vi, LABEL.font, LABEL.size) + 3, baseline, f"/ {en}:")
            self.text(BODY_BOLD, LEFT + LABEL_WIDTH, baseline, value)

    def _remarks(self) -> None:
        doc = self.doc
        item = "phương tiện đo đã được hiệu chuẩn" if doc.kind is DocumentKind.CALIBRATION else \
            "phương tiện đo đã được kiểm định"
        self.y -= 4
        self.paragraph(SMALL, f"Kết quả chỉ có giá trị đối với {item} nêu trong tài liệu này. Không được sao chép "
                              f"từng phần tài liệu này nếu không có sự đồng ý bằng văn bản của {doc.centre.name}.")
        self.paragraph(SMALL_EN, "The results relate only to the item described in this document. This document "
                                 "shall not be reproduced except in full without the written approval of the "
                                 "issuing laboratory.")
        for remark in doc.remarks:
            self.paragraph(SMALL, remark)

    def _signatures(self) -> None:
        doc = self.doc
        if not doc.signatures and not doc.issue_place:
            return
        place_date = f"{doc.issue_place + ', ' if doc.issue_place else ''}ngày {doc.issue_date:%d} tháng " \
                     f"{doc.issue_date:%m} năm {doc.issue_date:%Y}"
        count = max(len(doc.signatures), 1)
        column_width = WIDTH / count
        blocks = []
        for signature in doc.signatures:
            role_vi, role_en = SIGNATURE_ROLES[signature.role]
            lines = [(BODY_BOLD, line) for line in wrap(role_vi.upper(), BODY_BOLD.font, BODY_BOLD.size,
                                                           column_width - 8)]
            lines += [(SMALL_EN, role_en)]
            if signature.title:
                lines += [(SMALL, line) for line in wrap(signature.title, SMALL.font, SMALL.size, column_width - 8)]
            lines += [(_Style(FONT_ITALIC, 7, 0.25), "Đã ký điện tử / Signed electronically")]
            lines += [(BODY_BOLD, line) for line in wrap(signature.name, BODY_BOLD.font, BODY_BOLD.size,
                                                           column_width - 8)]
            lines += [(SMALL, f"{_signed_at(signature.signed_at)}")]
            blocks.append(lines)
        height = BODY.leading + 4 + max((sum(s.leading for s, _ in b) for b in blocks), default=0)
        self.ensure(height + 6)
        self.y -= 6
        self.lines(_Style(FONT_ITALIC, 8.5), RIGHT, [place_date], "r")
        self.y -= 4
        top = self.y
        bottom = top
        for index, lines in enumerate(blocks):
            self.y = top
            centre_x = LEFT + column_width * (index + 0.5)
            for style, line in lines:
                self.lines(style, centre_x, [line], "c")
            bottom = min(bottom, self.y)
        self.y = bottom

    def _seal(self) -> None:
        url = self.doc.seal_url
        if not url:
            return
        matrix = qr.qr_matrix(url)
        url_lines = wrap(url, SMALL.font, 6.2, WIDTH)
        text_x = LEFT + QR_SIZE + 5 * mm
        text_width = RIGHT - text_x
        keys_url = url.rpartition("/V/")[0].lower() + "/.well-known/lims-keys.json"
        explanation = wrap(f"Mã QR xác thực: quét mã hoặc mở địa chỉ dưới đây để kiểm tra tài liệu này là thật và còn "
                           f"hiệu lực. Khóa công khai để tự kiểm tra chữ ký của mã được công bố tại {keys_url}.",
                           SMALL.font, SMALL.size, text_width)
        explanation_en = wrap(f"Verification seal: scan the code or open the address below to check that this "
                              f"document is genuine and in force. The public keys to check its signature offline are "
                              f"published at {keys_url}.", SMALL_EN.font, SMALL_EN.size, text_width)
        end_height = BODY.leading + 6
        height = QR_SIZE + 6 + len(url_lines) * 6.2 * 1.25 + end_height + 10
        self.ensure(height)
        self.y -= 10
        top = self.y
        self.ops.append(("q", LEFT, top - QR_SIZE, QR_SIZE, matrix))
        self.y = top - 2
        self.lines(SMALL, text_x, explanation)
        self.y -= 2
        self.lines(SMALL_EN, text_x, explanation_en)
        self.y = top - QR_SIZE - 6  # the URL's ascenders stay out of the 4-module quiet zone (~6.5 pt)
        self.lines(_Style(FONT, 6.2, 0.15), LEFT, url_lines)

    def _end_marker(self) -> None:
        self.ensure(BODY.leading + 6)
        self.y -= 6
        self.lines(BODY_BOLD, LEFT + WIDTH / 2, [END_MARKER], "c")
        self.lines(SMALL_EN, LEFT + WIDTH / 2, ["End of document"], "c")

    # drawing

    def draw(self) -> bytes:
        buffer = io.BytesIO()
        canvas = Canvas(buffer, pagesize=A4, invariant=1, pageCompression=1, pdfVersion=(1, 4))
        doc = self.doc
        title_vi, title_en = doc.title
        canvas.setTitle(f"{title_vi} số {doc.number}")
        canvas.setSubject(f"{title_en} No. {doc.number}")
        canvas.setAuthor(doc.centre.name)
        canvas.setCreator("LIMS")
        canvas.setProducer("LIMS (reportlab)")
        total = len(self.pages)
        for index, ops in enumerate(self.pages, start=1):
            self._draw_frame(canvas, index, total)
            _replay(canvas, ops)
            canvas.showPage()
        canvas.save()
        return buffer.getvalue()

    def _draw_frame(self, canvas: Canvas, page: int, total: int) -> None:
        """The header and footer: the centre, the unique number and "Trang x/y" on every page (17025 7.8.2.1 d)."""
        doc, h = self.doc, self.header_lines
        ops: list[Op] = []
        y = TOP
        for key, style in (("parent", SMALL), ("name", BODY_BOLD), ("address", SMALL), ("contact", SMALL),
                           ("accreditation", SMALL)):
            for line in h[key]:
                y -= style.leading
                ops.append(("t", style.font, style.size, style.grey, LEFT, y + style.size * 0.25, line, "l"))
        y_right = TOP - BODY.leading
        ops.append(("t", FONT_BOLD, 9.5, 0, RIGHT, y_right + 2, f"Số / No.: {doc.number}", "r"))
        ops.append(("t", FONT, 8, 0, RIGHT, y_right - 9, f"Trang {page}/{total}", "r"))
        ops.append(("t", FONT_ITALIC, 6.5, ENGLISH_GREY, RIGHT, y_right - 17, f"Page {page} of {total}", "r"))
        if doc.revision:
            ops.append(("t", FONT, 7, 0, RIGHT, y_right - 26, f"Lần ban hành / Revision: {doc.revision}", "r"))
        rule_y = TOP - self._header_height() - 1
        ops.append(("l", LEFT, rule_y, RIGHT, rule_y, 0.8))
        footer_y = BOTTOM + 5
        ops.append(("l", LEFT, footer_y + 8, RIGHT, footer_y + 8, 0.4))
        ops.append(("t", FONT, 7, 0, LEFT, footer_y, f"{doc.title[0].capitalize()} số {doc.number}", "l"))
        ops.append(("t", FONT, 7, 0, RIGHT, footer_y, f"Trang {page}/{total} · Page {page} of {total}", "r"))
        _replay(canvas, ops)


def _replay(canvas: Canvas, ops: Sequence[Op]) -> None:
    """Draw recorded operations: shapes first, then all the text of the page in one text object (one BT…ET block:
    ~10 % faster than a text object per string)."""
    texts = []
    for op in ops:
        kind = op[0]
        if kind == "t":
            texts.append(op)
        elif kind == "l":
            _, x1, y1, x2, y2, width = op
            canvas.setLineWidth(width)
            canvas.setStrokeGray(RULE_GREY if width < 0.5 else 0)
            canvas.line(x1, y1, x2, y2)
        elif kind == "f":
            _, x, y, w, h, colour = op
            canvas.setFillGray(colour)
            canvas.rect(x, y, w, h, stroke=0, fill=1)
        elif kind == "q":
            _, x, y, size, matrix = op
            draw_qr(canvas, matrix, x, y, size)
    text = canvas.beginText()
    font = grey = None
    string_width = pdfmetrics.stringWidth
    for _, name, size, colour, x, y, string, align in texts:
        if colour != grey:
            text.setFillGray(colour)
            grey = colour
        runs = _runs(string, name)
        if align != "l":
            width = sum(string_width(part, run_font, size) for run_font, part in runs)
            x -= width / 2 if align == "c" else width
        text.setTextOrigin(x, y)
        for run_font, part in runs:
            if (run_font, size) != font:
                text.setFont(run_font, size)
                font = (run_font, size)
            text.textOut(part)
    canvas.drawText(text)


def draw_qr(canvas: Canvas, matrix: list[list[bool]], x: float, y: float, size: float) -> None:
    """Draw a QR code as vector rectangles, one per horizontal run of dark modules, ``(x, y)`` its lower left corner
    and ``size`` its side (the quiet zone of 4 modules is the caller's blank margin)."""
    n = len(matrix)
    canvas.saveState()
    canvas.translate(x, y + size)
    canvas.scale(size / n, -size / n)  # module units, rows downwards: integer coordinates in the content stream
    canvas.setFillGray(0)
    path = canvas.beginPath()
    for row, column, length in qr.dark_runs(matrix):
        path.rect(column, row, length, 1)
    canvas.drawPath(path, stroke=0, fill=1)
    canvas.restoreState()
