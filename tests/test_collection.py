"""A team's own documents through `python -m bot add / remove / documents`: real files in,
verbatim citations out, bad files refused whole, and the index kept in step."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import pypdf
import pytest

from knowledge.ingest.pdf import page_text
from tests.support.cli import CliRun
from tests.support.data import CORPUS_DIR, HTML, HTML_QUESTION, PDF, PDF_QUESTION, SMALL_CORPUS

NOTE = "The Quibble Institute in Ushuaia studies hedgehog migration across Patagonia.\n"


class Setup:
    """Folders of one collection, and `python -m bot` run over them (in the test process)."""

    def __init__(self, cli: CliRun, root: Path) -> None:
        self.root = root
        self.corpus = root / "corpus"
        self.collection = root / "collection"
        self.index = root / "index"
        self.corpus.mkdir(parents=True)
        for name in SMALL_CORPUS:
            (self.corpus / name).write_bytes((CORPUS_DIR / name).read_bytes())
        self._cli = cli

    def run(
        self, *args: str, stdin: str | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        variables = {
            "KNOWLEDGE_CORPUS_DIR": str(self.corpus),
            "KNOWLEDGE_COLLECTION_DIR": str(self.collection),
            **env,
        }
        return self._cli(*args, env=variables, stdin=stdin, index_dir=self.index, timeout=600)

    def documents(self) -> list[dict[str, object]]:
        result = self.run("documents", "--json")
        assert result.returncode == 0, result.stderr
        return [json.loads(line) for line in result.stdout.splitlines()]

    def ask(self, *questions: str) -> list[dict[str, object]]:
        result = self.run("ask", "--json", stdin="\n".join(questions) + "\n")
        assert result.returncode == 0, result.stderr
        return [json.loads(line) for line in result.stdout.splitlines()]

    def state(self) -> dict[str, bytes]:
        """Every file of the collection and the index, to show nothing changed."""
        files = {}
        for folder in (self.collection, self.index):
            if folder.exists():
                for path in sorted(folder.rglob("*")):
                    if path.is_file() and path.name != ".lock":
                        files[str(path.relative_to(self.root))] = path.read_bytes()
        return files


@pytest.fixture
def setup(cli: CliRun, tmp_path: Path) -> Setup:
    return Setup(cli, tmp_path)


def _body(path: Path) -> str:
    return path.read_text(encoding="utf-8").split("\n---\n", 1)[1]


def _first_pages(count: int, path: Path) -> Path:
    """The PDF's first `count` pages, its metadata kept: running headers, page numbers, a
    sentence wrapped over two lines and the answer below, at a quarter of the text to embed."""
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(PDF))
    while len(writer.pages) > count:
        writer.remove_page(len(writer.pages) - 1)
    with path.open("wb") as file:
        writer.write(file)
    return path


def test_add_html_and_pdf_answer_from_them_then_remove(setup: Setup, tmp_path: Path) -> None:
    pdf = _first_pages(4, tmp_path / PDF.name)
    added = setup.run("add", str(HTML), str(pdf))
    assert added.returncode == 0, added.stderr
    lines = added.stdout.splitlines()
    assert len(lines) == 2, added.stdout
    assert lines[0].startswith("Added corepack: Corepack (")
    assert lines[1].startswith("Added shared-mime-info-database: Shared MIME-info Database (")

    html_file = setup.collection / "corepack.md"
    pdf_file = setup.collection / "shared-mime-info-database.md"
    html_text, pdf_text = _body(html_file), _body(pdf_file)
    assert html_file.read_text(encoding="utf-8").startswith("---\ntitle: Corepack\n")
    assert "Corepack is an experimental tool" in html_text
    for navigation in ("Table of contents", "Other versions", "Assertion testing", "Index"):
        assert navigation not in html_text  # the page's sidebar and header
    paragraphs = pdf_text.split("\n\n")
    assert "Shared MIME-info Database" not in paragraphs  # the running header
    assert not [p for p in paragraphs if p.strip().isdigit()]  # page numbers
    assert "The MIME database does NOT store user preferences (such as a user’s preferred" in (
        pdf_text  # a sentence the PDF wraps over two lines, joined again
    )

    listed = {doc["doc_id"]: doc for doc in setup.documents()}
    assert set(listed) == {
        "corepack",
        "shared-mime-info-database",
        "future-industry-leader-2025",
        "two-sessions-little-giants",
    }
    assert listed["corepack"]["source"] == str(HTML)
    assert listed["corepack"]["publisher"] == "Node.js v20.20.2 Documentation"
    assert listed["shared-mime-info-database"]["published"] == "2022-04-29"
    assert listed["shared-mime-info-database"]["publisher"] == "Unknown"
    assert all(isinstance(doc["passages"], int) and doc["passages"] > 0 for doc in listed.values())

    html_answer, pdf_answer = setup.ask(HTML_QUESTION, PDF_QUESTION)
    for answer, doc_id, text, word in (
        (html_answer, "corepack", html_text, "corepack enable"),
        (pdf_answer, "shared-mime-info-database", pdf_text, "update-mime-database"),
    ):
        assert not answer["abstained"], answer
        citations = answer["citations"]
        assert isinstance(citations, list)
        assert citations[0]["doc_id"] == doc_id
        assert any(word in c["text"] for c in citations if c["doc_id"] == doc_id)
        for citation in citations:
            if citation["doc_id"] == doc_id:
                assert citation["text"] in text  # verbatim text of the stored document

    removed = setup.run("remove", "corepack", "shared-mime-info-database")
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.splitlines() == [
        "Removed corepack: Corepack",
        "Removed shared-mime-info-database: Shared MIME-info Database",
    ]
    assert not html_file.exists() and not pdf_file.exists()
    for answer in setup.ask(HTML_QUESTION, PDF_QUESTION):
        citations = answer["citations"]
        assert isinstance(citations, list)
        assert not {c["doc_id"] for c in citations} & {"corepack", "shared-mime-info-database"}
    assert [doc["doc_id"] for doc in setup.documents()] == [
        "future-industry-leader-2025",
        "two-sessions-little-giants",
    ]


def test_bundled_documents_are_removed_by_record(setup: Setup) -> None:
    result = setup.run("remove", "two-sessions-little-giants")
    assert result.returncode == 0, result.stderr
    assert (setup.corpus / "two-sessions-little-giants.md").exists()  # the package file stays
    assert "two-sessions-little-giants" in (setup.collection / "removed.txt").read_text("utf-8")
    assert [doc["doc_id"] for doc in setup.documents()] == ["future-industry-leader-2025"]
    before = setup.state()
    last = setup.run("remove", "future-industry-leader-2025")
    assert last.returncode == 1
    assert len(last.stderr.strip().splitlines()) == 1
    assert "every document" in last.stderr
    assert setup.state() == before


def _encrypted_pdf() -> bytes:
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(PDF))
    writer.encrypt(user_password="secret", owner_password="owner")  # noqa: S106 - a test file
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _image_only_pdf() -> bytes:
    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


BAD_FILES: dict[str, tuple[str, bytes, dict[str, str], str]] = {
    "empty": ("empty.txt", b"", {}, "empty"),
    "binary renamed .pdf": ("photo.pdf", bytes(range(256)) * 40, {}, "not a readable PDF"),
    "encrypted PDF": ("secret.pdf", _encrypted_pdf(), {}, "encrypted"),
    "image-only PDF": ("scan.pdf", _image_only_pdf(), {}, "no text"),
    "file over the limit": (
        "big.txt",
        NOTE.encode() * 40,
        {"KNOWLEDGE_MAX_FILE_BYTES": "1000"},
        "file size limit",
    ),
    "text over the limit": (
        "long.txt",
        NOTE.encode() * 4,
        {"KNOWLEDGE_MAX_TEXT_CHARS": "200"},
        "over the limit",
    ),
    "unsupported type": ("report.docx", b"PK\x03\x04 not really", {}, "unsupported file type"),
    "binary renamed .txt": ("notes.txt", b"\x00\x01\x02binary", {}, "binary"),
    "duplicate": ("again.txt", NOTE.encode(), {}, "same text as 'the-quibble-institute"),
}


def test_bad_files_are_refused_in_one_line_and_change_nothing(setup: Setup, tmp_path: Path) -> None:
    note = tmp_path / "quibble.txt"
    note.write_text(NOTE, encoding="utf-8")
    first = setup.run("add", str(note))
    assert first.returncode == 0, first.stderr
    listed, before = setup.documents(), setup.state()
    good = tmp_path / "good.txt"
    good.write_text("Zorblax Widget Works builds periscopes for lake ferries in Hubei.\n", "utf-8")
    for label, (name, data, env, reason) in BAD_FILES.items():
        bad = tmp_path / name
        bad.write_bytes(data)
        for paths in ([bad], [good, bad]):
            result = setup.run("add", *map(str, paths), **env)
            assert result.returncode == 1, (label, result.stderr)
            assert "Traceback" not in result.stderr, label
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1, (label, result.stderr)
            assert str(bad) in lines[0] and reason in lines[0], (label, lines[0])
            assert "nothing was added" in lines[0]
            assert result.stdout == ""
            assert setup.state() == before, label
        bad.unlink()
    assert setup.documents() == listed


def test_a_bundled_document_over_the_limit_is_refused_at_load(setup: Setup) -> None:
    result = setup.run("index", KNOWLEDGE_MAX_TEXT_CHARS="1500")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "two-sessions-little-giants.md" in lines[0] or "future-industry" in lines[0]
    assert "over the limit of 1,500" in lines[0]
    assert not (setup.index / "manifest.json").exists()


def test_pdf_pages_become_paragraphs() -> None:
    """Running headers and page numbers go; a hyphenated word and a sentence cut by the page
    break are joined again."""
    line = "The Little Giants programme supports specialised enterprises that make"
    pages = [
        f"Annual Report 2024\n{line}\nprecision parts for machines and robots in many\n"
        "provinces of China, and it was intro-\nduced in 2018.\n1",
        "Annual Report 2024\nSome of them are in the north and some in the south; they make\n"
        "sensors for cars, trains and ships in several regions\n"
        "of the country, and then its seventh batch of firms\n2",
        "Annual Report 2024\nwas announced in 2025 by the ministry of industry and others.\n3",
    ]
    paragraphs = page_text(pages).split("\n\n")
    assert paragraphs == [
        f"{line} precision parts for machines and robots in many provinces of China, and it "
        "was introduced in 2018.",
        "Some of them are in the north and some in the south; they make sensors for cars, trains "
        "and ships in several regions of the country, and then "
        "its seventh batch of firms was announced in 2025 by the ministry of industry and others.",
    ]
