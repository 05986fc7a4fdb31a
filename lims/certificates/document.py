"""What a certificate says: plain dataclasses that the issuing workflow fills and
:func:`lims.certificates.pdf.render_certificate` prints. Text only (numbers already formatted, see :mod:`lims.certificates.results`), so that the same document
always prints the same page.

The fields follow DOMAIN.md §6 (what Vietnamese verification certificates carry) and ISO/IEC 17025:2017 7.8.2–7.8.4
and 7.8.8 (what every report, and a calibration certificate in particular, must state).
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass


class DocumentKind(enum.Enum):
    VERIFICATION = "verification"      # giấy chứng nhận kiểm định: passed, with a stamp and a validity
    CALIBRATION = "calibration"        # giấy chứng nhận hiệu chuẩn: results with U and k, no legal verdict
    FAILURE_NOTICE = "failure_notice"  # thông báo kiểm định không đạt: no stamp, no validity


#: Titles (Vietnamese, English) by kind.
TITLES = {
    DocumentKind.VERIFICATION: ("GIẤY CHỨNG NHẬN KIỂM ĐỊNH", "VERIFICATION CERTIFICATE"),
    DocumentKind.CALIBRATION: ("GIẤY CHỨNG NHẬN HIỆU CHUẨN", "CALIBRATION CERTIFICATE"),
    DocumentKind.FAILURE_NOTICE: ("THÔNG BÁO KẾT QUẢ KIỂM ĐỊNH KHÔNG ĐẠT", "NOTICE OF FAILURE IN VERIFICATION"),
}

#: Conclusions of a verification (the wording of Vietnamese certificates).
PASSED_VI, PASSED_EN = "Đạt yêu cầu kỹ thuật đo lường", "Meets the metrological requirements"
FAILED_VI, FAILED_EN = "Không đạt yêu cầu kỹ thuật đo lường", "Does not meet the metrological requirements"

#: The meaning of an electronic signature (what the signer attests) → labels (Vietnamese, English).
SIGNATURE_ROLES = {
    "performed": ("Người thực hiện", "Performed by"),
    "reviewed": ("Người soát xét", "Reviewed by"),
    "approved": ("Thủ trưởng đơn vị", "Approved by"),
}


@dataclass(frozen=True)
class Centre:
    """The issuing laboratory (17025 7.8.2.1 b): name, address, and its designation / accreditation."""

    name: str
    address: str
    accreditation: str = ""  # e.g. "VILAS 123 — ISO/IEC 17025:2017"
    designation: str = ""    # e.g. "Quyết định chỉ định số 1234/QĐ-TĐC" (designated verification body)
    parent: str = ""         # the supervising authority printed above the name, e.g. "SỞ KHOA HỌC VÀ CÔNG NGHỆ …"
    phone: str = ""
    email: str = ""


@dataclass(frozen=True)
class Party:
    """The customer (owner of the instrument)."""

    name: str
    address: str = ""


@dataclass(frozen=True)
class Row:
    """A labelled value, e.g. a metrological characteristic: ``Row("Mức cân lớn nhất", "30 kg", "Max")``."""

    label_vi: str
    value: str
    label_en: str = ""


@dataclass(frozen=True)
class InstrumentInfo:
    """Identification of the item (17025 7.8.2.1 g)."""

    type_name_vi: str
    type_name_en: str = ""
    manufacturer: str = ""
    model: str = ""
    serial: str = ""
    year: str = ""
    pattern_approval: str = ""       # ký hiệu mẫu phê duyệt, when the type has one
    characteristics: tuple[Row, ...] = ()


@dataclass(frozen=True)
class MethodInfo:
    number: str       # "ĐLVN 14:2009"
    title: str = ""   # "Cân ô tô – Quy trình kiểm định"


@dataclass(frozen=True)
class Conditions:
    """Environmental conditions during the work, as decimal strings in the units of their names."""

    temperature_c: str | None = None
    humidity_pct: str | None = None
    pressure_hpa: str | None = None


@dataclass(frozen=True)
class StandardUsed:
    name: str
    identification: str = ""          # serial or the lab's code
    certificate_number: str = ""      # of its own calibration
    valid_until: dt.date | None = None


@dataclass(frozen=True)
class Column:
    label_vi: str
    label_en: str = ""
    unit: str = ""
    width: float = 1.0     # relative
    align: str = "right"   # "left" | "center" | "right"


@dataclass(frozen=True)
class ResultTable:
    title_vi: str
    title_en: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""

    def __post_init__(self):
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"{self.title_vi}: a row has {len(row)} cells for {len(self.columns)} columns")


@dataclass(frozen=True)
class UncertaintyStatement:
    """``quantity: value ± expanded_uncertainty, k = k`` (ILAC P14: U with at most two significant digits)."""

    quantity_vi: str
    quantity_en: str
    value: str             # "50,0020 g"
    expanded_uncertainty: str  # "1,2 mg"
    k: str                 # "2"
    coverage_pct: str = "95"


@dataclass(frozen=True)
class Signature:
    """An electronic signature: who, what it means (a key of SIGNATURE_ROLES), when (aware datetime)."""

    name: str
    role: str
    signed_at: dt.datetime
    title: str = ""        # job title printed under the role, e.g. "Giám đốc"

    def __post_init__(self):
        if self.role not in SIGNATURE_ROLES:
            raise ValueError(f"signature role {self.role!r}: one of {', '.join(SIGNATURE_ROLES)}")
        if self.signed_at.tzinfo is None:
            raise ValueError("signed_at: give an aware datetime")


@dataclass(frozen=True)
class Amendment:
    """17025 7.8.8: this document replaces another, for a stated reason."""

    replaces_number: str
    reason: str


@dataclass(frozen=True)
class CertificateDocument:
    kind: DocumentKind
    centre: Centre
    number: str
    issue_date: dt.date
    customer: Party
    instrument: InstrumentInfo
    method: MethodInfo
    revision: int = 0
    amendment: Amendment | None = None
    valid_until: dt.date | None = None
    stamp_number: str = ""
    place_of_work: str = ""
    receipt_date: dt.date | None = None
    work_start_date: dt.date | None = None
    work_end_date: dt.date | None = None
    conditions: Conditions | None = None
    standards: tuple[StandardUsed, ...] = ()
    traceability: str = ""
    results: tuple[ResultTable, ...] = ()
    uncertainties: tuple[UncertaintyStatement, ...] = ()
    #: Calibration only: a conformity statement (7.8.6) and the decision rule it applied; empty when none was asked.
    conformity: str = ""
    decision_rule: str = ""
    #: Failure notice: what failed, one line each (e.g. from results.failed_tests).
    failure_reasons: tuple[str, ...] = ()
    remarks: tuple[str, ...] = ()
    signatures: tuple[Signature, ...] = ()
    issue_place: str = ""
    #: The URL printed in the QR code (lims.certificates.seal.seal_url); no QR when empty.
    seal_url: str = ""
    #: Numbers the renderer formats itself (the conditions) use a decimal comma; pass the same setting to
    #: lims.certificates.results for the tables.
    decimal_comma: bool = True

    def __post_init__(self):
        if self.kind is DocumentKind.FAILURE_NOTICE and (self.stamp_number or self.valid_until):
            raise ValueError("a notice of failure carries no stamp and no validity")
        if self.kind is not DocumentKind.CALIBRATION and self.conformity:
            raise ValueError("conformity: only a calibration certificate carries a conformity statement")
        if self.amendment is not None and self.revision < 1:
            raise ValueError("an amendment is a revision ≥ 1")

    @property
    def title(self) -> tuple[str, str]:
        return TITLES[self.kind]

    @property
    def conclusion(self) -> tuple[str, str] | None:
        """The verdict line: passed for a certificate of verification, failed for a notice; ``None`` for a
        calibration (its conformity statement, if any, is ``conformity``)."""
        if self.kind is DocumentKind.VERIFICATION:
            return PASSED_VI, PASSED_EN
        if self.kind is DocumentKind.FAILURE_NOTICE:
            return FAILED_VI, FAILED_EN
        return None
