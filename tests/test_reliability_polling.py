"""`python -m bot run` polling through trouble: 409 conflicts (another instance with the same
token) and failed polls are one log line per burst, not a traceback each, and /stats counts
the conflicts; update ids that Telegram reuses for new updates are answered, while an update
sent again is still answered once."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from telegram.error import Conflict as ConflictError
from telegram.error import NetworkError

from bot.stats import Stats
from bot.surface.app import PollingErrors
from knowledge import Engine
from tests.support.botrunner import BotProcess, assert_token_hidden
from tests.support.emulator import BotApiEmulator, Conflict, ServerError
from tests.support.reliability import JSON, QUESTIONS, TAX_QUESTION, expected_messages, texts

CONFLICTS = 2  # a burst: one log line (python-telegram-bot backs off 1 s, then 1.5 s)


def _private(emu: BotApiEmulator, name: str) -> tuple[JSON, JSON]:
    user = emu.new_user(name)
    return user, emu.private_chat(user)


def _failed_polls(emu: BotApiEmulator, status: int) -> int:
    return sum(call.status == status for call in emu.calls("getUpdates"))


def test_polling_errors_log_one_line_for_each_burst_of_a_kind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stats = Stats()
    report = PollingErrors(stats)  # bursts end after five quiet minutes
    with caplog.at_level(logging.WARNING):
        for _ in range(5):
            report(ConflictError("Conflict: terminated by other getUpdates request"))
        report(NetworkError("Bad Gateway"))
        report(NetworkError("Bad Gateway"))
    assert stats.polling_conflicts == 5
    assert len(caplog.records) == 2, [r.getMessage() for r in caplog.records]
    assert not any(r.exc_info for r in caplog.records)

    caplog.clear()
    eager = PollingErrors(Stats(), quiet=0.0)  # every failure is a burst of its own
    with caplog.at_level(logging.WARNING):
        eager(NetworkError("Bad Gateway"))
        eager(NetworkError("Bad Gateway"))
    assert len(caplog.records) == 2


def test_polling_through_conflicts_failures_reused_ids_and_redeliveries(
    index_dir: Path, tmp_path: Path, engine: Engine, processes: list[BotProcess]
) -> None:
    """Two runs on one state directory. In the first, 409 conflicts (another instance with
    the same token) and failed polls are one log line per burst, not a traceback each, and
    /stats counts the conflicts. Then Telegram picks update ids at random (as after a week
    without updates), so a new question carries the id of one answered before, and it sends
    an unconfirmed update again: the second run answers the new one, and the old one not
    again."""
    state = tmp_path / "state"
    with BotApiEmulator() as emu:
        admin, admin_chat = _private(emu, "Admin")
        first = BotProcess(
            emu,
            state,
            index_dir,
            tmp_path / "first.log",
            BOT_ENGINE_WORKERS="0",
            BOT_ADMIN_USER_IDS=str(admin["id"]),
        )
        processes.append(first)
        first.started()

        emu.inject("getUpdates", Conflict(), times=CONFLICTS)
        early_user, early_chat = _private(emu, "Early")
        early = emu.send_message(early_chat, early_user, TAX_QUESTION)  # the poll returns it
        emu.wait_for(lambda: _failed_polls(emu, 409) == CONFLICTS, timeout=60)
        emu.inject("getUpdates", ServerError(502), times=2)
        emu.send_message(early_chat, early_user, QUESTIONS[1])
        emu.wait_for(lambda: _failed_polls(emu, 502) == 2, timeout=60)
        emu.send_message(admin_chat, admin, "/stats")
        emu.wait_for(lambda: emu.delivered(admin_chat["id"]) >= 1, timeout=60)
        early_answers = expected_messages(engine, TAX_QUESTION) + expected_messages(
            engine, QUESTIONS[1]
        )
        emu.wait_for(lambda: emu.delivered(early_chat["id"]) >= early_answers, timeout=60)
        assert first.stop() == 0

        stats = texts(emu, admin_chat["id"])[0]
        assert f"Polling conflicts (another instance with this token): {CONFLICTS}" in stats
        conflict_lines, failure_lines = first.lines("Conflict"), first.lines("getUpdates failed")
        assert len(conflict_lines) == 1, first.output()
        assert "only one bot instance" in conflict_lines[0]
        assert len(failure_lines) == 1, first.output()
        assert "Bad Gateway" in failure_lines[0]

        emu.restart_update_ids(early["update_id"])
        late_user, late_chat = _private(emu, "A week later")
        late = emu.send_message(late_chat, late_user, QUESTIONS[1])
        assert late["update_id"] == early["update_id"]
        emu.redeliver(early)  # the same update again: not to be answered twice

        second = BotProcess(emu, state, index_dir, tmp_path / "second.log", BOT_ENGINE_WORKERS="0")
        processes.append(second)
        second.started()
        expected = expected_messages(engine, QUESTIONS[1])
        emu.wait_for(lambda: emu.delivered(late_chat["id"]) >= expected, timeout=60)
        second.wait_for_lines(f"update {early['update_id']} already handled; skipped", 1)
        assert second.stop() == 0

    assert emu.delivered(early_chat["id"]) == early_answers
    assert emu.delivered(late_chat["id"]) == expected
    assert all(text.startswith("❓") for text in texts(emu, late_chat["id"]))
    for bot in (first, second):
        assert "Traceback" not in bot.output()
        assert_token_hidden(emu, bot.output())
