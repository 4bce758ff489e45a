"""The few domain errors. The CLI turns them into messages; nothing else catches them."""

from __future__ import annotations


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
