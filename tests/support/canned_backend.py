"""An answer backend without a model, for bot tests where retrieval is not the point."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.serving.backends import Reloaded
from knowledge import Answer, AnswerKind, Citation, Document, Listing, collection
from knowledge.corpus import DEFAULT_CORPUS_DIR
from knowledge.passages import MAX_PASSAGE_WORDS


class CannedBackend:
    """Implements `bot.serving.backends.AnswerBackend`: a question that mentions a topic (any case)
    is answered with one excerpt from each of that topic's documents; any other question is
    declined, naming the first document as the closest."""

    capacity = 1

    def __init__(self, topics: Mapping[str, Sequence[str]]) -> None:
        self._topics = {topic.casefold(): list(doc_ids) for topic, doc_ids in topics.items()}
        doc_ids = dict.fromkeys(doc_id for ids in topics.values() for doc_id in ids)
        self._documents = [
            Document(
                doc_id=doc_id,
                title=f"All about {doc_id}",
                publisher="Test Press",
                published="2024-05",
                body=f"The {doc_id} document.",
            )
            for doc_id in doc_ids
        ]

    @property
    def documents(self) -> list[Document]:
        return self._documents

    def answer(self, question: str) -> Answer:
        if not question.strip():
            return Answer(question=question, kind=AnswerKind.EMPTY_QUESTION)
        for topic, doc_ids in self._topics.items():
            if topic in question.casefold():
                citations = tuple(
                    _citation(doc) for doc in self._documents if doc.doc_id in doc_ids
                )
                return Answer(question=question, kind=AnswerKind.ANSWERED, citations=citations)
        closest = (self._documents[0].info,)
        return Answer(question=question, kind=AnswerKind.NOT_COVERED, closest=closest)

    async def start(self) -> None:
        return None

    async def answer_many(self, questions: list[str]) -> list[Answer]:
        return [self.answer(question) for question in questions]

    async def reload(self) -> Reloaded:
        return Reloaded(documents=len(self._documents), passages=0, status="loaded")

    async def add(self, documents: list[Document]) -> list[Listing]:
        added = {doc.doc_id for doc in documents}
        self._documents = [d for d in self._documents if d.doc_id not in added] + documents
        return self._listings()

    async def remove(self, doc_ids: list[str]) -> list[Listing]:
        self._documents = [d for d in self._documents if d.doc_id not in doc_ids]
        return self._listings()

    def _listings(self) -> list[Listing]:
        return collection.listing(self._documents, DEFAULT_CORPUS_DIR, MAX_PASSAGE_WORDS)

    async def close(self) -> None:
        return None


def _citation(doc: Document) -> Citation:
    return Citation(
        doc_id=doc.doc_id,
        title=doc.title,
        publisher=doc.publisher,
        published=doc.published,
        url=None,
        text=doc.body,
        highlight=(0, len(doc.body)),
        start=0,
        end=len(doc.body),
        score=0.9,
    )
