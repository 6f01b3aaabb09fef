from pathlib import Path

from knowledge import Engine

from tests.support.botrunner import assert_valid_html_everywhere, running_bot
from tests.support.emulator import BotApiEmulator


def test_private_question(engine: Engine, tmp_path: Path) -> None:
    with BotApiEmulator() as emu, running_bot(emu, engine, tmp_path / "state"):
        alice = emu.new_user("Alice")
        chat = emu.private_chat(alice)
        question = emu.send_message(chat, alice, "What share of tax revenue comes from SMEs?")
        messages = emu.wait_for_messages(chat["id"], 1)
        print(messages)
        assert "half of tax revenue" in messages[0]["text"]
        assert messages[0]["reply_to_message"]["message_id"] == question["message"]["message_id"]
        assert_valid_html_everywhere(emu)
