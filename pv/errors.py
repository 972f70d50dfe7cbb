"""The one error type users see.

Every expected failure (bad input file, missing stage output, bad option) raises
``PvError`` with a one-line message that names the file and the reason. The command line
prints it as ``pvmon: error: <message>`` and exits non-zero, never with a traceback.
"""


class PvError(Exception):
    """An expected, user-facing failure with a one-line message."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(" ".join(str(message).split()))
        self.exit_code = exit_code
