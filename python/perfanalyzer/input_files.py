"""Reading the files a flag names (--input-data, --request-intervals): a
device such as /dev/zero never ends and a pipe may not either, so devices
are refused and anything but a regular file is read only up to a bound."""

from __future__ import annotations

import os
import stat

from perfanalyzer.errors import OptionError
from perfanalyzer.limits import human_bytes

# A pipe (e.g. bash's <(...)) has no size to check up front: read at most this much.
MAX_STREAM_BYTES = 1 << 30


def check_readable(flag: str, path: str, directory_ok: bool = False) -> None:
    """Refuses, before any work, a path that is not a file we can read to its end."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise OptionError(f"{flag} {path}: cannot read the file: {e.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        if directory_ok:
            return
        raise OptionError(f"{flag} {path}: is a directory, not a file")
    if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        raise OptionError(f"{flag} {path}: is a device, not a data file")
    if stat.S_ISSOCK(st.st_mode):
        raise OptionError(f"{flag} {path}: is a socket, not a data file")


def read_bytes(flag: str, path: str, limit: int = MAX_STREAM_BYTES) -> bytes:
    """The whole content of a regular file, or of a pipe up to `limit` bytes."""
    check_readable(flag, path)
    try:
        with open(path, "rb") as fh:
            if stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                return fh.read()
            data = fh.read(limit + 1)
    except OSError as e:
        raise OptionError(f"{flag} {path}: cannot read the file: {e.strerror}") from None
    if len(data) > limit:
        raise OptionError(f"{flag} {path}: more than {human_bytes(limit)} came from this stream; "
                          "give a regular file")
    return data
