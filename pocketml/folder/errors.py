"""Errors caused by the user's input. The CLI prints their message and exits with status 2."""


class UserError(Exception):
    """Bad input: the message names the problem and how to fix it."""


class DataError(UserError):
    """A data file that cannot be read as the data it claims to be."""


class IntegrityError(UserError):
    """A file that does not match the manifest that lists it."""
