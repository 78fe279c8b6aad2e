"""The user-error type every layer raises: bad input a user can fix (a protocol, a file, a missing library). The
command line prints its message as one line and exits with status 2, without a traceback."""


class UserError(Exception):
    """Bad input: the message names the file or option, the key and what was expected."""
