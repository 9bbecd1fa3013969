"""Errors a person can act on. The CLI prints them as one line, without a traceback."""


class CounterwatchError(Exception):
    """Base for user-facing errors; the message names the file, camera or field."""


class ConfigError(CounterwatchError):
    pass


class ModelNotFoundError(CounterwatchError):
    pass


class SourceError(CounterwatchError):
    pass


class OutputError(CounterwatchError):
    pass
