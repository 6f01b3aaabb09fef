"""What the start-up tests share: the attempt line, and a clean run's output."""

from __future__ import annotations

import re

from tests.support.botrunner import BotProcess, assert_token_hidden
from tests.support.emulator import BotApiEmulator
from tests.support.reliability import TAX_ANSWER, TAX_QUESTION, texts

ATTEMPT = "start-up: Telegram did not answer"
STOP_TIMEOUT = 20  # seconds from SIGTERM to exit, on a loaded machine (it was 26-35 s)


def ask(emu: BotApiEmulator, name: str) -> int:
    """A question in a new private chat, answered; the chat id."""
    user = emu.new_user(name)
    chat = emu.private_chat(user)
    emu.send_message(chat, user, TAX_QUESTION)
    emu.wait_for(lambda: emu.delivered(chat["id"]) >= 1, timeout=60, description="an answer")
    assert TAX_ANSWER in texts(emu, chat["id"])[0]
    return int(chat["id"])


def assert_clean(emu: BotApiEmulator, *bots: BotProcess) -> None:
    for bot in bots:
        output = bot.output()
        assert "Traceback" not in output, output[-3000:]
        assert "Unclosed" not in output, output[-3000:]
        assert_token_hidden(emu, output)


def attempt_numbers(lines: list[str]) -> list[int]:
    return [int(match[1]) for line in lines if (match := re.search(r"attempt (\d+) failed", line))]


def assert_one_line_per_attempt(bot: BotProcess) -> None:
    lines = bot.lines(ATTEMPT)
    assert attempt_numbers(lines) == list(range(1, len(lines) + 1)), lines
    assert not bot.lines("retry 1 in"), bot.output()  # no inner retries, each with a line
