"""QR codes of seal URLs: the smallest version at level M, a fixed mask, and they scan."""

import random

import pytest
import qrcode
import zxingcpp
from PIL import Image

from lims.certificates import qr

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def _image(matrix, scale=4, border=4):
    n = len(matrix)
    image = Image.new("L", ((n + 2 * border) * scale,) * 2, 255)
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                image.paste(0, ((c + border) * scale, (r + border) * scale, (c + border + 1) * scale,
                                (r + border + 1) * scale))
    return image


@pytest.mark.parametrize("length, version", [(1, 1), (20, 1), (21, 2), (262, 9), (263, 10), (311, 10), (312, 11)])
def test_qr_version_is_the_smallest_that_holds_the_url_at_level_m(length, version):
    # ISO/IEC 18004 Table 7, alphanumeric capacity at level M: version 9 holds 262 characters, version 10 311.
    assert qr.qr_version(length) == version


def test_qr_matrix_uses_the_fixed_mask_and_scans():
    rng = random.Random(20260305)
    for _ in range(12):
        url = "HTTPS://KIEMDINH.EXAMPLE.VN/V/" + "".join(rng.choice(ALPHABET) for _ in range(rng.randint(150, 230)))
        matrix = qr.qr_matrix(url)
        assert len(matrix) == 17 + 4 * qr.qr_version(len(url))
        decoded = zxingcpp.read_barcodes(_image(matrix))
        assert [(d.text, d.format) for d in decoded] == [(url, zxingcpp.BarcodeFormat.QRCode)]
        assert decoded[0].content_type == zxingcpp.ContentType.Text
        # The same modules as qrcode's own code of that version and mask.
        reference = qrcode.QRCode(version=qr.qr_version(len(url)), mask_pattern=qr.MASK_PATTERN,
                                  error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
        reference.add_data(qrcode.util.QRData(url.encode(), mode=qrcode.util.MODE_ALPHA_NUM))
        reference.make(fit=False)
        assert matrix == reference.modules


def test_a_url_outside_the_alphanumeric_set_falls_back_to_byte_mode():
    url = "https://kiemdinh.example.vn/v/abc"
    assert qr.qr_mode(url) == qrcode.util.MODE_8BIT_BYTE
    assert zxingcpp.read_barcodes(_image(qr.qr_matrix(url)))[0].text == url


def test_dark_runs_cover_exactly_the_dark_modules():
    matrix = qr.qr_matrix("HTTPS://X.VN/V/ABC")
    covered = {(r, c) for r, start, length in qr.dark_runs(matrix) for c in range(start, start + length)}
    assert covered == {(r, c) for r, row in enumerate(matrix) for c, dark in enumerate(row) if dark}
