"""End to end: allowlists (private refusal, group silence, empty inline answers) and the
admin commands /stats and /reindex (answers keep coming while the index is rebuilt)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot import messages
from knowledge import Engine, EngineConfig
from knowledge.embedding import Encoder
from tests.support.data import NEW_ANSWER, NEW_DOCUMENT, NEW_QUESTION
from tests.support.emulator import BotApiEmulator
from tests.support.reliability import (
    JSON,
    QUESTIONS,
    TAX_ANSWER,
    TAX_QUESTION,
    GatedReload,
    Harness,
    assert_valid_html,
    copy_corpus_and_index,
    error_records,
    is_answer,
    no_internal_errors,
    replies_to,
    serving,
    texts,
)


@dataclass
class Private(Harness):
    corpus_dir: Path
    member: JSON  # in BOT_ALLOWED_USER_IDS
    admin: JSON  # in BOT_ADMIN_USER_IDS only
    stranger: JSON  # in neither
    backend: GatedReload

    def chat_of(self, user: JSON) -> JSON:
        return self.emu.private_chat(user)


@pytest.fixture(scope="module")
def private(
    engine: Engine, encoder: Encoder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Private]:
    """A private bot over a copy of the corpus (its index copied too, so it loads at once)."""
    root = tmp_path_factory.mktemp("access")
    corpus, index = copy_corpus_and_index(engine, encoder, root)
    own = GatedReload(
        Engine.load(EngineConfig(corpus_dir=corpus, index_dir=index), encoder=encoder)
    )
    with BotApiEmulator() as emu:
        member, admin, stranger = (emu.new_user(n) for n in ("Member", "Admin", "Stranger"))
        with serving(
            emu,
            own,
            root / "state",
            bot_allowed_user_ids={member["id"]},
            bot_admin_user_ids={admin["id"]},
            knowledge_corpus_dir=corpus,
            knowledge_index_dir=index,
        ) as bot:
            yield Private(emu, bot, own.engine, corpus, member, admin, stranger, own)
            assert_valid_html(emu)


def test_stranger_gets_a_one_line_refusal_in_private(private: Private) -> None:
    emu = private.emu
    asked = emu.send_message(private.chat_of(private.stranger), private.stranger, TAX_QUESTION)
    other = emu.new_user("Other stranger")
    command = emu.send_message(emu.private_chat(other), other, "/stats")
    private.settle(asked, command)

    for update in (asked, command):
        assert [r["text"] for r in replies_to(emu, update)] == [messages.NOT_ALLOWED]
    assert "\n" not in messages.NOT_ALLOWED


def test_stranger_repeating_himself_is_refused_once(private: Private) -> None:
    """guard() promises to refuse "once in private": a stranger who keeps writing must not
    make the bot send a refusal per message (an unlimited, unthrottled send path)."""
    emu = private.emu
    stranger = emu.new_user("Persistent stranger")
    chat = emu.private_chat(stranger)
    updates = [emu.send_message(chat, stranger, f"{TAX_QUESTION} #{n}") for n in range(10)]
    private.settle(*updates)

    assert texts(emu, chat["id"]) == [messages.NOT_ALLOWED]


def test_stranger_in_a_group_gets_silence(private: Private) -> None:
    emu = private.emu
    group = emu.group_chat("Mixed group")
    ignored = [
        emu.send_message(group, private.stranger, f"/ask {TAX_QUESTION}"),
        emu.send_message(group, private.stranger, f"@LittleGiantsBot {TAX_QUESTION}"),
        emu.send_message(group, private.stranger, "/help"),
    ]
    answered = emu.send_message(group, private.member, f"/ask {TAX_QUESTION}")
    private.settle(*ignored, answered)

    for update in ignored:
        assert replies_to(emu, update) == []
    assert [TAX_ANSWER in r["text"] for r in replies_to(emu, answered)] == [True]
    assert len(texts(emu, group["id"])) == 1


def test_inline_queries_of_strangers_get_an_empty_answer(private: Private) -> None:
    emu = private.emu
    refused = emu.inline_query(private.stranger, TAX_QUESTION)
    allowed = emu.inline_query(private.member, TAX_QUESTION)
    private.settle(refused, allowed)

    answers = {a["inline_query_id"]: a for a in emu.inline_answers()}
    assert answers[refused["inline_query"]["id"]]["results"] == []
    assert len(answers[allowed["inline_query"]["id"]]["results"]) == 1


def test_stats_for_admins_only(private: Private, caplog: pytest.LogCaptureFixture) -> None:
    emu = private.emu
    member_chat, admin_chat = private.chat_of(private.member), private.chat_of(private.admin)
    questions = [emu.send_message(member_chat, private.member, q) for q in QUESTIONS[:2]]
    private.settle(*questions)
    refused = emu.send_message(member_chat, private.member, "/stats")
    stats = emu.send_message(admin_chat, private.admin, "/stats")
    private.settle(refused, stats)

    assert [r["text"] for r in replies_to(emu, refused)] == [messages.ADMIN_ONLY]
    (reply,) = (r["text"] for r in replies_to(emu, stats))
    answered = re.search(r"Questions answered: (\d+)", reply)
    assert answered and int(answered.group(1)) >= 2, reply
    latency = re.search(r"p50 (\d+) ms, p95 (\d+) ms, p99 (\d+) ms", reply)
    assert latency, reply
    p50, p95, p99 = map(int, latency.groups())
    assert 0 <= p50 <= p95 <= p99 < 60_000
    token_secret = emu.token.split(":", 1)[1]
    assert emu.token not in reply and token_secret not in reply
    assert all(token_secret not in t for t in texts(emu, admin_chat["id"]))
    no_internal_errors(emu)
    assert error_records(caplog) == []


def test_reindex_keeps_answering_and_then_knows_the_new_document(private: Private) -> None:
    emu = private.emu
    member_chat, admin_chat = private.chat_of(private.member), private.chat_of(private.admin)
    before = emu.send_message(member_chat, private.member, NEW_QUESTION)
    refused = emu.send_message(member_chat, private.member, "/reindex")
    private.settle(before, refused)
    assert NEW_ANSWER not in replies_to(emu, before)[0]["text"]
    assert [r["text"] for r in replies_to(emu, refused)] == [messages.ADMIN_ONLY]

    (private.corpus_dir / "hefei-robotics-expo.md").write_text(NEW_DOCUMENT, encoding="utf-8")
    private.backend.gate.clear()  # the rebuild (0.2 s) waits until the answer is out
    try:
        command = emu.send_message(admin_chat, private.admin, "/reindex")
        emu.wait_for(lambda: messages.REINDEX_STARTED in texts(emu, admin_chat["id"]), timeout=30)
        during = emu.send_message(member_chat, private.member, TAX_QUESTION)
        emu.wait_for(lambda: TAX_ANSWER in " ".join(texts(emu, member_chat["id"])), timeout=60)
    finally:
        private.backend.gate.set()
    private.settle(command, during, timeout=180)

    admin_calls = [c for c in emu.calls("sendMessage") if c.params["chat_id"] == admin_chat["id"]]
    done = [c for c in admin_calls if str(c.params["text"]).startswith("Index rebuilt")]
    assert len(done) == 1, [c.params["text"] for c in admin_calls]
    answer_call = next(
        c
        for c in emu.calls("sendMessage")
        if c.params["chat_id"] == member_chat["id"] and TAX_ANSWER in str(c.params["text"])
    )
    assert answer_call.time < done[0].time, "no answer while the index was being rebuilt"
    assert "from 6 documents" in str(done[0].params["text"])

    after = emu.send_message(member_chat, private.member, NEW_QUESTION)
    private.settle(after)
    (reply,) = (r["text"] for r in replies_to(emu, after))
    assert is_answer(reply) and NEW_ANSWER in reply, reply
    assert "Hefei robotics expo" in reply
    no_internal_errors(emu)
