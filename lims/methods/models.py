"""Models of the methods register (being written)."""
