"""The answer engine: curated documents, a hybrid passage index, cited answers.

It knows nothing of Telegram; `bot` adapts it to chats.
"""

from knowledge.config import EngineConfig
from knowledge.engine import Engine
from knowledge.errors import (
    CorpusError,
    EngineWorkerError,
    FolderError,
    IndexCorruptError,
    IngestError,
    KnowledgeError,
    ModelLoadError,
)
from knowledge.followup import follow_up, is_elliptical
from knowledge.models import Answer, AnswerKind, Citation, Document, DocumentInfo

__all__ = [
    "Answer",
    "AnswerKind",
    "Citation",
    "CorpusError",
    "Document",
    "DocumentInfo",
    "Engine",
    "EngineConfig",
    "EngineWorkerError",
    "FolderError",
    "IndexCorruptError",
    "IngestError",
    "KnowledgeError",
    "ModelLoadError",
    "follow_up",
    "is_elliptical",
]
