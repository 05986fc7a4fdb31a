"""Models of the standards register (being written)."""
