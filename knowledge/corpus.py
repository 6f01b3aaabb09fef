"""Load and validate the curated documents of `knowledge/corpus/`."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from knowledge.errors import CorpusError
from knowledge.models import Document

DEFAULT_CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
_FENCE = "---"


class _DatesAsText(yaml.SafeLoader):
    """The safe loader, but `2024-05-01` stays text, so the model checks it and names
    the field (the stock loader raises a bare ValueError for `2024-13-45`)."""


_DatesAsText.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


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
        raw = path.read_text(encoding="utf-8-sig")  # a byte-order mark is not text
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
        meta = yaml.load("\n".join(lines[1:end]), Loader=_DatesAsText) or {}  # noqa: S506
    except yaml.YAMLError as exc:
        raise CorpusError(f"{path}: front matter is not valid YAML: {_one_line(exc)}") from exc
    if not isinstance(meta, dict):
        raise CorpusError(f"{path}: front matter must be a mapping of fields")
    body = "\n".join(lines[end + 1 :]).strip()
    meta = {k: _scalar_text(k, v) for k, v in meta.items()}
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


def _scalar_text(key: object, value: object) -> object:
    """YAML reads `published: 2024` as a number: a year, which the model takes as text."""
    if key == "published" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())
