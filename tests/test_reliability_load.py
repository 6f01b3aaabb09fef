"""End to end under load: outgoing pacing (overall and per group), per-user question limits
with one polite notice, and a flood from one user that must not slow down the others."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot import messages
from knowledge import Engine
from tests.support.emulator import BotApiEmulator
from tests.support.reliability import (
    QUESTIONS,
    TAX_QUESTION,
    Harness,
    RecordingEngineThread,
    assert_valid_html,
    expected_messages,
    is_answer,
    no_internal_errors,
    sends,
    serving,
    texts,
)
from tests.support.windows import max_in_window

PER_SECOND = 10
USER_LIMIT = 5
SPAM = "Buy cheap followers now!!!"
GROUP_WINDOW = 5.0  # seconds: Telegram's is a minute


@pytest.fixture(scope="module")
def paced(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """BOT_MESSAGES_PER_SECOND=10, question limits out of the way."""
    assert expected_messages(engine, TAX_QUESTION) == 1
    state = tmp_path_factory.mktemp("paced") / "state"
    with (
        BotApiEmulator() as emu,
        serving(
            emu,
            engine,
            state,
            bot_messages_per_second=PER_SECOND,
            bot_user_questions_per_minute=1000,
            bot_chat_questions_per_minute=10000,
        ) as bot,
    ):
        yield Harness(emu, bot, engine)
        assert_valid_html(emu)


@pytest.fixture(scope="module")
def limited(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """BOT_USER_QUESTIONS_PER_MINUTE=5; the engine notes the questions it answers."""
    state = tmp_path_factory.mktemp("limited") / "state"
    with (
        BotApiEmulator() as emu,
        serving(
            emu,
            RecordingEngineThread(engine),
            state,
            bot_user_questions_per_minute=USER_LIMIT,
        ) as bot,
    ):
        yield Harness(emu, bot, engine)
        assert_valid_html(emu)


@pytest.fixture(scope="module")
def grouped(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """Groups held to 20 messages in any GROUP_WINDOW seconds instead of a minute."""
    state = tmp_path_factory.mktemp("grouped") / "state"
    with BotApiEmulator() as emu, serving(emu, engine, state, group_window=GROUP_WINDOW) as bot:
        yield Harness(emu, bot, engine)
        assert_valid_html(emu)


def test_group_sends_stay_within_twenty_a_window(grouped: Harness) -> None:
    """Telegram allows 20 messages a minute in a group: the 21st waits for the window (a short
    one here; the overall pace alone would send all 21 within a second)."""
    emu = grouped.emu
    group = emu.group_chat("Busy group")
    members = [emu.new_user(f"Member{n}") for n in range(21)]
    updates = [emu.send_message(group, member, f"/ask {TAX_QUESTION}") for member in members]
    grouped.settle(*updates, timeout=60)

    assert emu.delivered(group["id"]) == 21
    assert all(call.status == 200 for call in sends(emu, group["id"]))  # never a 429
    arrivals = sorted(call.time for call in sends(emu, group["id"]))
    # The bot books the 21st slot a window after the 1st; arrivals may jitter a little.
    assert arrivals[20] - arrivals[0] >= GROUP_WINDOW - 1, [
        round(t - arrivals[0], 2) for t in arrivals
    ]
    assert max_in_window(arrivals[:20], GROUP_WINDOW) == 20  # the first 20 went at once


def test_overall_send_rate_holds_in_every_one_second_window(paced: Harness) -> None:
    emu = paced.emu
    people = [paced.private(f"Asker{n}") for n in range(30)]
    updates = [emu.send_message(chat, user, TAX_QUESTION) for user, chat in people]
    emu.wait_for(
        lambda: all(emu.delivered(chat["id"]) >= 1 for _, chat in people),
        timeout=60,
        description="an answer in each of the 30 chats",
    )
    paced.settle(*updates)

    assert [emu.delivered(chat["id"]) for _, chat in people] == [1] * 30
    arrivals = [call.time for _, chat in people for call in sends(emu, chat["id"])]
    # The bot sends them a tenth of a second apart (test_send_pacing checks that on virtual
    # time). Here they may arrive less evenly: a stall of the bot's loop between a message's
    # turn and its request lets the next arrive with it, so one extra is allowed per stall,
    # and two stalls within a second. A burst after a stall (17 in a second, once) is not.
    busiest = max_in_window(arrivals, 1.0)
    assert busiest <= PER_SECOND + 2, f"{busiest} sendMessage calls within one second"
    assert max(arrivals) - min(arrivals) >= (len(arrivals) - 1) / PER_SECOND - 0.2


def test_user_over_the_limit_gets_one_notice_and_others_are_unaffected(
    limited: Harness,
) -> None:
    emu = limited.emu
    eager, eager_chat = limited.private("Eager")
    calm, calm_chat = limited.private("Calm")
    updates = []
    for n in range(12):
        updates.append(emu.send_message(eager_chat, eager, QUESTIONS[n % len(QUESTIONS)]))
        if n % 4 == 0:
            updates.append(emu.send_message(calm_chat, calm, QUESTIONS[n // 4]))
    emu.wait_for(lambda: emu.delivered(eager_chat["id"]) >= 6, timeout=30)
    emu.wait_for(lambda: emu.delivered(calm_chat["id"]) >= 3, timeout=30)
    limited.settle(*updates)

    eager_texts = texts(emu, eager_chat["id"])
    assert sum(map(is_answer, eager_texts)) == USER_LIMIT
    assert eager_texts.count(messages.RATE_LIMITED) == 1
    assert len(eager_texts) == USER_LIMIT + 1
    calm_texts = texts(emu, calm_chat["id"])
    assert sum(map(is_answer, calm_texts)) == 3
    assert messages.RATE_LIMITED not in calm_texts
    no_internal_errors(emu)


def test_flood_from_one_user_does_not_delay_the_others(limited: Harness) -> None:
    """500 messages from one user, then three questions from others. What could delay the
    others is work done for the flood: engine time and sends. Past the user's limit its
    messages are refused before the engine, so the engine answers only the flood's first
    USER_LIMIT, and the flood's chat gets those answers and one notice, nothing more."""
    emu, recorder = limited.emu, limited.bot.services.batcher.backend
    assert isinstance(recorder, RecordingEngineThread)
    engine_before, sends_before = len(recorder.questions), len(emu.calls("sendMessage"))
    flooder, flood_chat = limited.private("Flooder")
    flood = [emu.send_message(flood_chat, flooder, SPAM) for _ in range(500)]
    bystanders = [limited.private(f"Bystander{n}") for n in range(3)]
    asked = [
        emu.send_message(chat, user, question)
        for (user, chat), question in zip(bystanders, QUESTIONS[1:4], strict=True)
    ]
    limited.settle(*flood, *asked, timeout=60)

    answered = recorder.questions[engine_before:]
    assert answered.count(SPAM) == USER_LIMIT, answered
    assert sorted(q for q in answered if q != SPAM) == sorted(QUESTIONS[1:4])
    flood_texts = texts(emu, flood_chat["id"])
    assert flood_texts.count(messages.RATE_LIMITED) == 1
    assert len(flood_texts) == USER_LIMIT + 1
    for _, chat in bystanders:
        assert [is_answer(text) for text in texts(emu, chat["id"])] == [True]
    sent = emu.calls("sendMessage")[sends_before:]
    assert len(sent) == USER_LIMIT + 1 + len(bystanders), [c.params["chat_id"] for c in sent]
