"""The one exception type for bad user input.

Raised with a single line that names the key, the value and what is allowed; the entry point prints it as
`error: <message>` and exits 2, without a traceback (set HYDRA_FULL_ERROR=1 to get one).
"""


class ConfigError(ValueError):
    """A config value that clr-lab refuses; the message is one line: key, value, what is allowed."""
