"""Models of the personnel register (being written)."""
