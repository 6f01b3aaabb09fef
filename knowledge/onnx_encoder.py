"""A sentence model run by ONNX Runtime: exported once from sentence-transformers, then used
without torch or transformers.

Importing torch and transformers costs a process about 10 s of CPU before it answers
anything. A model that is a transformer, mean pooling and normalisation (the bundled
MiniLM, tuned or not, and all-mpnet-base-v2 are) is exported to ONNX the first time a
process needs it, with its LoRA adapter merged in, into a cache folder keyed by the model's
fingerprint; every later process loads that file with onnxruntime and the `tokenizers`
library, and gets the same vectors (checked at export: cosine above 0.9999 to the library's).
BENCHMARKS.md has the speeds.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

# Part of every cache key: a change to how models are exported makes every export stale.
EXPORT_FORMAT = "onnx-2"
_OPSET = 17
_MODEL_FILE = "model.onnx"
# The weights beside the graph, not in it: onnxruntime then keeps one copy of them, not two
# (mpnet's process 397 MB against 711 MB, as fast: BENCHMARKS.md).
_WEIGHTS_FILE = "model.weights"
_TOKENIZER_FILE = "tokenizer.json"
_META_FILE = "encoder.json"
_PROBE = ["What do Little Giants get?", "A longer passage, with commas; and 2026's numbers: 42%."]
_AGREEMENT = 0.9999  # the exported model's vectors against the library's, at export

FloatArray = npt.NDArray[np.float32]
# The exports this process uses: a shared lock on each one's ".use" file, held for the
# process's life (and its forks'), so that no export of another version deletes it meanwhile.
_IN_USE: dict[Path, IO[str]] = {}


class ExportError(Exception):
    """The model could not be exported, or its export did not give the library's vectors."""


def exportable(folder: Path) -> bool:
    """Whether the sentence-transformers `folder` is a transformer, mean pooling and
    normalisation, with a fast tokenizer's file: what an export reproduces exactly."""
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        types = [module["type"].rsplit(".", 1)[-1] for module in modules]
        pooling = json.loads(
            (folder / modules[1]["path"] / "config.json").read_text(encoding="utf-8")
        )
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return False
    modes = {key: value for key, value in pooling.items() if key.startswith("pooling_mode_")}
    return (
        types == ["Transformer", "Pooling", "Normalize"]
        and modes.get("pooling_mode_mean_tokens") is True
        and not any(value for key, value in modes.items() if key != "pooling_mode_mean_tokens")
        and (folder / _TOKENIZER_FILE).is_file()
    )


def export_folder(fingerprint: str, cache_dir: Path) -> Path:
    """Where the export of the model `fingerprint` names is kept: its name and a key."""
    key = hashlib.sha256(f"{EXPORT_FORMAT}|{fingerprint}".encode()).hexdigest()[:20]
    return cache_dir / f"{Path(fingerprint.split('@', 1)[0]).name[-60:]}-{key}"


def exported(fingerprint: str, folder: Path, adapter: Path | None, cache_dir: Path) -> Path:
    """The folder of the model's export under `cache_dir`, exported now if it is not there
    yet (once per machine: processes that need it at the same time wait for the first),
    and kept from deletion while this process lives (`_remove_other_exports`).
    Raises OSError when the folder cannot be written, ExportError when the export fails."""
    target = export_folder(fingerprint, cache_dir)
    name, key = target.name.rsplit("-", 1)
    if target in _IN_USE:
        return target
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        use = (cache_dir / f".{key}.use").open("a")
    except OSError:
        if (target / _META_FILE).is_file():
            return target  # a cache this process cannot write, nor any other delete from
        raise
    fcntl.flock(use, fcntl.LOCK_SH)  # waits while another process deletes this export
    try:
        if not (target / _META_FILE).is_file():
            _export_once(fingerprint, folder, adapter, target)
        _remove_other_exports(cache_dir, name, target)
    except BaseException:
        use.close()
        raise
    _IN_USE[target] = use
    return target


def _export_once(fingerprint: str, folder: Path, adapter: Path | None, target: Path) -> None:
    """Export into `target` unless another process has, the export lock held meanwhile."""
    cache_dir, key = target.parent, target.name.rsplit("-", 1)[1]
    with (cache_dir / f".{key}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / _META_FILE).is_file():  # another process exported it meanwhile
            return
        logger.info("preparing model %s for ONNX Runtime (once; about 20 s)", fingerprint)
        scratch = Path(tempfile.mkdtemp(dir=cache_dir, prefix=".export-"))
        try:
            try:
                _export(folder, adapter, scratch)
            except (OSError, ImportError):
                raise
            except Exception as exc:  # the exporter raises many kinds
                raise ExportError(f"{type(exc).__name__}: {exc}") from exc
            for path in scratch.iterdir():  # mkdtemp's folder, and onnx's weights, are private
                path.chmod(0o644)
            scratch.chmod(0o755)
            os.replace(scratch, target)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def _remove_other_exports(cache_dir: Path, name: str, kept: Path) -> None:
    """Delete the exports of `name` made before `kept` (another adapter, another format):
    only folders this module wrote, and none a live process uses (`exported`): that one
    goes when a process first uses this model after its processes have ended."""
    export_of_name = re.compile(rf"{re.escape(name)}-([0-9a-f]{{20}})")
    made = (kept / _META_FILE).stat().st_mtime_ns
    for other in cache_dir.iterdir():
        match = export_of_name.fullmatch(other.name)
        if other == kept or match is None:
            continue
        try:
            if (other / _META_FILE).stat().st_mtime_ns > made:
                continue  # a newer version's: an older process does not delete it
        except FileNotFoundError:
            continue  # not an export, or being deleted
        try:
            use = (cache_dir / f".{match.group(1)}.use").open("a")
        except OSError:
            continue  # a cache this process may not change
        with use:
            try:
                fcntl.flock(use, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                logger.info("keeping the former export %s: a process uses it", other)
                continue
            logger.info("removing the former export %s", other)
            shutil.rmtree(other, ignore_errors=True)


def _export(folder: Path, adapter: Path | None, out: Path) -> None:
    """Write the model's ONNX graph, tokenizer and settings into `out`, and check that they
    give the library's vectors."""
    import torch  # noqa: PLC0415 - only to export
    from torch.jit._trace import TracerWarning  # noqa: PLC0415

    from knowledge.embedding import library_model  # noqa: PLC0415 - it imports this module

    model = library_model(str(folder), adapter, folder.name)
    transformer = model[0].auto_model.eval()
    tokenizer = model.tokenizer
    names = list(tokenizer.model_input_names)
    sample = tokenizer(_PROBE, padding=True, return_tensors="pt")

    class Graph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *inputs: Any) -> Any:
            return self.transformer(**dict(zip(names, inputs, strict=True))).last_hidden_state

    axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "tokens"]}
    # The exporter's notes on how it traced (the vectors are checked below). Filters for the
    # process, not catch_warnings: that one is undone by any other thread's.
    warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx")
    warnings.filterwarnings("ignore", category=TracerWarning)
    traced = out / "traced.onnx"
    torch.onnx.export(
        Graph(),
        tuple(sample[name] for name in names),
        str(traced),
        input_names=names,
        output_names=["tokens"],
        dynamic_axes=axes,
        opset_version=_OPSET,
        dynamo=False,
    )
    import onnx  # noqa: PLC0415 - only to export

    graph = onnx.load(str(traced))
    onnx.save_model(
        graph,
        str(out / _MODEL_FILE),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=_WEIGHTS_FILE,
        size_threshold=1024,
    )
    traced.unlink()
    (out / _TOKENIZER_FILE).write_text(tokenizer.backend_tokenizer.to_str(), encoding="utf-8")
    meta = {
        "inputs": names,
        "max_tokens": int(model.max_seq_length),
        "dimension": int(model.get_embedding_dimension() or 0),
        "lower_case": bool(getattr(model[0], "do_lower_case", False)),
        "pad_id": int(tokenizer.pad_token_id or 0),
        "pad_token": str(tokenizer.pad_token or ""),
    }
    (out / "encoder.tmp").write_text(json.dumps(meta), encoding="utf-8")
    os.replace(out / "encoder.tmp", out / _META_FILE)
    expected = model.encode(
        _PROBE, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )
    agreement = (OnnxEncoder(out).encode(_PROBE) * expected).sum(axis=1)
    if float(agreement.min()) < _AGREEMENT:
        raise ExportError(f"the export disagrees with the library (cosine {agreement})")


class OnnxEncoder:
    """Normalised float32 vectors from an exported model (see `exported`): a question on
    one thread, a long list in length-sorted batches over every core."""

    def __init__(self, folder: Path, cores: int = 1) -> None:
        import onnxruntime  # noqa: PLC0415 - loaded with a model, not with the package
        from tokenizers import Tokenizer  # noqa: PLC0415

        meta = json.loads((folder / _META_FILE).read_text(encoding="utf-8"))
        self._inputs: list[str] = meta["inputs"]
        self.max_tokens = int(meta["max_tokens"])
        self.dimension = int(meta["dimension"])
        self._lower_case = bool(meta["lower_case"])
        self._plain = Tokenizer.from_file(str(folder / _TOKENIZER_FILE))
        self._plain.no_padding()
        self._plain.no_truncation()
        self._tokenizer = Tokenizer.from_file(str(folder / _TOKENIZER_FILE))
        self._tokenizer.enable_truncation(self.max_tokens)
        self._tokenizer.enable_padding(pad_id=meta["pad_id"], pad_token=meta["pad_token"])
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # parallel batches instead (see `encode`)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(
            str(folder / _MODEL_FILE), options, providers=["CPUExecutionProvider"]
        )
        self._cores = max(1, cores)

    def encode(self, texts: list[str], batch_size: int = 32) -> FloatArray:
        """Vectors of `texts`, in their order; a list of more than one batch is split over
        the cores."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        order = np.argsort([-len(text) for text in texts], kind="stable")
        batches = [order[start : start + batch_size] for start in range(0, len(texts), batch_size)]

        def run(batch: npt.NDArray[np.intp]) -> None:
            out[batch] = self._embed([texts[i] for i in batch])

        if len(batches) == 1 or self._cores == 1:
            for batch in batches:
                run(batch)
        else:
            with ThreadPoolExecutor(min(self._cores, len(batches))) as pool:
                list(pool.map(run, batches))
        return out

    def _embed(self, texts: list[str]) -> FloatArray:
        texts = [text.strip() for text in texts]  # as sentence-transformers reads them
        if self._lower_case:
            texts = [text.lower() for text in texts]
        encodings = self._tokenizer.encode_batch(texts)
        mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)
        columns = {
            "input_ids": np.asarray([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": mask,
            "token_type_ids": np.asarray([e.type_ids for e in encodings], dtype=np.int64),
        }
        (tokens,) = self._session.run(None, {name: columns[name] for name in self._inputs})
        weights = mask[..., None].astype(np.float32)
        pooled = (tokens * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return np.asarray(pooled / norms, dtype=np.float32)

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Where each of `text`'s tokens (no special ones) ends and starts, untruncated."""
        return list(self._plain.encode(text, add_special_tokens=False).offsets)
