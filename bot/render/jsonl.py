"""Answers as the JSON objects of `python -m bot ask --json` (DESIGN.md section 3)."""

from __future__ import annotations

import json
from typing import Any

from bot.feedback import Gap
from knowledge import Answer, Listing


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
    """One line of JSON; U+2028 and U+2029 stay escaped, as JavaScript readers need."""
    return _line(json.dumps(answer_object(answer), ensure_ascii=False))


def gap_line(gap: Gap) -> str:
    """`question`, `kind`, `count`, `last_asked` (ISO 8601, UTC), and `doc_ids` for a
    disliked answer."""
    return _line(gap.model_dump_json(exclude_none=True))


def _line(text: str) -> str:
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def document_line(listing: Listing) -> str:
    """One line of `python -m bot documents --json`."""
    return _line(json.dumps(listing.model_dump(), ensure_ascii=False))
