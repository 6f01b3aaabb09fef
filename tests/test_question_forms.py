"""How a question is read before it is searched: the chat around it, misspellings, the
collection's subject, and other scripts. Plain functions on the real corpus; no model."""

from __future__ import annotations

import pytest

from knowledge import Document, spelling
from knowledge.corpus import load_corpus
from knowledge.focus import name_terms, split_focus
from knowledge.language import foreign_script
from knowledge.sources import publisher_names
from knowledge.spelling import SpellingCorrector
from knowledge.subject import collection_subject
from knowledge.text import question_core, terms, with_question_mark
from tests.support.data import CORPUS_DIR


@pytest.fixture(scope="module")
def documents() -> list[Document]:
    return load_corpus(CORPUS_DIR)


@pytest.fixture(scope="module")
def speller(documents: list[Document]) -> SpellingCorrector:
    return SpellingCorrector.for_documents(documents)


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("what does landsky make", "what does landsky make?"),
        ("Did VC money dry up or what", "Did VC money dry up or what?"),
        ("What does FlexBot make?", "What does FlexBot make?"),
        ("Tell me about the subsidies.", "Tell me about the subsidies."),
        ("little giants subsidies", "little giants subsidies"),  # it does not ask: as typed
        ("", ""),
    ],
)
def test_a_message_that_asks_is_read_with_its_question_mark(typed: str, read: str) -> None:
    assert with_question_mark(typed) == read


@pytest.mark.parametrize(
    ("typed", "core"),
    [
        ("Quick question: What does FlexBot do? Thanks!", "What does FlexBot do?"),
        ("I'm writing a report. Who runs the list? Please be brief.", "Who runs the list?"),
        ("Please help - which firms supply Goldwind", "which firms supply Goldwind"),
        ("What does FlexBot do? (asking for work)", "What does FlexBot do?"),
        ("Mr. Huang said what about SMEs?", "Mr. Huang said what about SMEs?"),
        ("keanda where r they based", "keanda where r they based"),
        ("Thanks!", "Thanks!"),
    ],
)
def test_the_chat_around_a_question_is_not_searched(typed: str, core: str) -> None:
    assert question_core(typed) == core


@pytest.mark.parametrize(
    ("typed", "core"),
    [
        ("onoff electric - what do they make pls", "onoff electric what do they make pls"),
        ("Hami CRRC: where are they based?", "Hami CRRC where are they based?"),
        ("Quick question: what does FlexBot do?", "what does FlexBot do?"),
        ("I'm new here. Who runs the list?", "Who runs the list?"),
    ],
)
def test_a_topic_named_before_the_question_is_kept(
    documents: list[Document], typed: str, core: str
) -> None:
    """A clause that names something the collection knows says what the question is about;
    one that names nothing it knows is chat."""
    assert question_core(typed, name_terms(documents)) == core


def test_a_name_that_only_opens_sentences_is_still_a_name(documents: list[Document]) -> None:
    """A name may open every sentence it is in ("Keanda"); an opening word English knows
    ("Moreover") is no name."""
    names = name_terms(documents)
    assert "keanda" in names
    assert not {"moreov", "meanwhil", "today"} & names


@pytest.mark.parametrize(
    ("question", "only_names"),
    [
        ("What does FlexBot do?", True),
        ("merics?", True),
        ("landsky whats their thing", True),
        ("keanda wat do they actually make", True),
        ("francoise huang who's she", True),
        ("flexbot makes what exactly", True),
        ("How many employees does Keanda have?", False),
        ("When was Landsky founded?", False),
        ("what kind of engine parts does kofon make exactly, car or marine", False),
        ("what do they actually make", False),  # names nothing
    ],
)
def test_a_question_that_asks_only_about_a_name_is_told_apart(
    documents: list[Document], question: str, only_names: bool
) -> None:
    """Light verbs and chat filler ask nothing of their own; any other word is a focus."""
    assert split_focus(question, name_terms(documents)).asks_only_names is only_names


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("litle giants patnets", "little giants patents"),
        ("goverment subsidys", "government subsidy"),
        ("the trade war statred", "the trade war started"),
        ("suply chians", "supply chains"),
    ],
)
def test_misspelt_words_are_corrected_against_the_collection(
    speller: SpellingCorrector, typed: str, meant: str
) -> None:
    assert speller.correct(typed) == meant


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("which ministry runs the programme?", "which ministry runs the program?"),
        ("what about specialization", "what about specialisation"),  # the SCMP's spelling
        ("the labour market", "the labor market"),
        ("Programme support", "program support"),  # the first word, not a name
    ],
)
def test_a_word_the_collection_spells_the_other_way_is_spelt_its_way(
    speller: SpellingCorrector, typed: str, meant: str
) -> None:
    assert speller.correct(typed) == meant


@pytest.mark.parametrize(
    ("question", "count"),
    [
        ("How many provinces does Canada have?", 1),
        ("How many patents does IBM file each year?", 1),
        ("Did Apple or Samsung ever join the list?", 2),
        ("What size wafers does TankeBlue Semiconducter make?", 0),  # a slip of a known word
        ("What does Keanda Electrnic make?", 0),
        ("Who founded DeepSeek?", 0),
        ("What does MIIT do for SMEs?", 0),
        ("Canada?", 0),  # the first word is capitalised anyway
        # A source's name, or its initials, as the answers show them (publisher metadata)
        ("Which technologies does the SCMP opinion piece say converge?", 0),
        ("What does the South China Morning Post say about unicorns?", 0),
    ],
)
def test_names_the_collection_never_uses_are_counted(
    speller: SpellingCorrector, question: str, count: int
) -> None:
    assert speller.unknown_names(question) == count


@pytest.mark.parametrize(
    "question",
    [
        "kenda where are they based",  # one letter from Keanda, a name: never made into it
        "How many employees does Huawai have",  # an unknown name stays as typed
        "What did Xi say in 2019?",  # numbers and short words are left alone
        "Does the Labour Party back them?",  # a name keeps its spelling
        "they analyse supply chains",  # the collection never writes "analyze" either
        "which program and which programs",  # already the collection's spelling
    ],
)
def test_names_numbers_and_the_collections_own_spellings_are_left_as_typed(
    speller: SpellingCorrector, question: str
) -> None:
    assert speller.correct(question) == question


def test_the_subject_comes_from_what_the_titles_share(documents: list[Document]) -> None:
    assert collection_subject(documents) == "China little giants"
    one = collection_subject(documents[:1])
    assert "Small" in one and "Giants" in one  # a lone document: its title's words


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("小巨人是什么？", "zh"),
        ("Какие льготы получают малые гиганты?", "ru"),
        ("What is 小巨人?", None),
        ("Was ist ein kleiner Riese?", None),
        ("🤔🤔", None),
    ],
)
def test_the_script_tells_the_language(question: str, language: str | None) -> None:
    assert foreign_script(question) == language


def test_a_huge_word_is_left_alone_without_listing_its_edits(
    speller: SpellingCorrector, monkeypatch: pytest.MonkeyPatch
) -> None:
    def listing(word: str) -> set[str]:  # seconds for a word of thousands of letters
        raise AssertionError(f"edits listed for a word of {len(word)} letters")

    monkeypatch.setattr(spelling, "_one_edit", listing)
    word = "patnetz" * 2_000
    assert speller.correct(f"little giants {word}") == f"little giants {word}"


@pytest.mark.parametrize(
    ("publisher", "names"),
    [
        ("South China Morning Post", {"South China Morning Post", "SCMP"}),
        ("Asia Times, from ORCA", {"Asia Times", "ORCA"}),
        ("SCMP, via a news aggregator", {"SCMP"}),
        (
            "Ministry of Industry and Information Technology",
            {"Ministry of Industry and Information Technology", "MIIT"},
        ),
        ("Business Insider", {"Business Insider"}),  # "BI" would stand for too much
        ("unnamed blog", set()),
    ],
)
def test_a_publisher_gives_its_names_and_initials(publisher: str, names: set[str]) -> None:
    assert publisher_names(publisher) == names


@pytest.mark.parametrize(
    ("typed", "written"),
    [("Francoise Hermes", "Françoise Hermès"), ("naive cafe", "naïve café"), ("Zurich", "Zürich")],
)
def test_a_word_typed_without_its_accents_is_the_same_term(typed: str, written: str) -> None:
    assert terms(typed) == terms(written)


def test_letters_of_other_scripts_keep_their_marks() -> None:
    assert terms("малый бизнес") != terms("малыи бизнес")  # "й" is a letter, not "и" with a mark
