"""The few domain errors. The CLI turns them into messages; nothing else catches them."""

from __future__ import annotations

import errno
import os
import re
import zipfile
import zlib

# What reading a truncated, bit-flipped or foreign file raises: the OS, numpy's zip reader,
# zlib, a short read, bad JSON or UTF-8. Loaders turn these into a message, never a traceback.
DAMAGED_FILE: tuple[type[Exception], ...] = (
    OSError,
    ValueError,
    KeyError,
    TypeError,
    EOFError,
    zipfile.BadZipFile,
    zlib.error,
)
# numpy's message for a write cut short (it gives no errno), and the errnos a failed write names.
_SHORT_WRITE = re.compile(r"\d+ requested and \d+ written")
_WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)


class AssistantError(Exception):
    """Base class: a problem the user can fix, with a message that says how."""


class CorpusError(AssistantError):
    """An article cannot be read (not text, unknown encoding, too large)."""


class IndexNotFound(AssistantError):
    """No index has been built in the index folder yet."""


class IndexCorrupt(AssistantError):
    """Index files are missing, truncated or inconsistent."""


class IndexMismatch(AssistantError):
    """The index was built by another model or other chunking settings."""


class ModelError(AssistantError):
    """The embedding model cannot be loaded or used."""


class QuestionError(AssistantError):
    """The question is empty or unusable."""


class IndexBusy(AssistantError):
    """Another update of the same index is running."""


class StoreUnavailable(AssistantError):
    """The passage store (a Milvus server or Lite file) cannot be reached or refused a request."""


class IndexWriteError(AssistantError):
    """The index (or corpus) folder cannot be written: disk full, read-only, no permission."""

    @classmethod
    def from_os_error(cls, exc: OSError, what: str) -> IndexWriteError:
        """A plain message for a failed write of ``what`` (named without absolute paths).

        numpy reports a write the full disk cut short with no errno ("N requested and M
        written"); that is a full disk too.
        """
        if exc.errno in (errno.ENOSPC, errno.EDQUOT) or (exc.errno is None and _SHORT_WRITE.search(str(exc))):
            return cls(f"disk full: {what} could not be written; free some space and try again")
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            why = "on a read-only file system" if exc.errno == errno.EROFS else "without write permission"
            return cls(f"{what} cannot be written: it is {why}")
        return cls(f"{what} could not be written ({exc.strerror or exc})")


def os_error_in(message: str) -> OSError:
    """The OSError a library's failed write names in its message (FAISS raises a RuntimeError
    ending ``(No space left on device)``), so it gets the same plain message; EIO if none."""
    code = next((c for c in _WRITE_ERRNOS if os.strerror(c) in message), errno.EIO)
    return OSError(code, os.strerror(code))
