"""Answers as the JSON objects of `python -m bot ask --json` (DESIGN.md section 3)."""

from __future__ import annotations

import json
from typing import Any

from knowledge import Answer
from knowledge.collection import Listing


def answer_object(answer: Answer) -> dict[str, Any]:
    return {
        "question": answer.question,
        "abstained": answer.abstained,
        "kind": answer.kind.value,
        "truncated": answer.truncated,
        "citations": [
            {
                "doc_id": c.doc_id,
                "title": c.title,
                "publisher": c.publisher,
                "published": c.published,
                "url": c.url,
                "text": c.text,
                "score": c.score,
                "highlight": c.text[c.highlight[0] : c.highlight[1]],
                "start": c.start,
                "end": c.end,
            }
            for c in answer.citations
        ],
        "closest": [doc.doc_id for doc in answer.closest],
    }


def answer_line(answer: Answer) -> str:
    return json.dumps(answer_object(answer), ensure_ascii=False)


def document_line(listing: Listing) -> str:
    """One line of `python -m bot documents --json`."""
    return json.dumps(listing.model_dump(), ensure_ascii=False)
