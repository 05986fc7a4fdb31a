"""QR codes of seal URLs: error correction M, the smallest version that fits, a fixed mask.

``qrcode`` spends ~7 ms per code choosing the mask with the lowest penalty; a fixed mask costs ~1 ms (DESIGN.md §8).
Every mask is valid (ISO/IEC 18004 7.8: the decoder reads the mask from the format information); mask 2 had the
lowest mean penalty score over random seal URLs, and the tests read the codes back with zxing-cpp.
"""

from __future__ import annotations

import functools
import re

import qrcode
import qrcode.util
from qrcode.main import QRCode

MASK_PATTERN = 2
ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_M
_ALPHANUMERIC = re.compile(r"[0-9A-Z $%*+\-./:]*")


def qr_mode(text: str) -> int:
    """Alphanumeric mode when ``text`` allows it (an upper-cased seal URL does), else byte mode."""
    return qrcode.util.MODE_ALPHA_NUM if _ALPHANUMERIC.fullmatch(text) else qrcode.util.MODE_8BIT_BYTE


@functools.lru_cache(maxsize=256)
def qr_version(length: int, mode: int = qrcode.util.MODE_ALPHA_NUM) -> int:
    """The smallest version that holds ``length`` characters in ``mode`` at error correction M (computed once per
    length: in a single-segment code the bit count depends on nothing else)."""
    code = QRCode(error_correction=ERROR_CORRECTION)
    sample = b"A" * length if mode == qrcode.util.MODE_ALPHA_NUM else b"a" * length
    code.add_data(qrcode.util.QRData(sample, mode=mode, check_data=False))
    return code.best_fit()


def qr_matrix(text: str) -> list[list[bool]]:
    """The modules of the QR code of ``text`` (``True`` = dark), without the quiet zone, row by row from the top."""
    mode = qr_mode(text)
    data = text.encode("utf-8")  # alphanumeric text is ASCII: one byte per character
    code = QRCode(version=qr_version(len(data), mode), error_correction=ERROR_CORRECTION,
                  mask_pattern=MASK_PATTERN, border=0)
    code.add_data(qrcode.util.QRData(data, mode=mode, check_data=False))
    code.make(fit=False)
    return code.modules


def dark_runs(matrix: list[list[bool]]) -> list[tuple[int, int, int]]:
    """Horizontal runs of dark modules as ``(row, first column, length)``: one rectangle each when drawing, ~4× fewer
    than one per module and no hairline seams between neighbours."""
    runs = []
    for row_index, row in enumerate(matrix):
        start = None
        for column, dark in enumerate(row):
            if dark and start is None:
                start = column
            elif not dark and start is not None:
                runs.append((row_index, start, column - start))
                start = None
        if start is not None:
            runs.append((row_index, start, len(row) - start))
    return runs
