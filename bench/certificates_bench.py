"""Certificate PDFs and QR seals (issue 5): PDFs per second on one core, against a bare reportlab script printing the
same pages in the same run, and the seal's sign / verify cost.

Targets: ≥ 40 PDFs per second on one core (counted in CPU seconds of this process, so that other work on the machine
does not count against it; wall-clock rates are reported too), and ≥ 70 % of the bare script's rate.

The bare script is what a certificate costs reportlab itself: the same two A4 pages (same Be Vietnam Pro fonts, the
same strings at the same places, the same table rules and the same QR code, encoded per PDF with ``qrcode`` at a
fixed version and mask and drawn as rectangles), drawn with plain ``canvas.drawString`` calls and no layout work —
as a script with hard-coded positions would. Its page content is taken once, before timing, from the renderer's own
layout of the same document so that the two print exactly the same thing; nothing of the renderer runs while the
baseline is timed. Renderer and baseline rounds alternate so that both see the same machine load.
"""

from __future__ import annotations

import dataclasses
import io
import statistics
import time

import qrcode
import qrcode.util
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from lims.certificates import pdf, qr, samples, seal

PUBLIC_URL = "https://kiemdinh.tdc-dongnai.gov.vn"
TARGET_PER_SECOND = 40
TARGET_RATIO = 0.70


def _document():
    key = Ed25519PrivateKey.generate()
    key_id = seal.key_id_for(key)
    document = samples.sample_document()
    payload = seal.SealPayload(number=document.number, revision=0, issue_date=document.issue_date,
                               valid_until=document.valid_until, serial=document.instrument.serial,
                               verdict=seal.Verdict.PASSED, digest=seal.record_digest({"number": document.number}))
    token = seal.sign(payload, key, key_id)
    return dataclasses.replace(document, seal_url=seal.seal_url(PUBLIC_URL, token)), key, key_id, payload, token


# --- the bare reportlab script ----------------------------------------------------------------------------------

def _bare_plan(document) -> list[list[tuple]]:
    """Every page's drawing, as plain data: header, footer and body strings with positions, rules, fills, and the
    place of the QR code (whose modules the bare script computes itself)."""
    layout = pdf._Layout(document)
    layout.build()
    pages = []
    total = len(layout.pages)
    for number, ops in enumerate(layout.pages, start=1):
        frame: list[tuple] = []

        class Recorder:  # catches the header/footer strings the renderer draws per page
            def beginText(self):
                return self

            def setFillGray(self, _grey):
                pass

            def setTextOrigin(self, x, y):
                self.at = (x, y)

            def setFont(self, name, size):
                self.font = (name, size)

            def textOut(self, text):
                frame.append(("t", *self.font, 0, *self.at, text, "l"))

            def drawText(self, _text):
                pass

            def setLineWidth(self, width):
                self.width = width

            def setStrokeGray(self, _grey):
                pass

            def line(self, x1, y1, x2, y2):
                frame.append(("l", x1, y1, x2, y2, self.width))

        layout._draw_frame(Recorder(), number, total)
        pages.append(frame + [op if op[0] != "q" else ("q", op[1], op[2], op[3], None) for op in ops])
    return pages


def bare_pdf(plan: list[list[tuple]], url: str) -> bytes:
    """Draw ``plan`` with plain canvas calls; the QR code of ``url`` as qrcode's modules, one rectangle each run."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1, pageCompression=1, pdfVersion=(1, 4))
    draw = {"l": canvas.drawString, "c": canvas.drawCentredString, "r": canvas.drawRightString}
    for ops in plan:
        for op in ops:
            if op[0] == "t":
                _, font, size, grey, x, y, text, align = op
                canvas.setFont(font, size)
                canvas.setFillGray(grey)
                draw[align](x, y, text)
            elif op[0] == "l":
                canvas.setLineWidth(op[5])
                canvas.line(*op[1:5])
            elif op[0] == "f":
                canvas.setFillGray(op[5])
                canvas.rect(*op[1:5], stroke=0, fill=1)
            elif op[0] == "q":
                _, x, y, size, _ = op
                code = qrcode.QRCode(version=qr.qr_version(len(url)), mask_pattern=qr.MASK_PATTERN,
                                     error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
                code.add_data(qrcode.util.QRData(url.encode(), mode=qrcode.util.MODE_ALPHA_NUM, check_data=False))
                code.make(fit=False)
                matrix = code.modules
                module = size / len(matrix)
                canvas.setFillGray(0)
                path = canvas.beginPath()
                for row, start, length in qr.dark_runs(matrix):
                    path.rect(x + start * module, y + size - (row + 1) * module, length * module, module)
                canvas.drawPath(path, stroke=0, fill=1)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


# --- measuring ----------------------------------------------------------------------------------------------------

def _rates(fn, count: int) -> tuple[float, float]:
    """PDFs per second of CPU time of this process (what one core does, whatever else the machine runs) and per
    second of wall-clock time."""
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        fn()
    return count / (time.process_time() - cpu), count / (time.perf_counter() - wall)


def _median_us(fn, repeat: int) -> float:
    samples_us = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        fn()
        samples_us.append((time.perf_counter_ns() - start) / 1000)
    return round(statistics.median(samples_us), 1)


def run(args) -> dict:
    quick = getattr(args, "quick", False)
    document, key, key_id, payload, token = _document()
    keys = {key_id: key.public_key()}
    url = document.seal_url

    ours = pdf.render_certificate(document)  # registers the fonts: not timed
    plan = _bare_plan(document)
    bare = bare_pdf(plan, url)
    import pypdf

    ours_pages = [p.extract_text() for p in pypdf.PdfReader(io.BytesIO(ours)).pages]
    bare_pages = [p.extract_text() for p in pypdf.PdfReader(io.BytesIO(bare)).pages]
    assert len(ours_pages) == len(bare_pages) and all(
        sorted(a.split()) == sorted(b.split()) for a, b in zip(ours_pages, bare_pages)), "the two differ in content"

    rounds, per_round = (3, 10) if quick else (9, 30)
    ours_rates, bare_rates = [], []
    for _ in range(rounds):
        ours_rates.append(_rates(lambda: pdf.render_certificate(document), per_round))
        bare_rates.append(_rates(lambda: bare_pdf(plan, url), per_round))
    ours_rate, bare_rate = (statistics.median(r[0] for r in rates) for rates in (ours_rates, bare_rates))
    ours_wall, bare_wall = (statistics.median(r[1] for r in rates) for rates in (ours_rates, bare_rates))
    ratio = ours_rate / bare_rate

    repeat = 300 if quick else 3000
    figures = {
        "pdf_per_second": round(ours_rate, 1),
        "pdf_ms": round(1000 / ours_rate, 2),
        "bare_reportlab_per_second": round(bare_rate, 1),
        "bare_reportlab_ms": round(1000 / bare_rate, 2),
        "ratio_to_bare": round(ratio, 3),
        "pdf_per_second_wall_clock": round(ours_wall, 1),
        "bare_reportlab_per_second_wall_clock": round(bare_wall, 1),
        "pdf_pages": len(ours_pages),
        "pdf_bytes": len(ours),
        "layout_ms": round(_median_us(lambda: pdf._Layout(document).build(), 50 if quick else 200) / 1000, 2),
        "qr_matrix_ms": round(_median_us(lambda: qr.qr_matrix(url), 50 if quick else 200) / 1000, 2),
        "seal_sign_us": _median_us(lambda: seal.sign(payload, key, key_id), repeat),
        "seal_verify_us": _median_us(lambda: seal.verify(token, keys), repeat),
        "seal_verify_rejected_us": _median_us(lambda: _reject(token[:-1] + ("A" if token[-1] != "A" else "B"), keys),
                                              repeat),
        "token_chars": len(token),
        "url_chars": len(url),
        "qr_version": qr.qr_version(len(url)),
        "targets": {"pdf_per_second": TARGET_PER_SECOND, "ratio_to_bare": TARGET_RATIO},
    }
    figures["ok"] = ours_rate >= TARGET_PER_SECOND and ratio >= TARGET_RATIO
    for name, value in figures.items():
        print(f"  {name:<38} {value}")
    return figures


def _reject(token: str, keys) -> None:
    try:
        seal.verify(token, keys)
    except seal.InvalidSeal:
        return
    raise AssertionError("an altered token verified")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    run(parser.parse_args())
