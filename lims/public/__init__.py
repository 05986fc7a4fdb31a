"""Public pages: the seal check and the published keys (no login)."""
