"""End to end: the bot against Bot API faults (429, 5xx, dropped connections, time-outs,
refused markup, blocked users, migrated groups). Every answer arrives, and only once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import messages
from knowledge import Engine
from tests.support.emulator import BadRequest, BotApiEmulator, Delay, Drop, RetryAfter, ServerError
from tests.support.reliability import (
    QUESTIONS,
    TAX_ANSWER,
    TAX_QUESTION,
    Harness,
    assert_valid_html,
    error_records,
    expected_messages,
    no_internal_errors,
    sends,
    serving,
    settle,
    texts,
)


@pytest.fixture(scope="module")
def shared(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """One bot with default settings for the whole module; faults are injected per test."""
    for question in QUESTIONS:
        assert expected_messages(engine, question) == 1, question
    state = tmp_path_factory.mktemp("faults") / "state"
    with BotApiEmulator() as emu, serving(emu, engine, state) as bot:
        yield Harness(emu, bot, engine)
        assert_valid_html(emu)


def test_429_on_send_is_retried_after_retry_after_and_delivered_once(shared: Harness) -> None:
    emu = shared.emu
    user, chat = shared.private("Rita")
    emu.inject("sendMessage", RetryAfter(1))
    update = emu.send_message(chat, user, TAX_QUESTION)
    emu.wait_for(lambda: emu.delivered(chat["id"]) >= 1, timeout=20)
    shared.settle(update)

    assert emu.delivered(chat["id"]) == 1
    rejected, accepted = sends(emu, chat["id"])
    assert (rejected.status, accepted.status) == (429, 200)
    # Same monotonic clock on both sides: the retry left no sooner than retry_after.
    assert accepted.time - rejected.time >= 0.98
    assert TAX_ANSWER in texts(emu, chat["id"])[0]


def test_500_then_502_on_send_is_retried_and_delivered_once(shared: Harness) -> None:
    emu = shared.emu
    user, chat = shared.private("Sam")
    emu.inject("sendMessage", ServerError(500))
    emu.inject("sendMessage", ServerError(502))
    update = emu.send_message(chat, user, TAX_QUESTION)
    emu.wait_for(lambda: emu.delivered(chat["id"]) >= 1, timeout=20)
    shared.settle(update)

    assert emu.delivered(chat["id"]) == 1
    assert [call.status for call in sends(emu, chat["id"])] == [500, 502, 200]
    assert TAX_ANSWER in texts(emu, chat["id"])[0]


@pytest.mark.parametrize(
    "faults",
    [
        pytest.param([ServerError(500), ServerError(502), ServerError(503)], id="5xx"),
        pytest.param([Drop(process=False), Drop(process=False)], id="dropped"),
    ],
)
def test_polling_survives_failed_get_updates(shared: Harness, faults: list[object]) -> None:
    emu = shared.emu
    user, chat = shared.private("Pat")
    failed_before = sum(call.status != 200 for call in emu.calls("getUpdates"))
    for fault in faults:
        emu.inject("getUpdates", fault)  # type: ignore[arg-type]
    # The poll already waiting returns this one; the polls after it fail.
    first = emu.send_message(chat, user, QUESTIONS[1])
    emu.wait_for(
        lambda: (
            sum(call.status != 200 for call in emu.calls("getUpdates"))
            >= failed_before + len(faults)
        ),
        timeout=30,
        description="the injected getUpdates failures",
    )
    second = emu.send_message(chat, user, QUESTIONS[2])
    emu.wait_for(lambda: emu.delivered(chat["id"]) >= 2, timeout=30)
    shared.settle(first, second)

    assert emu.delivered(chat["id"]) == 2
    assert emu.calls("getUpdates")[-1].status in {0, 200}  # still polling
    assert shared.bot.thread.is_alive()


def test_send_dropped_before_processing_is_retried_and_delivered_once(shared: Harness) -> None:
    emu = shared.emu
    user, chat = shared.private("Dora")
    emu.inject("sendMessage", Drop(process=False))
    update = emu.send_message(chat, user, TAX_QUESTION)
    emu.wait_for(lambda: emu.delivered(chat["id"]) >= 1, timeout=20)
    shared.settle(update)

    assert emu.delivered(chat["id"]) == 1
    assert [call.status for call in sends(emu, chat["id"])] == [0, 200]


def test_read_timeout_on_delivered_send_is_not_repeated(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The message reached the chat but its reply came after BOT_SEND_TIMEOUT_SECONDS:
    the bot must neither send the answer again nor tell the user that it failed."""
    with (
        BotApiEmulator() as emu,
        serving(emu, engine, tmp_path / "state", bot_send_timeout_seconds=1) as bot,
    ):
        user = emu.new_user("Tim")
        chat = emu.private_chat(user)
        emu.inject("sendMessage", Delay(2.5, process=True))
        update = emu.send_message(chat, user, TAX_QUESTION)
        emu.wait_for(lambda: emu.delivered(chat["id"]) >= 1, timeout=20)
        settle(emu, bot, update)

        assert TAX_ANSWER in texts(emu, chat["id"])[0]
        assert texts(emu, chat["id"])[1:] == []  # no resend, no "something went wrong"
        assert emu.delivered(chat["id"]) == 1
        assert error_records(caplog) == []


@pytest.mark.parametrize(
    "description",
    [
        'Bad Request: can\'t parse entities: Unsupported start tag "blockquote" at byte offset 0',
        "Bad Request: message is too long",
    ],
    ids=["cant-parse", "too-long"],
)
def test_refused_html_falls_back_to_plain_text_once(shared: Harness, description: str) -> None:
    emu = shared.emu
    user, chat = shared.private("Pia")
    emu.inject("sendMessage", BadRequest(description))
    update = emu.send_message(chat, user, TAX_QUESTION)
    emu.wait_for(lambda: emu.delivered(chat["id"]) >= 1, timeout=20)
    shared.settle(update)

    assert emu.delivered(chat["id"]) == 1
    refused, plain = sends(emu, chat["id"])
    assert (refused.status, refused.params.get("parse_mode")) == (400, "HTML")
    assert (plain.status, plain.params.get("parse_mode")) == (200, None)
    text = texts(emu, chat["id"])[0]
    assert TAX_ANSWER in text
    assert "<b>" not in text and "&amp;" not in text and "<blockquote>" not in text
    assert "entities" not in emu.bot_messages(chat["id"])[0]


def test_blocked_user_is_skipped_and_others_are_still_answered(
    shared: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    emu = shared.emu
    blocker, blocked_chat = shared.private("Bea")
    other, other_chat = shared.private("Ben")
    emu.block_chat(blocked_chat["id"])
    skipped_before = shared.bot.services.delivery.blocked
    refused = emu.send_message(blocked_chat, blocker, TAX_QUESTION)
    emu.wait_for(lambda: [c for c in sends(emu, blocked_chat["id"]) if c.status == 403])
    answered = emu.send_message(other_chat, other, QUESTIONS[3])
    emu.wait_for(lambda: emu.delivered(other_chat["id"]) >= 1, timeout=20)
    shared.settle(refused, answered)

    assert emu.delivered(blocked_chat["id"]) == 0
    assert [call.status for call in sends(emu, blocked_chat["id"])] == [403]  # tried once
    assert shared.bot.services.delivery.blocked == skipped_before + 1
    assert emu.delivered(other_chat["id"]) == 1
    assert shared.bot.thread.is_alive()
    assert error_records(caplog) == []
    no_internal_errors(emu)


def test_migrated_group_is_followed_once(shared: Harness) -> None:
    emu = shared.emu
    member = emu.new_user("Mia")
    group = emu.group_chat("Old group")
    new_id = -1_000_000_000_000 + group["id"]  # an unused supergroup id
    emu.migrate_chat(group["id"], new_id)

    first = emu.send_message(group, member, f"/ask {TAX_QUESTION}")
    emu.wait_for(lambda: emu.delivered(new_id) >= 1, timeout=20)
    shared.settle(first)
    assert emu.delivered(new_id) == 1
    assert TAX_ANSWER in texts(emu, new_id)[0]

    # An update still addressed to the old id: answered in the new supergroup directly.
    second = emu.send_message(group, member, f"/ask {QUESTIONS[4]}")
    emu.wait_for(lambda: emu.delivered(new_id) >= 2, timeout=20)
    shared.settle(second)
    assert emu.delivered(new_id) == 2
    assert emu.delivered(group["id"]) == 0
    migrate_errors = [call for call in sends(emu, group["id"]) if call.status == 400]
    assert len(migrate_errors) <= 1
    assert all(call.status == 200 for call in sends(emu, new_id))


def test_migration_service_message_redirects_before_any_error(shared: Harness) -> None:
    emu = shared.emu
    member = emu.new_user("Max")
    group = emu.group_chat("Announced move")
    new_id = -1_000_000_000_000 + group["id"]
    emu.migrate_chat(group["id"], new_id)
    notice = emu.send_message(group, member, "", migrate_to_chat_id=new_id)
    shared.settle(notice)
    question = emu.send_message(group, member, f"/ask {TAX_QUESTION}")
    emu.wait_for(lambda: emu.delivered(new_id) >= 1, timeout=20)
    shared.settle(question)

    assert emu.delivered(new_id) == 1
    assert sends(emu, group["id"]) == []
    assert messages.INTERNAL_ERROR not in texts(emu, new_id)[0]
