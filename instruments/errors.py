"""The engine's errors. Both are ``ValueError``; the message starts with the path of the bad field."""


class MetrologyError(ValueError):
    """Base of the engine's input errors."""

    @property
    def field(self) -> str:
        """The path of the offending field, e.g. ``weighing[2].indication``."""
        return str(self).split(":", 1)[0]


class SpecError(MetrologyError):
    """The instrument's characteristics (its spec) are missing, malformed or inconsistent."""


class ReadingsError(MetrologyError):
    """The readings are missing, malformed or outside what the method allows."""
