"""The curated corpus loads clean; malformed documents are refused with a precise CorpusError."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from knowledge import CorpusError, Document
from knowledge.corpus import load_corpus, load_document
from tests.support.cli import CliRun
from tests.support.data import CORPUS_DIR

FURNITURE = (
    "Related Articles",
    "Related Posts",
    "Download the App",
    "Reading Time",
    "Advertisement",
    "Israel",
    "Post Comment",
    "Original Source",
    "It is always my pleasure",
)

GOOD_FRONT_MATTER = (
    'title: "A title"\npublisher: "A publisher"\npublished: "2021-03"\n'
    "url: https://example.com/a\nlanguage: en\n"
)
BODY = "First paragraph of the article. It has two sentences.\n\nA second paragraph.\n"


@pytest.fixture(scope="module")
def documents() -> list[Document]:
    return load_corpus(CORPUS_DIR)


def test_real_corpus_has_five_documents_with_metadata(documents: list[Document]) -> None:
    assert len(documents) == 5
    ids = [doc.doc_id for doc in documents]
    assert ids == sorted(ids)
    assert ids == sorted(p.stem for p in CORPUS_DIR.glob("*.md"))
    for doc in documents:
        assert doc.title.strip(), doc.doc_id
        assert doc.publisher.strip(), doc.doc_id
        assert doc.language == "en", doc.doc_id
        assert len(doc.body.split()) > 100, doc.doc_id
        assert doc.body == doc.body.strip()
        assert not doc.body.startswith("---")
        assert doc.info.doc_id == doc.doc_id
        assert "body" not in doc.info.model_dump()


@pytest.mark.parametrize("furniture", FURNITURE)
def test_no_page_furniture_in_any_body(documents: list[Document], furniture: str) -> None:
    found = [doc.doc_id for doc in documents if furniture.lower() in doc.body.lower()]
    assert not found, f"{furniture!r} left in {found}"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_well_formed_document_loads(tmp_path: Path) -> None:
    path = _write(tmp_path, "good-doc.md", f"---\n{GOOD_FRONT_MATTER}---\n\n{BODY}")
    doc = load_document(path)
    assert doc.doc_id == "good-doc"
    assert doc.title == "A title"
    assert doc.published == "2021-03"
    assert doc.url == "https://example.com/a"
    assert doc.body == BODY.strip()


BAD_DOCUMENTS = {
    "missing title": (
        "---\npublisher: P\n---\nBody text.\n",
        "title",
    ),
    "empty title": (
        '---\ntitle: ""\npublisher: P\n---\nBody text.\n',
        "title",
    ),
    "missing publisher": (
        "---\ntitle: T\n---\nBody text.\n",
        "publisher",
    ),
    "published is words": (
        '---\ntitle: T\npublisher: P\npublished: "last spring"\n---\nBody text.\n',
        "published",
    ),
    "published month 13": (
        '---\ntitle: T\npublisher: P\npublished: "2021-13-45"\n---\nBody text.\n',
        "published",
    ),
    "published unquoted month 13": (
        "---\ntitle: T\npublisher: P\npublished: 2024-13-45\n---\nBody text.\n",
        "published",
    ),
    "url not http": (
        '---\ntitle: T\npublisher: P\nurl: "ftp://example.com/x"\n---\nBody text.\n',
        "url",
    ),
    "unknown field": (
        "---\ntitle: T\npublisher: P\nauthor: Someone\n---\nBody text.\n",
        "author",
    ),
    "front matter is a list": (
        "---\n- title\n- publisher\n---\nBody text.\n",
        "front matter",
    ),
    "front matter is a string": (
        "---\njust a sentence\n---\nBody text.\n",
        "front matter",
    ),
    "no front matter fence": (
        "title: T\npublisher: P\n\nBody text.\n",
        "front matter",
    ),
    "front matter not closed": (
        "---\ntitle: T\npublisher: P\n\nBody text.\n",
        "front matter",
    ),
    "front matter not YAML": (
        "---\ntitle: [unclosed\npublisher: P\n---\nBody text.\n",
        "front matter",
    ),
    "empty body": (
        "---\ntitle: T\npublisher: P\n---\n\n   \n",
        "body",
    ),
}


@pytest.mark.parametrize(("text", "field"), BAD_DOCUMENTS.values(), ids=BAD_DOCUMENTS.keys())
def test_malformed_document_is_refused_naming_file_and_field(
    tmp_path: Path, text: str, field: str
) -> None:
    path = _write(tmp_path, "bad-doc.md", text)
    with pytest.raises(CorpusError) as caught:
        load_document(path)
    message = str(caught.value)
    assert "bad-doc.md" in message
    assert field in message


@pytest.mark.parametrize(
    ("written", "published"),
    [("2024", "2024"), ("2024-05", "2024-05"), ("2024-05-01", "2024-05-01"), ('"2021"', "2021")],
)
def test_dates_as_yaml_writes_them_are_accepted(
    tmp_path: Path, written: str, published: str
) -> None:
    path = _write(
        tmp_path, "dated.md", f"---\ntitle: T\npublisher: P\npublished: {written}\n---\n{BODY}"
    )
    assert load_document(path).published == published


def test_a_byte_order_mark_is_not_part_of_the_document(tmp_path: Path) -> None:
    path = tmp_path / "bom.md"
    path.write_text(f"\ufeff---\n{GOOD_FRONT_MATTER}---\n{BODY}", encoding="utf-8")
    doc = load_document(path)
    assert doc.title == "A title"
    assert doc.body.startswith("First paragraph")


def test_a_malformed_document_is_one_line_from_the_cli(tmp_path: Path, cli: CliRun) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _write(
        corpus, "bad-date.md", "---\ntitle: T\npublisher: P\npublished: 2024-13-45\n---\nBody.\n"
    )
    result = cli("index", env={"KNOWLEDGE_CORPUS_DIR": str(corpus)})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "bad-date.md" in line and "published" in line


def test_file_name_that_is_not_a_valid_id_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "Bad Name.md", f"---\n{GOOD_FRONT_MATTER}---\n{BODY}")
    with pytest.raises(CorpusError, match=r"Bad Name\.md.*doc_id"):
        load_document(path)


def test_non_utf8_file_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "latin1.md"
    path.write_bytes(f"---\n{GOOD_FRONT_MATTER}---\nCaf\xe9 society.\n".encode("latin-1"))
    with pytest.raises(CorpusError, match=r"latin1\.md"):
        load_document(path)


def test_one_bad_document_refuses_the_whole_corpus(tmp_path: Path) -> None:
    for path in CORPUS_DIR.glob("*.md"):
        shutil.copy(path, tmp_path / path.name)
    assert len(load_corpus(tmp_path)) == 5
    _write(tmp_path, "zz-broken.md", "---\npublisher: P\n---\nBody text.\n")
    with pytest.raises(CorpusError, match=r"zz-broken\.md.*title"):
        load_corpus(tmp_path)


def test_empty_or_missing_corpus_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"no \*\.md documents"):
        load_corpus(tmp_path)
    with pytest.raises(CorpusError, match="not found"):
        load_corpus(tmp_path / "nowhere")
