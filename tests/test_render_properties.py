"""Property: whatever the question and the excerpts, `answer_messages` writes messages that
Telegram accepts: valid HTML (strictly checked), never empty, within 4096 characters and
4096 UTF-16 code units."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.render.telegram import MAX_LENGTH, SHOWN_CITATIONS, answer_messages, utf16_length
from knowledge import Answer, AnswerKind, Citation, DocumentInfo
from tests.support.telegram_html import check_message

# Characters HTML cares about, astral ones (two UTF-16 units), combining and zero-width
# ones, right-to-left text and white space, mixed into arbitrary text.
_SPICE = st.sampled_from(
    ["&", "<", ">", '"', "'", "&amp;", "<b>", "</a>", "😀", "𝕏", "\u0301", "\u200d", "\u202e",
     "ש", "ع", "\n", " ", "\t", "\r", "\x00"]
)  # fmt: skip
_SHORT = st.text(max_size=120) | st.lists(_SPICE, max_size=40).map("".join)
# Long texts too, past one message, built by repetition so that generating them is cheap.
_LONG = st.builds(
    lambda part, times: part * times, st.text(min_size=1, max_size=12), st.integers(1, 900)
)
TEXT = _SHORT | _LONG
# Any URL an excerpt may carry; a document's URL needs a host, as DocumentInfo demands.
URL = st.none() | st.from_regex(r"https?://\S+", fullmatch=True).filter(lambda u: len(u) <= 300)
DOCUMENT_URL = st.none() | st.from_regex(r"https?://[^\s/?#]+\S*", fullmatch=True).filter(
    lambda u: len(u) <= 300
)
DATE = st.none() | st.builds(
    lambda day, size: day.isoformat()[:size],
    st.dates(dt.date(1900, 1, 1)),
    st.sampled_from([4, 7, 10]),
)
NAME = st.text(min_size=1, max_size=200) | st.lists(_SPICE, min_size=1, max_size=30).map("".join)


@st.composite
def citations(draw: st.DrawFn) -> Citation:
    text = draw(TEXT)
    start = draw(st.integers(0, len(text)))
    end = draw(st.integers(start, len(text)))
    return Citation(
        doc_id="doc",
        title=draw(NAME),
        publisher=draw(NAME),
        published=draw(DATE),
        url=draw(URL),
        text=text,
        highlight=(start, end),
        start=0,
        end=len(text),
        score=draw(st.floats(0, 1)),
    )


DOCUMENTS = st.builds(
    DocumentInfo,
    doc_id=st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}", fullmatch=True),
    title=NAME.filter(str.strip),
    publisher=NAME.filter(str.strip),
    published=DATE,
    url=DOCUMENT_URL,
)
ANSWERED = st.builds(
    Answer,
    question=TEXT,
    kind=st.just(AnswerKind.ANSWERED),
    citations=st.lists(citations(), min_size=1, max_size=6).map(tuple),
    truncated=st.booleans(),
)
NOT_COVERED = st.builds(
    Answer,
    question=TEXT,
    kind=st.just(AnswerKind.NOT_COVERED),
    closest=st.lists(DOCUMENTS, max_size=2).map(tuple),
    truncated=st.booleans(),
)


def _check(rendered: list[str]) -> None:
    assert rendered, "no message at all"
    for html in rendered:
        check_message(html)  # valid, non-empty, at most 4096 characters
        assert utf16_length(html) <= MAX_LENGTH


@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(answer=ANSWERED | NOT_COVERED)
@example(
    answer=Answer(
        question="😀" * 5000,
        kind=AnswerKind.ANSWERED,
        citations=(
            Citation(
                doc_id="doc", title="<T&>", publisher="P", published=None,
                url='https://example.org/?a=1&b="2"', text="&<>" * 3000, highlight=(1, 8000),
                start=0, end=9000, score=0.5,
            ),
        ),
    )
)  # fmt: skip
def test_answer_messages_are_always_valid_telegram_html(answer: Answer) -> None:
    _check(answer_messages(answer))
    if len(answer.citations) > SHOWN_CITATIONS:  # the "More sources" page
        _check(answer_messages(answer, first=SHOWN_CITATIONS, with_question=False))


@pytest.mark.parametrize("url", ["http:///", "http://#", "http://?", "https:// x", "ftp://a"])
def test_a_document_url_needs_a_host(url: str) -> None:
    with pytest.raises(ValueError, match="url"):
        DocumentInfo(doc_id="d", title="T", publisher="P", url=url)


def _citation(text: str, title: str = "Title", url: str | None = None) -> Citation:
    return Citation(
        doc_id="doc", title=title, publisher="Publisher", published=None, url=url, text=text,
        highlight=(0, min(len(text), 40)), start=0, end=len(text), score=0.5,
    )  # fmt: skip


@pytest.mark.parametrize(
    "citation",
    [
        pytest.param(_citation("A sentence." + " " * 9000 + "Another."), id="whitespace-run"),
        pytest.param(_citation("A sentence.", title="Long title " * 500), id="long-title"),
        pytest.param(_citation("A sentence.", url="https://#top"), id="url-without-host"),
    ],
)
def test_edge_case_excerpts_still_render(citation: Citation) -> None:
    """Corners the generator seldom reaches: an excerpt split into several messages where
    one piece would be blank, a source line longer than a message, a URL with no host."""
    _check(answer_messages(Answer(question="q", kind=AnswerKind.ANSWERED, citations=(citation,))))
