"""Certificates: numbering, issue, PDF, QR seal, revision and revocation.

The seal and the PDF are here; the issuing workflow (numbering, the Certificate model, revision and revocation)
builds on them:

- ``keys.current_signer(session, key_file)`` → ``(key_id, private_key)``; ``keys.public_keys(session)``;
- ``seal.record_digest(record)``, ``seal.sign(SealPayload(...), private_key, key_id)`` → token,
  ``seal.seal_url(public_url, token)``, ``seal.verify(token, public_keys)`` → ``SealPayload`` or ``InvalidSeal``;
- ``document.CertificateDocument(...)`` filled with ``results.result_tables(result_dict)`` …, then
  ``pdf.render_certificate(doc)`` → PDF bytes (deterministic).
"""
