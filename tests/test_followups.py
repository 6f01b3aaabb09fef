"""Follow-ups: an elliptical question right after an answer ("and when was that?") is
searched together with the question it follows, and the answer says what it was taken as.
The real bot against the emulator, answering from canned answers by topic."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot import messages
from bot.feedback import FeedbackStore, feedback_path
from knowledge import Answer, AnswerKind, follow_up, is_elliptical
from tests.support.botrunner import assert_valid_html_everywhere, running_bot
from tests.support.canned_backend import CannedBackend
from tests.support.emulator import BotApiEmulator

pytestmark = pytest.mark.timeout(120)

JSON = dict[str, Any]
BOT = "LittleGiantsBot"
TAX_QUESTION = "What share of tax revenue do SMEs contribute?"
FOLLOW_UP = "and when was that?"


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[BotApiEmulator]:
    with (
        BotApiEmulator() as emulator,
        running_bot(emulator, CannedBackend({"tax": ["tax-report"]}), tmp_path / "state"),
    ):
        yield emulator
        assert_valid_html_everywhere(emulator)


def reply_to(emu: BotApiEmulator, message: JSON) -> JSON:
    def found() -> list[JSON]:
        return [
            sent
            for sent in emu.bot_messages(message["chat"]["id"])
            if (sent.get("reply_to_message") or {}).get("message_id") == message["message_id"]
        ]

    return emu.wait_for(found, 30, description="a reply")[0]


def ask(emu: BotApiEmulator, chat: JSON, user: JSON, text: str, **kw: Any) -> JSON:
    return reply_to(emu, emu.send_message(chat, user, text, **kw)["message"])


def test_a_follow_up_in_private_is_taken_with_the_last_question(emu: BotApiEmulator) -> None:
    alice = emu.new_user("Alice")
    chat = emu.private_chat(alice)
    first = ask(emu, chat, alice, TAX_QUESTION)
    assert messages.NOT_COVERED not in first["text"]
    second = ask(emu, chat, alice, FOLLOW_UP)
    assert (
        "Taken as: What share of tax revenue do SMEs contribute? and when was that?"
        in (second["text"])
    )
    assert messages.NOT_COVERED not in second["text"], "answered, not declined"
    # a complete question is not mixed with the one before it
    third = ask(emu, chat, alice, "Which football club won the league?")
    assert "Taken as" not in third["text"]
    assert messages.NOT_COVERED in third["text"]


def test_in_a_group_a_reply_to_an_answer_follows_that_answer(emu: BotApiEmulator) -> None:
    alice, bob = emu.new_user("Alice"), emu.new_user("Bob")
    group = emu.group_chat("Team", supergroup=True)
    answer = ask(emu, group, alice, f"/ask@{BOT} {TAX_QUESTION}")
    followed = ask(emu, group, bob, FOLLOW_UP, reply_to=answer)
    assert "Taken as:" in followed["text"]
    assert messages.NOT_COVERED not in followed["text"]
    # addressed by mention but replying to nothing: nothing to follow in a group
    alone = ask(emu, group, bob, f"@{BOT} {FOLLOW_UP}")
    assert "Taken as" not in alone["text"]
    assert messages.NOT_COVERED in alone["text"]


@pytest.mark.parametrize(
    ("question", "elliptical"),
    [
        ("and when was that?", True),
        ("what about keanda", True),
        ("why?", True),
        ("how much money do they get?", True),
        ("What is a little giant?", False),
        ("How many patents must SMEs hold to qualify?", False),
        ("Who runs the programme?", False),
        ("How many little giants are there?", False),  # "there is", not "over there"
    ],
)
def test_which_questions_lean_on_the_one_before(question: str, elliptical: bool) -> None:
    assert is_elliptical(question) is elliptical
    assert follow_up("Q one?", question) == f"Q one? {question}"


def test_the_last_question_counts_only_within_its_window(tmp_path: Path) -> None:
    now = [1000.0]
    store = FeedbackStore(feedback_path(tmp_path), clock=lambda: now[0])
    answer = Answer(question=TAX_QUESTION, kind=AnswerKind.NOT_COVERED)
    store.record_answer(answer, [(7, 70)])
    assert store.question_at(7, 70) == TAX_QUESTION
    assert store.question_at(7, 71) is None
    now[0] += 299
    assert store.last_question(7, within=300) == TAX_QUESTION
    assert store.last_question(8, within=300) is None
    now[0] += 2
    assert store.last_question(7, within=300) is None
    store.close()
