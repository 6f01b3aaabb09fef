"""Load and validate the curated documents of `knowledge/corpus/`."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import yaml
from pydantic import ValidationError

from knowledge.errors import CorpusError
from knowledge.models import Document

DEFAULT_CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
_FENCE = "---"


def load_corpus(directory: Path = DEFAULT_CORPUS_DIR) -> list[Document]:
    """Every `*.md` document of `directory`, sorted by id; raise CorpusError on any bad one."""
    if not directory.is_dir():
        raise CorpusError(f"{directory}: corpus directory not found")
    documents = [load_document(path) for path in sorted(directory.glob("*.md"))]
    if not documents:
        raise CorpusError(f"{directory}: no *.md documents")
    return documents


def load_document(path: Path) -> Document:
    """Parse one file: YAML front matter between `---` fences, then the body."""
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{path}: cannot read: {exc}") from exc
    lines = raw.split("\n")
    if not lines or lines[0].strip() != _FENCE:
        raise CorpusError(f"{path}: front matter missing (the file must start with '---')")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == _FENCE)
    except StopIteration:
        raise CorpusError(f"{path}: front matter not closed with '---'") from None
    try:
        meta = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as exc:
        raise CorpusError(f"{path}: front matter is not valid YAML: {exc}") from exc
    if not isinstance(meta, dict):
        raise CorpusError(f"{path}: front matter must be a mapping of fields")
    body = "\n".join(lines[end + 1 :]).strip()
    meta = {k: v.isoformat() if isinstance(v, date) else v for k, v in meta.items()}
    try:
        return Document(doc_id=path.stem, body=body, **meta)
    except ValidationError as exc:
        raise CorpusError(f"{path}: {_first_problem(exc)}") from exc
    except TypeError as exc:
        raise CorpusError(f"{path}: {exc}") from exc


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"]) or "document"
    return f"field '{field}': {error['msg']}"
