"""Pydantic models at the engine's boundaries: documents, passages, answers."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

DOC_ID_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
PARTIAL_DATE_PATTERN = r"^\d{4}(-\d{2}(-\d{2})?)?$"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DocumentInfo(_Frozen):
    """What a reader needs to know about where an excerpt comes from."""

    doc_id: str = Field(pattern=DOC_ID_PATTERN)
    title: str = Field(min_length=1)
    publisher: str = Field(min_length=1)
    published: str | None = Field(default=None, pattern=PARTIAL_DATE_PATTERN)
    url: str | None = Field(default=None, pattern=r"^https?://[^\s/?#]+\S*$")
    language: str = Field(default="en", pattern=r"^[a-z]{2}$")

    @field_validator("published")
    @classmethod
    def _real_date(cls, value: str | None) -> str | None:
        """A year, a year and month, or a full date, and a real one."""
        if value is not None:
            year, month, day = ([*map(int, value.split("-")), 1, 1])[:3]
            date(year, month, day)  # raises ValueError for month 13, day 45
        return value


class Document(DocumentInfo):
    """A curated document: its metadata, its article body, and the file it was added from."""

    body: str = Field(min_length=1)
    source: str | None = None

    @property
    def info(self) -> DocumentInfo:
        return DocumentInfo(**self.model_dump(exclude={"body", "source"}))


class Passage(_Frozen):
    """A few consecutive sentences of one document, with exact offsets."""

    doc_id: str
    start: int = Field(ge=0)
    end: int
    sentences: tuple[tuple[int, int], ...]
    text: str


class AnswerKind(StrEnum):
    ANSWERED = "answered"
    NOT_COVERED = "not_covered"
    OTHER_LANGUAGE = "other_language"  # declined: asked in a language the documents are not in
    EMPTY_QUESTION = "empty_question"


class Citation(_Frozen):
    """One verbatim excerpt; `highlight` is the answering sentence's span in `text`."""

    doc_id: str
    title: str
    publisher: str
    published: str | None
    url: str | None
    text: str
    highlight: tuple[int, int]
    start: int
    end: int
    score: float


class Answer(_Frozen):
    """The engine's reply to one question."""

    question: str
    kind: AnswerKind
    citations: tuple[Citation, ...] = ()
    closest: tuple[DocumentInfo, ...] = ()
    truncated: bool = False
    language: str | None = None  # of a question in another script ("zh", "ru"), if any

    @property
    def abstained(self) -> bool:
        return self.kind is not AnswerKind.ANSWERED
