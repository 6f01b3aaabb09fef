"""The engine answers with verbatim citations, abstains off-topic, and never raises on odd input."""

from __future__ import annotations

import pytest

from knowledge import Answer, AnswerKind, DocumentInfo, Engine
from knowledge.features import CANDIDATE_FEATURES

# (question, a string that some citation must contain)
IN_SCOPE = [
    ("How many small giants did China plan to identify in 2021?", "3,000"),
    ("When was the small giants list introduced?", "introduced in 2019"),
    ("How much of China's GDP did SMEs contribute in 2018?", "more than 60%"),
    ("How many little giants does China want to have by 2025?", "10,000"),
    ("What does Kofon Motion Group produce?", "peeling crayfish"),
    ("Which lighting company's system lit the national stadium at the Olympics?", "Landsky"),
    ("Why do many SMEs end up depending on state subsidies?", "state subsidies"),
    ("What does Keanda Electronic Technology Corp. make?", "rail systems"),
    ("onoff electric - what do they make?", "wind power converters"),  # the topic, then the ask
    # British spelling; the collection writes "program"
    ("which ministry runs the programme?", "Ministry of Industry and Information Technology"),
    ("what does landsky make", "lighting systems"),  # a question without its question mark
    ("who is francoise huang", "Allianz Trade"),  # typed without the collection's accent
    # Asking only what a named firm or person is, in chat's words
    ("kofon motion group wat do they do", "peeling crayfish"),
    ("keanda whats the deal", "rail systems"),
    ("hami crrc?", "Hami CRRC"),
    ("landsky whats their deal exactly", "lighting systems"),
    ("what does landsky even do", "lighting systems"),
    ("tankeblue wat do they make exactly", "TankeBlue"),
    ("francoise huang whos that", "Allianz Trade"),
]

# Written for these tests: nothing in the five articles is about any of them.
OUT_OF_SCOPE = [
    "How do I make a fluffy omelette?",
    "How long should I boil an egg for a runny yolk?",
    "Who won the 2018 FIFA World Cup final?",
    "How many players are on a basketball team?",
    "How do I reverse a linked list in Python?",
    "What does a segmentation fault mean in C?",
    "Will it rain in London tomorrow?",
    "What causes a rainbow after a storm?",
    "What is the capital of Australia?",
    "How do I fix a flat bicycle tyre?",
    "Recommend a good science fiction novel.",
    # Words the articles use ("provinces", "patents", "GDP"), about what they never name.
    "How many provinces does Canada have?",
    "How many patents does IBM file each year?",
    "What is the GDP of Germany?",
    # Firms the articles describe, asked what the articles never say
    "How many employees does Landsky have?",
    "When was Kofon Motion Group founded?",
    "who's the ceo of flexbot",
]

ODD_INPUTS = {
    "emoji only": "🤔🤔🚀",
    "emoji sequence": "👩‍👩‍👧‍👦 🏳️‍🌈",
    "chinese": "小巨人是什么？",
    "arabic": "ما هي الشركات العملاقة الصغيرة في الصين؟",
    "hebrew": "מה הם הענקים הקטנים בסין?",
    "mixed rtl": "What is \u202ethe little giants\u202c programme?",
    "control characters": "\x07\x1b[31mWhat is a little giant?\x1b[0m\x08\x7f",
    "zero-width inside": "What\u200b is a little\u200d giant\ufeff?",
    "zero-width joiner only": "\u200d\u200d",
    "nul inside": "What is\x00 a little giant?",
    "nul only": "\x00\x00\x00",
    "lone surrogate": "\ud800 little giants \udfff",
    "private use": "\ue000\uf8ff little giants",
    "combining marks": "Z\u0351\u0364a\u0353l\u0356g\u036do little giants",
    "one huge word": "x" * 10_000,
    "punctuation only": "?!?!...;;;",
    "html": "<script>alert('little giants')</script>",
    "newlines": "What is\n\na little\r\ngiant?",
}

EMPTY = ["", " ", "\t\n  \r\n", "\u3000\u00a0", "\u200b\u200c\ufeff", "\u2028\u2029"]


def _check_citations(engine: Engine, answer: Answer) -> None:
    by_id = {doc.doc_id: doc for doc in engine.documents}
    assert len(answer.citations) <= engine.config.max_citations
    spans = [(c.doc_id, c.start, c.end) for c in answer.citations]
    assert len(set(spans)) == len(spans), "the same passage is cited twice"
    for citation in answer.citations:
        doc = by_id[citation.doc_id]
        assert doc.body[citation.start : citation.end] == citation.text
        assert citation.text.strip() == citation.text and citation.text
        first, last = citation.highlight
        assert 0 <= first < last <= len(citation.text)
        highlight = citation.text[first:last]
        assert highlight == highlight.strip()
        assert highlight[-1] in ".!?”\"’')]:;,—–" or last == len(citation.text), highlight
        assert (citation.title, citation.publisher, citation.published, citation.url) == (
            doc.title,
            doc.publisher,
            doc.published,
            doc.url,
        )
        assert isinstance(citation.score, float)
    scores = [c.score for c in answer.citations]
    assert not scores or scores[0] == max(scores), "the best passage comes first"


@pytest.mark.parametrize(("question", "expected"), IN_SCOPE, ids=[q for q, _ in IN_SCOPE])
def test_in_scope_question_is_answered_with_verbatim_citations(
    engine: Engine, question: str, expected: str
) -> None:
    answer = engine.answer(question)
    assert answer.kind is AnswerKind.ANSWERED, [d.doc_id for d in answer.closest]
    assert not answer.abstained
    assert answer.question == question
    assert answer.citations
    assert answer.closest == ()
    assert not answer.truncated
    _check_citations(engine, answer)
    assert any(expected in c.text for c in answer.citations), [c.text for c in answer.citations]


@pytest.mark.parametrize("question", OUT_OF_SCOPE)
def test_out_of_scope_question_abstains(engine: Engine, question: str) -> None:
    answer = engine.answer(question)
    cited = [c.text[:60] for c in answer.citations]
    assert answer.kind is AnswerKind.NOT_COVERED, cited
    assert answer.abstained
    assert answer.citations == ()
    known = {doc.doc_id for doc in engine.documents}
    assert 1 <= len(answer.closest) <= 2
    for doc in answer.closest:
        assert type(doc) is DocumentInfo  # named as a document, never quoted
        assert doc.doc_id in known
    assert len({doc.doc_id for doc in answer.closest}) == len(answer.closest)


@pytest.mark.parametrize("question", EMPTY, ids=repr)
def test_empty_question(engine: Engine, question: str) -> None:
    answer = engine.answer(question)
    assert answer.kind is AnswerKind.EMPTY_QUESTION
    assert answer.abstained
    assert answer.citations == () and answer.closest == ()
    assert answer.question == question


@pytest.mark.parametrize("question", ODD_INPUTS.values(), ids=ODD_INPUTS.keys())
def test_odd_input_gets_an_answer(engine: Engine, question: str) -> None:
    answer = engine.answer(question)
    assert isinstance(answer, Answer)
    assert answer.question == question
    assert answer.kind in set(AnswerKind)
    if answer.kind is AnswerKind.ANSWERED:
        _check_citations(engine, answer)
    else:
        assert answer.citations == ()


def test_zero_width_joiner_only_is_an_empty_question(engine: Engine) -> None:
    """Invisible characters alone are no question, whichever invisible characters they are."""
    assert engine.answer("\u200d").kind is AnswerKind.EMPTY_QUESTION
    assert engine.answer(" \u200d\u200b ").kind is AnswerKind.EMPTY_QUESTION


def test_long_question_is_truncated_not_refused(engine: Engine) -> None:
    sentence = "How many small giants did China plan to identify in 2021? "
    question = (sentence * (10_000 // len(sentence) + 1))[:10_000]
    assert len(question) == 10_000
    answer = engine.answer(question)
    assert answer.truncated
    assert answer.question == question
    assert answer.kind in {AnswerKind.ANSWERED, AnswerKind.NOT_COVERED}
    _check_citations(engine, answer)

    words = " ".join(f"word{i}" for i in range(2000))[:10_000]
    off_topic = engine.answer(words)
    assert off_topic.truncated
    assert off_topic.kind in {AnswerKind.ANSWERED, AnswerKind.NOT_COVERED}


def test_short_question_is_not_truncated(engine: Engine) -> None:
    assert not engine.answer("What is a little giant?").truncated
    assert not engine.answer("How do I make a fluffy omelette?").truncated


def _essence(answer: Answer) -> tuple[object, ...]:
    return (
        answer.question,
        answer.kind,
        answer.truncated,
        [(c.doc_id, c.start, c.end, c.highlight) for c in answer.citations],
        [d.doc_id for d in answer.closest],
    )


@pytest.mark.parametrize(
    ("question", "language"),
    [("今天天气怎么样？", "zh"), ("Какая сегодня погода в Москве?", "ru")],
)
def test_a_question_in_another_script_is_never_told_not_covered(
    engine: Engine, question: str, language: str
) -> None:
    answer = engine.answer(question)
    assert answer.kind is AnswerKind.OTHER_LANGUAGE
    assert answer.language == language
    assert not answer.citations


def test_answer_many_keeps_order_and_matches_single_answers(engine: Engine) -> None:
    questions = [
        IN_SCOPE[0][0],
        "",
        OUT_OF_SCOPE[0],
        IN_SCOPE[4][0],
        "   ",
        IN_SCOPE[0][0],
        "小巨人是什么？",
        OUT_OF_SCOPE[4],
        IN_SCOPE[2][0],
    ]
    fresh = engine.reloaded()  # an empty query cache: single answers encode on their own
    assert fresh.index_status == "loaded"
    batch = fresh.answer_many(questions)
    assert [a.question for a in batch] == questions
    singles = [engine.reloaded().answer(q) for q in questions]
    assert [_essence(a) for a in batch] == [_essence(a) for a in singles]
    for a, b in zip(batch, singles, strict=True):
        # in bfloat16 (where the CPU has it) a batch and a single text encode a little apart
        assert [c.score for c in a.citations] == pytest.approx(
            [c.score for c in b.citations], abs=1e-2
        )
    assert batch[0] == batch[5]
    assert engine.answer_many([]) == []


def test_answers_are_deterministic(engine: Engine) -> None:
    question = IN_SCOPE[3][0]
    assert engine.answer(question) == engine.answer(question)


@pytest.mark.parametrize(
    ("question", "name"),
    [
        ("landsky whats their thing", "Landsky"),
        ("What does Keanda make?", "Keanda"),  # a name that only ever opens sentences
        ("When was Landsky founded?", None),  # it asks more than what Landsky is
        ("What does the World Trade Organization do?", None),  # no passage holds that name
    ],
)
def test_a_question_about_a_name_alone_marks_the_passages_that_hold_it(
    engine: Engine, question: str, name: str | None
) -> None:
    """`about_names` is 1 for exactly the candidates that hold the name asked about, when
    the question asks nothing else."""
    column = CANDIDATE_FEATURES.index("about_names")
    found = engine.candidates_many([question])[0]
    marked = [bool(value) for value in found.features[:, column]]
    if name is None:
        assert not any(marked)
    else:
        holds = [name in engine.index.passages[p].text for p in found.passages]
        assert marked == holds and any(marked)
