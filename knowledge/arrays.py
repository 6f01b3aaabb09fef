"""numpy's .npy and .npz files, read from several threads at once.

numpy parses each array's header with `ast.literal_eval`, and on Python 3.11 two threads
building ASTs at once can fail with "SystemError: AST constructor recursion depth mismatch"
(CPython gh-106905): a /reindex that read the index while the engine thread read its
second-stage vectors once did. The engine's reads take turns here.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

_READING = threading.Lock()


def read_npy(path: Path) -> npt.NDArray[Any]:
    """The array in an .npy file (OSError, ValueError as numpy raises them)."""
    with _READING:
        return np.asarray(np.load(path, allow_pickle=False))


def read_npz(data: bytes) -> dict[str, npt.NDArray[Any]]:
    """Every array of an .npz file held in memory, by name."""
    with _READING, np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        return {name: arrays[name] for name in arrays.files}
