"""The engine's exceptions: one base class, one subclass per way things go wrong."""


class KnowledgeError(Exception):
    """Base class of every error the engine raises on purpose."""


class CorpusError(KnowledgeError):
    """A corpus file is missing, malformed or invalid; the message names file and field."""


class IndexCorruptError(KnowledgeError):
    """An index on disk does not match its manifest."""


class ModelLoadError(KnowledgeError):
    """The embedding model could not be loaded."""


class EngineWorkerError(KnowledgeError):
    """An engine worker process died, or none could be started."""


class FolderError(KnowledgeError):
    """A folder of the engine cannot be used; `setting` names the EngineConfig field."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(setting, message)
        self.setting = setting
        self.message = message

    def __str__(self) -> str:
        return self.message


class IngestError(KnowledgeError):
    """A file cannot be added to the collection; the message names the file and the reason."""
