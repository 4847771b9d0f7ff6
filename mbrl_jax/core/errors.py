"""Named exceptions shared by every algorithm.

Every exception the library raises on purpose derives from `MbrlJaxError` (and from the builtin
it refines, e.g. `ValueError`, so existing handlers keep working): `except MbrlJaxError` catches
them all and nothing else. The subclasses, by where they are raised:

    core        ConfigError (models: ModelConfigError), InputError, BufferShapeError,
                UnknownActivationError
    envs        UnknownEnvError, NotTabularError, BraxNotInstalledError
    driver      MetricsShapeError, NonFiniteError, CheckpointMismatchError, RunError
                (RunSetupError: refused before it starts)
    cli         CLIError
"""


class MbrlJaxError(Exception):
    """The base of every exception mbrl-jax raises on purpose."""


class ConfigError(MbrlJaxError, ValueError):
    """A config value is invalid. Raised before any tracing; the message says what to change.

    Attributes:
      field: the offending config field, e.g. "epsilon".
    """

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


class InputError(MbrlJaxError, ValueError):
    """An argument of a public function has the wrong shape or contents (a 4-dim observation for
    a model built with obs_dim=3, an action index out of range, an empty or non-finite dataset).

    Attributes:
      argument: the offending argument, e.g. "obs" or "dataset.action".
    """

    def __init__(self, argument: str, message: str):
        super().__init__(f"{argument}: {message}")
        self.argument = argument
