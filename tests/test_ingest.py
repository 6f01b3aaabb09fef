"""The readers, one per format: what they keep, what they drop, and the metadata they find."""

from __future__ import annotations

from pathlib import Path
from typing import TypedDict

import pytest

from knowledge import IngestError
from knowledge.ingest import read_file, slug


class Limits(TypedDict):
    max_file_bytes: int
    max_text_chars: int


LIMITS = Limits(max_file_bytes=20 * 2**20, max_text_chars=2_000_000)
ARTICLE = "Zorblax Widget Works of Wuhan shipped 3,400 brass periscopes to lake ferry operators"

PAGE = f"""<!DOCTYPE html>
<html lang="en"><head>
<title>Zorblax ships periscopes | Hubei Industry Daily</title>
<meta property="og:site_name" content="Hubei Industry Daily">
<meta property="og:title" content="Zorblax ships periscopes to lake ferries">
<meta name="author" content="Li Wen">
<meta property="article:published_time" content="2024-05-17T08:00:00+08:00">
<link rel="canonical" href="https://news.example.com/zorblax-periscopes">
</head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/markets">Markets</a></li>
<li><a href="/tech">Technology section</a></li></ul></nav>
<div id="cookie-banner" class="cookie-consent">We use cookies to improve your experience.
<button>Accept all cookies</button></div>
<main><article>
<h1>Zorblax ships periscopes to lake ferries</h1>
<p>{ARTICLE} in the first quarter of 2024, the company said on Friday.</p>
<p>The periscopes let ferry pilots see over cargo stacked on deck, a rule on Dongting Lake
since 2022. Each unit costs about 12,000 yuan and takes two days to install.</p>
<p>The company, a national Little Giant since 2021, employs 340 people and exports to
Vietnam and Laos. Its founder said orders for the next year had already doubled.</p>
</article></main>
<aside class="newsletter"><h3>Get our newsletter</h3><p>Sign up for the daily briefing
in your inbox.</p><form><input type="email"><button>Subscribe</button></form></aside>
<section class="related"><h3>Related articles</h3><ul>
<li><a href="/a">Ferry operators raise fares on Dongting Lake</a></li>
<li><a href="/b">Wuhan brass foundries report record output</a></li></ul></section>
<footer>© 2024 Hubei Industry Daily. All rights reserved.</footer>
</body></html>
"""


def _write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def test_a_web_page_keeps_its_article_and_metadata_only(tmp_path: Path) -> None:
    doc = read_file(_write(tmp_path, "page.html", PAGE), **LIMITS)
    assert doc.title == "Zorblax ships periscopes to lake ferries"
    assert doc.publisher == "Hubei Industry Daily"
    assert doc.published == "2024-05-17"
    assert doc.url == "https://news.example.com/zorblax-periscopes"
    assert f"{ARTICLE} in the first quarter" in doc.body
    assert "a rule on Dongting Lake since 2022." in doc.body  # lines joined
    for boilerplate in (
        "Markets",
        "cookies",
        "newsletter",
        "Subscribe",
        "Related",
        "record output",
    ):
        assert boilerplate not in doc.body, boilerplate
    assert doc.doc_id == "zorblax-ships-periscopes-to-lake-ferries"


def test_markdown_front_matter_is_used_and_extra_fields_ignored(tmp_path: Path) -> None:
    text = (
        "---\ntitle: Periscope notes\npublisher: Team wiki\npublished: 2024-06-01\n"
        "tags: [ferries]\n---\n\n# Periscope notes\n\nThe first line of a paragraph\n"
        "goes on here.\n"
    )
    doc = read_file(_write(tmp_path, "notes.md", text), **LIMITS)
    assert (doc.title, doc.publisher, doc.published) == (
        "Periscope notes",
        "Team wiki",
        "2024-06-01",
    )
    assert doc.body == "# Periscope notes\n\nThe first line of a paragraph goes on here."


def test_markdown_without_front_matter_and_text_fall_back(tmp_path: Path) -> None:
    md = read_file(
        _write(tmp_path, "ferries.md", "# Lake ferries\n\nThey carry cargo.\n"), **LIMITS
    )
    assert (md.title, md.publisher, md.published, md.url) == ("Lake ferries", "Unknown", None, None)
    words = " ".join(["periscope"] * 30)
    txt = read_file(_write(tmp_path, "Field Report 7.txt", f"{words}.\n"), **LIMITS)
    assert (txt.title, txt.doc_id) == ("Field Report 7", "field-report-7")
    assert txt.source == str(tmp_path / "Field Report 7.txt")


def test_unreadable_text_is_refused(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match=r"latin\.txt: it is not UTF-8 text"):
        read_file(_write(tmp_path, "latin.txt", "café".encode("latin-1")), **LIMITS)
    with pytest.raises(IngestError, match="front matter is not closed"):
        read_file(_write(tmp_path, "open.md", "---\ntitle: x\n\nBody.\n"), **LIMITS)


def test_slugs_fit_the_doc_id_pattern() -> None:
    assert (
        slug("China’s ‘Little Giants’: Driving Innovation!")
        == "chinas-little-giants-driving-innovation"
    )
    assert slug("小巨人") == "document"
    assert slug("Ünïcödé Straße 2024") == "unicode-strasse-2024"
