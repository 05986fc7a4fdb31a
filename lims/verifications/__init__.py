"""Verification and calibration records: readings, results, review, approval, signatures (17025 7.5–7.8)."""
