"""``lims certificate list --json``, ``lims certificate pdf NUMBER -o FILE``, ``lims certificate revoke NUMBER
--reason TEXT`` (DESIGN.md §6)."""

import hashlib
import json

import pytest

from lims.certificates.models import Certificate


@pytest.mark.parametrize("command", [["certificate"], ["certificate", "list"], ["certificate", "pdf"],
                                     ["certificate", "revoke"]])
def test_every_certificate_command_has_help(runner, command):
    result = runner.invoke(args=[*command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


def test_list_json_gives_every_certificate_with_its_live_status(runner, ready_lab):
    lab = ready_lab
    first = lab.issue(lab.verification())
    notice = lab.issue(lab.verification(failing=True))
    result = runner.invoke(args=["certificate", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [row["number"] for row in rows] == [first.number, notice.number]
    assert rows[0]["kind"] == "verification" and rows[0]["live_status"] == "valid"
    assert rows[0]["valid_until"] == "2027-03-03" and rows[0]["stamp_number"] == "GL-26 0000001"
    assert rows[0]["pdf_sha256"] == first.pdf_sha256 and rows[0]["seal_url"] == first.seal_url
    assert rows[1]["kind"] == "failure_notice" and rows[1]["valid_until"] is None
    only = json.loads(runner.invoke(args=["certificate", "list", "--json", "--kind", "failure_notice"]).output)
    assert [row["number"] for row in only] == [notice.number]
    plain = runner.invoke(args=["certificate", "list"])
    assert first.number in plain.output


def test_pdf_writes_the_issued_file(runner, ready_lab, tmp_path):
    lab = ready_lab
    certificate = lab.issue(lab.verification())
    target = tmp_path / "out.pdf"
    result = runner.invoke(args=["certificate", "pdf", certificate.number, "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert hashlib.sha256(target.read_bytes()).hexdigest() == certificate.pdf_sha256
    reprint = tmp_path / "again.pdf"
    result = runner.invoke(args=["certificate", "pdf", certificate.number, "-o", str(reprint), "--reprint"])
    assert result.exit_code == 0
    assert reprint.read_bytes() == target.read_bytes()
    missing = runner.invoke(args=["certificate", "pdf", "KĐ-2026-999999", "-o", str(tmp_path / "x.pdf")])
    assert missing.exit_code == 1 and "no certificate numbered" in missing.output


def test_revoke_records_the_reason(runner, ready_lab):
    lab = ready_lab
    certificate = lab.issue(lab.verification())
    result = runner.invoke(args=["certificate", "revoke", certificate.number, "--reason", "Cấp nhầm"])
    assert result.exit_code == 0, result.output
    assert f"Revoked {certificate.number}" in result.output
    lab.session.expire_all()
    row = lab.session.get(Certificate, certificate.id)
    assert row.status == "revoked" and row.revocation_reason == "Cấp nhầm"
    again = runner.invoke(args=["certificate", "revoke", certificate.number, "--reason", "Lần nữa"])
    assert again.exit_code == 1 and "bị thu hồi" in again.output
    assert runner.invoke(args=["certificate", "revoke", certificate.number]).exit_code == 2  # --reason is required
