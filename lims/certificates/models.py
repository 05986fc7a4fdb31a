"""Certificate models."""
