"""Named exceptions shared by every algorithm."""


class ConfigError(ValueError):
    """A config value is invalid. Raised before any tracing; the message says what to change.

    Attributes:
      field: the offending config field, e.g. "epsilon".
    """

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
