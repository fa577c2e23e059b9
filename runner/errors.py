"""The one exception type for bad user input, and the one line for a folder clr-lab cannot write.

Raised with a single line that names the key, the value and what is allowed; the entry point prints it as
`error: <message>` and exits 2, without a traceback (set HYDRA_FULL_ERROR=1 to get one).
"""


class ConfigError(ValueError):
    """A config value that clr-lab refuses; the message is one line: key, value, what is allowed."""


def filesystem_line(e: BaseException, where: str | None = None) -> str | None:
    """One line for a folder or file clr-lab cannot write (read-only, full disk, a file where a folder should be),
    naming `where` (the key and value the user gave) or else the path, and the OS's reason; None for other errors."""
    import errno

    if not isinstance(e, OSError):
        return None
    unwritable = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EEXIST, errno.ENOTDIR}
    if e.errno not in unwritable:
        return None
    path = where or (e.filename if e.filename is not None else "?")
    return f"{path}: cannot write the run's files there ({e.strerror or type(e).__name__}); choose another folder"
