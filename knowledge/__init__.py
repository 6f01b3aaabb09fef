"""The answer engine: curated documents, a hybrid passage index, cited answers.

It knows nothing of Telegram; `bot` adapts it to chats, through the names below only.
"""

from knowledge import collection
from knowledge.collection import Listing
from knowledge.config import EngineConfig, default_index_dir
from knowledge.embedding import Encoder, Precision, limit_threads
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
from knowledge.ingest import read_file
from knowledge.models import Answer, AnswerKind, Citation, Document, DocumentInfo
from knowledge.passages import split_document

__all__ = [
    "Answer",
    "AnswerKind",
    "Citation",
    "CorpusError",
    "Document",
    "DocumentInfo",
    "Encoder",
    "Engine",
    "EngineConfig",
    "EngineWorkerError",
    "FolderError",
    "IndexCorruptError",
    "IngestError",
    "KnowledgeError",
    "Listing",
    "ModelLoadError",
    "Precision",
    "collection",
    "default_index_dir",
    "follow_up",
    "is_elliptical",
    "limit_threads",
    "read_file",
    "split_document",
]
