"""Paths and documents the tests share: the checkout, the bundled corpus and the test files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from knowledge.embedding import Encoder

REPO = Path(__file__).resolve().parents[2]
CORPUS_DIR = REPO / "knowledge" / "corpus"
DATA = REPO / "tests" / "data"

# Two of the bundled articles: a corpus that indexes in a moment.
SMALL_CORPUS = ("future-industry-leader-2025.md", "two-sessions-little-giants.md")

HTML = DATA / "nodejs-corepack.html"
PDF = DATA / "shared-mime-info-spec.pdf"
HTML_QUESTION = "How do I enable Corepack?"
PDF_QUESTION = "Which command must an application run after installing its MIME XML file?"

# A sixth document for the bundled corpus, and a question only it answers.
NEW_DOCUMENT = """---
title: "Little Giants fill the first Hefei robotics expo"
publisher: "Reliability Test Wire"
published: 2025-03-01
url: https://example.com/hefei-expo
language: en
---

More than 400 Little Giants exhibited at the first Specialised Robotics Expo in Hefei in March 2025.

The expo's official mascot is a copper-coloured panda robot named Xiaoju, designed by a Little Giant
from Wuhu.

Organisers said the four-day event drew 62,000 visitors and produced 3.1 billion yuan in signed
orders.
"""
NEW_QUESTION = "What is the name of the expo mascot?"
NEW_ANSWER = "panda robot named Xiaoju"


class CountingEncoder:
    """The real encoder, counting the texts it embeds."""

    def __init__(self, encoder: Encoder) -> None:
        self.inner = encoder
        self.texts: list[str] = []

    def encode(self, texts: list[str], batch_size: int = 64) -> Any:
        self.texts += texts
        return self.inner.encode(texts, batch_size)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
