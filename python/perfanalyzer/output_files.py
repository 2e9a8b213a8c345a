"""The one way results reach a file (-f, --profile-export-file,
--html-report, the composing-model CSVs, `perfanalyzer report`).

A regular file is replaced atomically (a temporary file beside it, then a
rename), so a reader never sees half a CSV. A symbolic link is written
through: its target is the file replaced, the link stays. A FIFO, a terminal,
/dev/stdout or any other device is opened and written as it is: renaming a
file over it would destroy the node and never deliver the results."""

from __future__ import annotations

import os
import stat
import tempfile

from perfanalyzer.errors import OptionError


def _kind(path: str) -> os.stat_result | None:
    """What `path` names once links are followed; None when nothing is there yet."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


def _probe_directory(flag: str, path: str, directory: str) -> None:
    """Creates and removes a temporary file where the results will go: the
    only test that also covers read-only mounts, ACLs and quotas."""
    if not os.path.isdir(directory):
        raise OptionError(f"{flag} {path}: directory {directory} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".perfanalyzer-", dir=directory)
    except OSError as e:
        raise OptionError(f"{flag} {path}: cannot write in directory {directory}: {e.strerror}") from None
    os.close(fd)
    os.unlink(tmp)


def check(flag: str, path: str, must_not_exist: bool = False) -> None:
    """Refuses, before any load, an output path the results could not be
    written to. must_not_exist: an existing regular file is an error
    (the export, as perf_analyzer does) rather than replaced."""
    try:
        st = _kind(path)
    except OSError as e:
        raise OptionError(f"{flag} {path}: {e.strerror}") from None
    if st is None:
        _probe_directory(flag, path, os.path.dirname(os.path.realpath(path)))
        return
    if stat.S_ISDIR(st.st_mode):
        raise OptionError(f"{flag} {path}: is a directory")
    if stat.S_ISREG(st.st_mode):
        if must_not_exist:
            raise OptionError(f"{flag} {path}: the file already exists")
        _probe_directory(flag, path, os.path.dirname(os.path.realpath(path)))
        return
    # FIFO, terminal, device: written in place; it must accept writes.
    if not os.access(path, os.W_OK):
        raise OptionError(f"{flag} {path}: not writable")


def write_text(path: str, text: str) -> None:
    """Writes `text` to `path` as the module docstring says; OSError on failure."""
    st = _kind(path)
    if st is not None and not stat.S_ISREG(st.st_mode):
        # Opened by its given name: /dev/stdout resolves to an unopenable "pipe:[n]".
        with open(path, "w") as fh:
            fh.write(text)
        return
    target = os.path.realpath(path)  # through any symbolic link
    fd, tmp = tempfile.mkstemp(prefix=".perfanalyzer-", dir=os.path.dirname(target))
    try:
        if st is not None:
            mode = stat.S_IMODE(st.st_mode)  # a replaced file keeps its permissions
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask  # mkstemp makes the file private (0600); give it the mode open() would
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
