"""The answer engine: a question in, an Answer with verbatim cited excerpts out."""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from knowledge import retrieval
from knowledge.corpus import DEFAULT_CORPUS_DIR, load_corpus
from knowledge.embedding import BUNDLED_MODEL, Encoder, Precision
from knowledge.features import Candidates, Query, candidates
from knowledge.focus import name_terms, split_focus
from knowledge.language import foreign_script
from knowledge.models import Answer, AnswerKind, Citation, Document, DocumentInfo
from knowledge.passages import MAX_PASSAGE_WORDS
from knowledge.ranking import Ranking
from knowledge.spelling import SpellingCorrector
from knowledge.store import PassageIndex, build_key, load_or_build
from knowledge.subject import collection_subject
from knowledge.text import clean_question, expected_answer

log = logging.getLogger(__name__)

_QUERY_CACHE_SIZE = 4096


def default_index_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "little-giants-bot" / "index"


class EngineConfig(BaseModel):
    """What the engine is built from; the bot's settings fill it in."""

    model_config = ConfigDict(frozen=True)

    model: str = BUNDLED_MODEL
    corpus_dir: Path = DEFAULT_CORPUS_DIR
    index_dir: Path = Field(default_factory=default_index_dir)
    max_passage_words: int = Field(default=MAX_PASSAGE_WORDS, ge=10, le=80)
    max_citations: int = Field(default=6, ge=1, le=10)
    query_precision: Precision = "auto"


class Engine:
    """Loaded once; `answer` and `answer_many` are safe to call from worker threads."""

    def __init__(
        self,
        config: EngineConfig,
        documents: list[Document],
        encoder: Encoder,
        index: PassageIndex,
        index_status: str,
    ) -> None:
        self.config = config
        self.documents = documents
        self.encoder = encoder
        self.index = index
        self.index_status = index_status
        self.ranking = Ranking.load()
        self.subject = collection_subject(documents)
        self._by_id = {doc.doc_id: doc for doc in documents}
        self._names = name_terms(documents)
        self._speller = SpellingCorrector([f"{doc.title}\n{doc.body}" for doc in documents])
        self._vectors: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()

    @classmethod
    def load(
        cls, config: EngineConfig, *, progress: bool = False, encoder: Encoder | None = None
    ) -> Engine:
        """Load the corpus and model, and the index from disk (built or rebuilt if needed)."""
        documents = load_corpus(config.corpus_dir)
        encoder = encoder or Encoder(config.model, config.query_precision)
        key = build_key(documents, config.model, config.max_passage_words)
        index, status = load_or_build(config.index_dir, key, documents, encoder, progress)
        log.log(
            logging.DEBUG if status == "loaded" else logging.INFO,
            "index %s: %d passages from %d documents",
            status,
            len(index.passages),
            len(documents),
        )
        return cls(config, documents, encoder, index, status)

    def reloaded(self, *, progress: bool = False) -> Engine:
        """A new engine over the corpus as it is now on disk, sharing this one's model."""
        return Engine.load(self.config, progress=progress, encoder=self.encoder)

    def answer(self, question: str) -> Answer:
        return self.answer_many([question])[0]

    def answer_many(self, questions: list[str]) -> list[Answer]:
        """Answers in the same order; the encoder runs once for the whole batch."""
        prepared = [self._prepare(q) for q in questions]
        queries = self._queries([text for text, _ in prepared])
        return [
            self._answer(question, queries[text], truncated)
            if text
            else Answer(question=question, kind=AnswerKind.EMPTY_QUESTION)
            for question, (text, truncated) in zip(questions, prepared, strict=True)
        ]

    def candidates_many(self, questions: list[str]) -> list[Candidates]:
        """The candidates and signals the ranking sees, for fitting and inspecting it."""
        prepared = [self._prepare(q)[0] for q in questions]
        queries = self._queries(prepared)
        return [candidates(self.index, queries[text]) for text in prepared]

    def _prepare(self, question: str) -> tuple[str, bool]:
        text = clean_question(question)
        if not text:
            return "", False
        return self.encoder.truncate(self._speller.correct(text))

    def _queries(self, texts: list[str]) -> dict[str, Query]:
        """Each distinct question as searched: itself, with the collection's subject, and
        without the names it mentions (its focus); all encoded in one batch."""
        focuses = {text: split_focus(text, self._names) for text in texts if text}
        variants = {
            text: (text, self._with_subject(text), focus.residual or text)
            for text, focus in focuses.items()
        }
        vectors = self._encode([v for group in variants.values() for v in group])
        return {
            text: Query(
                text=text,
                vector=vectors[plain],
                subject_vector=vectors[with_subject],
                focus_vector=vectors[focus_text],
                focus_text=focus_text,
                has_names=focuses[text].has_names,
                answer_type=expected_answer(text),
            )
            for text, (plain, with_subject, focus_text) in variants.items()
        }

    def _with_subject(self, text: str) -> str:
        """The question about the collection's subject, when it names nothing the collection
        does not know: "who picks them?" is about the subject, "capital of Australia?" is not."""
        known, unknown = self.index.lexical.term_ids(text)
        return f"{text} {self.subject}" if self.subject and known.size and not unknown else text

    def _encode(self, texts: list[str]) -> dict[str, npt.NDArray[np.float32]]:
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            for text, vector in zip(missing, self.encoder.encode_queries(missing), strict=True):
                self._vectors[text] = vector
        found = {text: self._vectors[text] for text in texts}
        for text in found:
            self._vectors.move_to_end(text)
        while len(self._vectors) > _QUERY_CACHE_SIZE:
            self._vectors.popitem(last=False)
        return found

    def _answer(self, question: str, query: Query, truncated: bool) -> Answer:
        language = foreign_script(query.text)
        if language is not None:  # the model reads English: never claim "not covered"
            return Answer(question=question, kind=AnswerKind.OTHER_LANGUAGE, language=language)
        found = candidates(self.index, query)
        if found.passages.size == 0:
            return Answer(question=question, kind=AnswerKind.NOT_COVERED, truncated=truncated)
        order, scores = self.ranking.rank(found)
        ranked = retrieval.hits(found, order, scores)
        if self.ranking.confidence(found, order) < self.ranking.threshold:
            return Answer(
                question=question,
                kind=AnswerKind.NOT_COVERED,
                closest=self._closest(ranked),
                truncated=truncated,
            )
        chosen = retrieval.select(self.index, ranked, self.config.max_citations)
        citations = tuple(c for hit in chosen if (c := self._citation(hit)) is not None)
        return Answer(
            question=question, kind=AnswerKind.ANSWERED, citations=citations, truncated=truncated
        )

    def _citation(self, hit: retrieval.Hit) -> Citation | None:
        passage = self.index.passages[hit.passage]
        doc = self._by_id.get(passage.doc_id)
        start, end = self.index.sentence_span(hit.passage, hit.sentence)
        if doc is None or doc.body[passage.start : passage.end] != passage.text:
            log.error("passage %d is not verbatim text of %s; dropped", hit.passage, passage.doc_id)
            return None
        return Citation(
            **doc.info.model_dump(exclude={"language"}),
            text=passage.text,
            highlight=(start - passage.start, end - passage.start),
            start=passage.start,
            end=passage.end,
            score=round(hit.score, 4),
        )

    def _closest(self, hits: list[retrieval.Hit], limit: int = 2) -> tuple[DocumentInfo, ...]:
        doc_ids = dict.fromkeys(self.index.passages[h.passage].doc_id for h in hits)
        return tuple(self._by_id[d].info for d in list(doc_ids)[:limit] if d in self._by_id)
