"""End to end under load: outgoing pacing (overall and per group), per-user question limits
with one polite notice, and a flood from one user that must not slow down the others."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from bot import messages
from knowledge import Engine
from tests.reliability_helpers import (
    QUESTIONS,
    TAX_QUESTION,
    Harness,
    assert_valid_html,
    expected_messages,
    is_answer,
    max_in_window,
    no_internal_errors,
    sends,
    serving,
    texts,
)
from tests.support.emulator import BotApiEmulator

PER_SECOND = 10
USER_LIMIT = 5
SPAM = "Buy cheap followers now!!!"


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
    """BOT_USER_QUESTIONS_PER_MINUTE=5."""
    state = tmp_path_factory.mktemp("limited") / "state"
    with (
        BotApiEmulator() as emu,
        serving(emu, engine, state, bot_user_questions_per_minute=USER_LIMIT) as bot,
    ):
        yield Harness(emu, bot, engine)
        assert_valid_html(emu)


def test_group_sends_stay_within_twenty_a_minute(paced: Harness) -> None:
    """Telegram allows 20 messages a minute in a group: the 21st waits for the window."""
    emu = paced.emu
    group = emu.group_chat("Busy group")
    members = [emu.new_user(f"Member{n}") for n in range(21)]
    updates = [emu.send_message(group, member, f"/ask {TAX_QUESTION}") for member in members]
    emu.wait_for(lambda: emu.delivered(group["id"]) >= 20, timeout=60)
    time.sleep(2)
    assert emu.delivered(group["id"]) == 20  # the 21st is held back
    emu.wait_for(lambda: emu.delivered(group["id"]) >= 21, timeout=90)
    paced.settle(*updates)

    assert emu.delivered(group["id"]) == 21
    assert all(call.status == 200 for call in sends(emu, group["id"]))  # never a 429
    arrivals = sorted(call.time for call in sends(emu, group["id"]))
    assert arrivals[20] - arrivals[0] >= 59, [round(t - arrivals[0], 2) for t in arrivals]


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
    # One extra for scheduling jitter between the bot's clock and the arrival here.
    busiest = max_in_window(arrivals, 1.0)
    assert busiest <= PER_SECOND + 1, f"{busiest} sendMessage calls within one second"


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


def _latency(emu: BotApiEmulator, asked: list[tuple[int, float]]) -> float:
    """Seconds from pushing each question to the arrival of the sendMessage answering it."""
    worst = 0.0
    for chat_id, pushed in asked:
        calls = [c for c in sends(emu, chat_id) if c.time >= pushed and c.status == 200]
        worst = max(worst, calls[0].time - pushed)
    return worst


def _ask_three(limited: Harness, name: str, wait: bool = True) -> list[tuple[int, float]]:
    emu = limited.emu
    asked = []
    for question in QUESTIONS[1:4]:
        user, chat = limited.private(name)  # one chat per question: latency per answer
        asked.append((chat["id"], time.monotonic()))
        emu.send_message(chat, user, question)
    if wait:
        for chat_id, _ in asked:
            emu.wait_for(lambda chat_id=chat_id: emu.delivered(chat_id) >= 1, timeout=60)
    return asked


def test_flood_from_one_user_does_not_delay_the_others(limited: Harness) -> None:
    emu = limited.emu
    # Encode every question once, so that both runs below hit the engine's cache and
    # measure the bot, not the encoder.
    _ask_three(limited, "Warm")
    warm_user, warm_chat = limited.private("Warm spam")
    emu.send_message(warm_chat, warm_user, SPAM)
    emu.wait_for(lambda: emu.delivered(warm_chat["id"]) >= 1, timeout=60)
    baseline = _latency(emu, _ask_three(limited, "Base"))

    flooder, flood_chat = limited.private("Flooder")
    flood = [emu.send_message(flood_chat, flooder, SPAM) for _ in range(500)]
    asked = _ask_three(limited, "Bystander")
    flooded = _latency(emu, asked)
    limited.settle(*flood)

    flood_texts = texts(emu, flood_chat["id"])
    assert flood_texts.count(messages.RATE_LIMITED) == 1
    assert len(flood_texts) == USER_LIMIT + 1
    print(f"answer latency: {baseline:.3f} s alone, {flooded:.3f} s behind a 500-message flood")
    assert flooded < baseline + 0.5, (baseline, flooded)
