"""Certificates: numbering, issue, PDF, QR seal, revision and revocation."""
