"""Models of the facilities register (being written)."""
