"""The answer engine: a question in, an Answer with verbatim cited excerpts out."""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import numpy.typing as npt
from cachetools import LRUCache

from knowledge import collection, crosslingual, mpnet, retrieval
from knowledge.config import EngineConfig
from knowledge.embedding import Encoder
from knowledge.errors import KnowledgeError
from knowledge.features import Candidates, Query, candidates, with_second_view
from knowledge.focus import Focus, name_terms, split_focus
from knowledge.language import foreign_script
from knowledge.models import Answer, AnswerKind, Citation, Document, DocumentInfo
from knowledge.ranking import Ranking, lead, probabilities
from knowledge.spaces import SentenceSpace
from knowledge.spelling import SpellingCorrector
from knowledge.store import (
    MANIFEST,
    PassageIndex,
    build_key,
    check_folder,
    load_or_build,
    read_index,
)
from knowledge.subject import collection_subject
from knowledge.text import (
    clean_question,
    expected_answer,
    question_core,
    terms,
    with_question_mark,
)

log = logging.getLogger(__name__)

_QUERY_CACHE_SIZE = 4096

Generation = tuple[tuple[int, int, int] | None, ...]


class CollectionBusyError(KnowledgeError):
    """A change of the collection is being written; the engine keeps what it has."""


def generation(config: EngineConfig) -> Generation:
    """A cheap stamp of the collection and index on disk: it changes whenever a document is
    added or removed (each change replaces the index manifest and files in the folders)."""
    return tuple(
        _stamp(path)
        for path in (config.index_dir / MANIFEST, config.collection_dir, config.corpus_dir)
    )


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_ino, status.st_mtime_ns, status.st_size


class Engine:
    """Loaded once; `answer` and `answer_many` are safe to call from worker threads."""

    def __init__(
        self,
        config: EngineConfig,
        documents: list[Document],
        encoder: Encoder,
        index: PassageIndex,
        index_status: str,
        *,
        stamp: Generation = (),
        ranking: Ranking | None = None,
    ) -> None:
        self.config = config
        self.generation = stamp
        self.documents = documents
        self.encoder = encoder
        self.index = index
        self.index_status = index_status
        self.ranking = ranking if ranking is not None else Ranking.load()
        self.subject = collection_subject(documents)
        self._subject_terms = frozenset(terms(self.subject))
        self._by_id = {doc.doc_id: doc for doc in documents}
        self._names = name_terms(documents)
        self._speller = SpellingCorrector.for_documents(documents)
        self._vectors: LRUCache[str, npt.NDArray[np.float32]] = LRUCache(_QUERY_CACHE_SIZE)
        self._second_vectors: LRUCache[str, tuple[npt.NDArray[np.float32], ...]] = LRUCache(
            _QUERY_CACHE_SIZE
        )
        self._crosslingual = (
            crosslingual.CrossLingual(index, self._sentence_text, config.crosslingual_dir)
            if config.crosslingual and crosslingual.available()
            else None
        )
        self._second_spaces = self._second_stage_spaces()

    @classmethod
    def load(
        cls,
        config: EngineConfig,
        *,
        progress: bool = False,
        encoder: Encoder | None = None,
        force: bool = False,
        ranking: Ranking | None = None,
    ) -> Engine:
        """Load the collection and model, and the index from disk (built or brought up to
        date if needed). `ranking` stands for the shipped one (`ranking.json`)."""
        return cls._load(config, progress=progress, encoder=encoder, force=force, ranking=ranking)

    @classmethod
    def _load(
        cls,
        config: EngineConfig,
        *,
        progress: bool = False,
        encoder: Encoder | None = None,
        force: bool = False,
        refresh: bool = False,
        ranking: Ranking | None = None,
    ) -> Engine:
        """With `refresh`, only what is on disk as it is: CollectionBusyError while a change
        is being written, IndexCorruptError where the index would need work."""
        stamp = generation(config)
        check_folder(config.index_dir)  # before the model takes seconds to load
        encoder = encoder or Encoder(
            config.model, config.query_precision, cache_dir=config.model_cache_dir
        )
        with collection.reading(config.collection_dir, wait=not refresh) as free:
            if not free:
                raise CollectionBusyError("the collection is being changed")
            documents = collection.read_documents(
                config.corpus_dir, config.collection_dir, config.max_text_chars
            )
            key = build_key(config.model, config.max_passage_words)
            if refresh:
                index, status = read_index(config.index_dir, key, documents), "loaded"
            else:
                index, status = load_or_build(
                    config.index_dir,
                    key,
                    documents,
                    lambda: encoder,
                    progress=progress,
                    force=force,
                )
        log.log(
            logging.DEBUG if status == "loaded" else logging.INFO,
            "index %s: %d passages from %d documents",
            status,
            len(index.passages),
            len(documents),
        )
        return cls(config, documents, encoder, index, status, stamp=stamp, ranking=ranking)

    def reloaded(self, *, progress: bool = False) -> Engine:
        """A new engine over the collection as it is now on disk, sharing this one's model
        and ranking."""
        return Engine.load(
            self.config, progress=progress, encoder=self.encoder, ranking=self.ranking
        )

    def refreshed(self) -> Engine:
        """This engine, or a new one sharing its model when documents were added or removed
        since it was loaded: a few stat calls when nothing changed. It never embeds (that
        is for whoever changed the documents, or /reindex): while a change is being written,
        or if the index on disk does not match the documents, this engine goes on."""
        stamp = generation(self.config)
        if stamp == self.generation:
            return self
        try:
            return Engine._load(
                self.config, encoder=self.encoder, refresh=True, ranking=self.ranking
            )
        except CollectionBusyError:
            return self  # looked at again before the next batch
        except (KnowledgeError, FileNotFoundError) as exc:
            log.warning("documents changed on disk but not loaded (%s); /reindex loads them", exc)
            self.generation = stamp  # not tried again until something else changes
            return self

    def prepare_other_languages(self) -> None:
        """Make the sentence vectors that questions in other scripts, and the second stage,
        are matched against now, rather than when the first such question comes (`python -m
        bot index`)."""
        if self._crosslingual is not None:
            self._crosslingual.prepare()
        for space in self._second_spaces:
            space.prepare()

    def warm_second_stage(self, *, wait: bool = False, models: bool = True) -> None:
        """Load the second stage's models now (a few seconds; not without `models`), so that
        the first question that needs them does not wait for that. Vectors not yet in the
        cache are made in the background, and questions get the first stage alone meanwhile;
        with `wait`, they are made now unless there are many (as for other languages: see
        crosslingual.SYNC_LIMIT)."""
        try:
            for space in self._second_spaces:
                ready = space.ready(crosslingual.SYNC_LIMIT if wait else 0)
                if ready is not None and models:
                    space.embedder.query("warm-up")
        except (OSError, KnowledgeError) as exc:
            self._second_stage_failed(exc)

    def _second_stage_failed(self, exc: Exception) -> None:
        """A second stage that cannot work (its folder unwritable, say) is turned off, with
        one warning: the first stage answers on its own."""
        if self._second_spaces:
            log.warning("second stage off: %s (KNOWLEDGE_SECOND_STAGE_DIR)", exc)
        self._second_spaces = ()

    def _second_stage_spaces(self) -> tuple[SentenceSpace, ...]:
        """The e5 and mpnet spaces of the second stage; none when it is off or a model is
        missing."""
        config = self.config
        if not config.second_stage or self._crosslingual is None or not mpnet.available():
            return ()
        vectors = config.second_stage_dir / "vectors"
        embedder = mpnet.Mpnet(config.second_stage_dir)
        bigger = SentenceSpace(self.index, self._sentence_text, vectors, embedder, "mpnet")
        return (self._crosslingual.space, bigger)

    def answer(self, question: str) -> Answer:
        return self.answer_many([question])[0]

    def answer_many(self, questions: list[str], *, second_stage: bool = True) -> list[Answer]:
        """Answers in the same order; the encoder runs once for the whole batch (and not for
        questions in another script, which the model does not read). Without
        `second_stage`, questions the first ranking is unsure of are not ranked again (a
        busy server's way to keep up: see bot/serving)."""
        prepared = [self._prepare(q) for q in questions]
        languages = {text: foreign_script(text) for text, _ in prepared if text}
        queries = self._queries([text for text, language in languages.items() if not language])
        answers = []
        for question, (text, truncated) in zip(questions, prepared, strict=True):
            if not text:
                answers.append(Answer(question=question, kind=AnswerKind.EMPTY_QUESTION))
            elif language := languages[text]:
                answers.append(self._answer_across(question, text, language, truncated))
            else:
                answers.append(self._answer(question, queries[text], truncated, second_stage))
        return answers

    def searched_texts(self, questions: list[str]) -> list[str]:
        """Each question as it is searched: cleaned, spelling corrected, cut to what the
        model reads ("" for an empty one)."""
        return [self._prepare(q)[0] for q in questions]

    def candidates_many(self, questions: list[str]) -> list[Candidates]:
        """The candidates and signals the ranking sees, for fitting and inspecting it."""
        prepared = self.searched_texts(questions)
        queries = self._queries(prepared)
        return [candidates(self.index, queries[text]) for text in prepared]

    def second_views(self, questions: list[str], found: list[Candidates]) -> list[Candidates]:
        """The same candidates (from `candidates_many`) with the second stage's view of them
        too, its vectors made now if need be; for fitting the second stage."""
        if not self._second_spaces:
            raise KnowledgeError("the second stage is off, or its models are not installed")
        for space in self._second_spaces:
            space.prepare()
        texts = self.searched_texts(questions)
        return [
            f if (v := self._second_view(text, f)) is None else v
            for text, f in zip(texts, found, strict=True)
        ]

    def _second_view(self, text: str, found: Candidates) -> Candidates | None:
        """The candidates with the second stage's models' view of them; None when they are
        off or not installed, or their vectors are not in the cache yet (they are made in the
        background meanwhile: a question never waits for them; see warm_second_stage)."""
        if not self._second_spaces:
            return None
        spaces = [
            s for space in self._second_spaces if (s := space.ready(sync_limit=0)) is not None
        ]
        if len(spaces) < len(self._second_spaces):
            return None
        vectors = self._second_vectors.get(text)
        if vectors is None:
            try:
                vectors = _query_vectors(self._second_spaces, text)
            except (OSError, KnowledgeError) as exc:
                self._second_stage_failed(exc)
                return None
            self._second_vectors[text] = vectors
        return with_second_view(self.index, found, list(zip(vectors, spaces, strict=True)))

    def _prepare(self, question: str) -> tuple[str, bool]:
        text = with_question_mark(clean_question(question))
        if not text:
            return "", False
        return self.encoder.truncate(self._speller.correct(question_core(text, self._names)))

    def _queries(self, texts: list[str]) -> dict[str, Query]:
        """Each distinct question as searched: itself, with the collection's subject, and
        without the names it mentions (its focus); all encoded in one batch."""
        focuses = {text: split_focus(text, self._names) for text in texts if text}
        variants = {
            text: (text, self._with_subject(text), _focus_text(text, focus))
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
                names_text=" ".join(focuses[text].names),
                asks_only_names=focuses[text].asks_only_names,
                answer_type=expected_answer(text),
                unknown_names=self._speller.unknown_names(text),
            )
            for text, (plain, with_subject, focus_text) in variants.items()
        }

    def _with_subject(self, text: str) -> str:
        """The question about the collection's subject, when it names nothing the collection
        does not know: "who picks them?" is about the subject, "capital of Australia?" is not."""
        known, unknown = self.index.lexical.term_ids(text)
        if not self.subject or not known.size or unknown:
            return text
        return text if self._subject_terms <= set(terms(text)) else f"{text} {self.subject}"

    def _encode(self, texts: list[str]) -> dict[str, npt.NDArray[np.float32]]:
        """Each text's vector: the recent ones from the cache, the others encoded in one batch."""
        found = {text: vector for text in texts if (vector := self._vectors.get(text)) is not None}
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            for text, vector in zip(missing, self.encoder.encode_queries(missing), strict=True):
                found[text] = self._vectors[text] = vector
        return found

    def _answer(self, question: str, query: Query, truncated: bool, second_stage: bool) -> Answer:
        found = candidates(self.index, query)
        if found.passages.size == 0:
            return Answer(question=question, kind=AnswerKind.NOT_COVERED, truncated=truncated)
        stage = self.ranking
        order, logits = stage.rank(found)
        confidence = stage.confidence(found, order, logits)
        if (
            second_stage
            and stage.second is not None
            and stage.escalates(confidence, lead(logits, order))
        ):
            viewed = self._second_view(query.text, found)
            if viewed is not None:
                stage, found = stage.second, viewed
                order, logits = stage.rank(found)
                confidence = stage.confidence(found, order, logits)
        ranked = retrieval.hits(found, order, probabilities(logits))
        if not stage.answers(found, order, logits, confidence):
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

    def _answer_across(self, question: str, text: str, language: str, truncated: bool) -> Answer:
        """A question in another script, matched across languages where the multilingual
        model finds a close sentence; otherwise a note that the documents are in English,
        never "not covered": they may well cover it."""
        across = self._crosslingual
        found = across.search(text, self.config.max_citations) if across else None
        if not found:
            return Answer(
                question=question,
                kind=AnswerKind.OTHER_LANGUAGE,
                language=language,
                truncated=truncated,
            )
        hits = [retrieval.Hit(m.passage, m.sentence, m.score) for m in found]
        citations = tuple(c for hit in hits if (c := self._citation(hit)) is not None)
        return Answer(
            question=question,
            kind=AnswerKind.ANSWERED,
            citations=citations,
            language=language,
            truncated=truncated,
        )

    def _sentence_text(self, passage: int, sentence: int) -> str:
        start, end = self.index.sentence_span(passage, sentence)
        doc = self._by_id.get(self.index.passages[passage].doc_id)
        return doc.body[start:end] if doc else ""

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


# The second stage's models encode a question at once, one on each core (about 45 ms for
# mpnet, 20 ms for e5, on one thread each).
_SIDE = ThreadPoolExecutor(max_workers=1, thread_name_prefix="second-stage")


def _query_vectors(
    spaces: tuple[SentenceSpace, ...], text: str
) -> tuple[npt.NDArray[np.float32], ...]:
    """The question in each space: the first's in another thread, the rest in this one."""
    first, *rest = spaces
    pending = _SIDE.submit(first.embedder.query, text)
    others = [space.embedder.query(text) for space in rest]
    return (pending.result(), *others)


def _focus_text(text: str, focus: Focus) -> str:
    """What the question asks about the names it mentions; the whole question when it names
    nothing, or asks nothing beyond them ("What does FlexBot do?")."""
    return text if focus.asks_only_names or not focus.has_names else focus.residual
