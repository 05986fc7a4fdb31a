"""Errors shared by the features' services (no Flask here: services must not import it)."""


class FieldError(ValueError):
    """A service refused its input; ``field`` names the argument (and so the form field) at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
