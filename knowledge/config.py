"""What the engine is built from: folders, model and limits; the bot's settings fill it in."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from knowledge.corpus import DEFAULT_CORPUS_DIR
from knowledge.embedding import TUNED_MODEL, Precision, default_model_cache_dir
from knowledge.passages import MAX_PASSAGE_WORDS

# Telegram lets bots download files of up to 20 MB; 2 million characters of text take a few
# minutes to embed on two cores.
MAX_FILE_BYTES = 20 * 2**20
MAX_TEXT_CHARS = 2_000_000


def default_index_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "little-giants-bot" / "index"


def default_crosslingual_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "little-giants-bot" / "crosslingual"


def default_second_stage_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "little-giants-bot" / "second-stage"


def default_collection_dir() -> Path:
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "little-giants-bot" / "collection"


class EngineConfig(BaseModel):
    """Where the documents and the index live, which model embeds them, and the limits."""

    model_config = ConfigDict(frozen=True)

    model: str = TUNED_MODEL
    corpus_dir: Path = DEFAULT_CORPUS_DIR
    collection_dir: Path = Field(default_factory=default_collection_dir)
    index_dir: Path = Field(default_factory=default_index_dir)
    max_passage_words: int = Field(default=MAX_PASSAGE_WORDS, ge=10, le=80)
    max_citations: int = Field(default=6, ge=1, le=10)
    query_precision: Precision = "auto"
    # The model exported for ONNX Runtime, once (knowledge/onnx_encoder.py).
    model_cache_dir: Path = Field(default_factory=default_model_cache_dir)
    max_file_bytes: int = Field(default=MAX_FILE_BYTES, ge=1)
    max_text_chars: int = Field(default=MAX_TEXT_CHARS, ge=1)
    # Questions in another script answered with a multilingual model (if installed), its
    # sentence vectors cached here.
    crosslingual: bool = True
    crosslingual_dir: Path = Field(default_factory=default_crosslingual_dir)
    # English questions the first ranking is unsure of are ranked again with that model's
    # and all-mpnet-base-v2's view too (knowledge/ranking.py), once their vectors are ready;
    # mpnet's unpacked folder and its vectors are kept here.
    second_stage: bool = True
    second_stage_dir: Path = Field(default_factory=default_second_stage_dir)
