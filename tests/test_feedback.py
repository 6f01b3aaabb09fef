"""👍/👎 under answers and the knowledge gaps they reveal: the real bot against the Bot API
emulator, answering from canned answers (retrieval is not the point here), with its
feedback read back through /stats, /gaps and `python -m bot gaps`."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bot import messages
from bot.feedback import FeedbackStore, Gap, feedback_path, read_gaps
from tests.support.botrunner import RunningBot, assert_valid_html_everywhere, running_bot
from tests.support.canned_backend import CannedBackend
from tests.support.cli import CliRun
from tests.support.emulator import BotApiEmulator
from tests.support.keyboards import button, buttons
from tests.support.telegram_html import check_message
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(120)

JSON = dict[str, Any]
BOT = "LittleGiantsBot"
TIMEOUT = 30.0
TOPICS = {
    "tax": ["tax-report", "sme-survey"],
    "giants": ["giants-list"],
    "policy": ["policy-a", "policy-b", "policy-c", "policy-d", "policy-e"],
}
TAX_QUESTION = "What share of tax revenue do SMEs contribute?"
GIANTS_QUESTION = "How many little giants are there?"
FOOTBALL_QUESTION = "Which football club won the league?"
CAKE_QUESTION = "How long should I bake a <b>lemon</b> & drizzle cake?"
ADMIN: JSON = {"id": 42, "is_bot": False, "first_name": "Ada", "username": "ada_admin"}


# --------------------------------------------------------------------------- helpers


def ask(emu: BotApiEmulator, chat: JSON, user: JSON, text: str) -> JSON:
    message: JSON = emu.send_message(chat, user, text)["message"]
    return message


def replies(emu: BotApiEmulator, message: JSON) -> list[JSON]:
    return [
        sent
        for sent in emu.bot_messages(message["chat"]["id"])
        if (sent.get("reply_to_message") or {}).get("message_id") == message["message_id"]
    ]


def wait_reply(emu: BotApiEmulator, message: JSON) -> JSON:
    found = emu.wait_for(lambda: replies(emu, message), TIMEOUT, description="a reply")
    return found[0]


def callback_answer(emu: BotApiEmulator, press: JSON) -> JSON:
    query_id = press["callback_query"]["id"]
    return emu.wait_for(
        lambda: [a for a in emu.callback_answers() if a["callback_query_id"] == query_id],
        TIMEOUT,
        description="the button press to be answered",
    )[0]


def press(emu: BotApiEmulator, message: JSON, user: JSON, label: str) -> str:
    """Press the `label` button under `message`; the notification the presser sees."""
    update = emu.press_button(message, user, button(message, label)["callback_data"])
    return str(callback_answer(emu, update).get("text"))


def recorded(state_dir: Path, message: JSON) -> None:
    """Wait until the bot has recorded the answer `message` carries (it does so right after
    sending it), so a press is not handled before the record exists."""
    store = FeedbackStore(feedback_path(state_dir))
    try:
        wait_until(
            lambda: store.answer_at(message["chat"]["id"], message["message_id"]),
            TIMEOUT,
            description="the answer in the feedback store",
        )
    finally:
        store.close()


def handled(state_dir: Path, update: JSON) -> None:
    """Wait until the bot has finished handling `update` (its journal says so)."""
    journal = sqlite3.connect(state_dir / "updates.sqlite3")
    query = "SELECT done FROM updates WHERE update_id = ?"
    try:
        wait_until(
            lambda: journal.execute(query, (update["update_id"],)).fetchone() == (1,),
            TIMEOUT,
            description=f"update {update['update_id']} handled",
        )
    finally:
        journal.close()


def answered(emu: BotApiEmulator, state_dir: Path, chat: JSON, user: JSON, text: str) -> JSON:
    """Ask `text`; the bot's (recorded) answer."""
    reply = wait_reply(emu, ask(emu, chat, user, text))
    recorded(state_dir, reply)
    return reply


def helpful_line(emu: BotApiEmulator) -> str:
    """The helpful rate from /stats, asked by the admin."""
    reply = wait_reply(emu, ask(emu, emu.private_chat(ADMIN), ADMIN, "/stats"))
    (line,) = [str(line) for line in reply["text"].splitlines() if "helpful" in line.lower()]
    return line


def sends(emu: BotApiEmulator) -> int:
    return len(emu.calls("sendMessage"))


@contextmanager
def serving(emu: BotApiEmulator, state_dir: Path) -> Iterator[RunningBot]:
    with running_bot(
        emu, CannedBackend(TOPICS), state_dir, bot_admin_user_ids=frozenset({ADMIN["id"]})
    ) as bot:
        yield bot


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def emu() -> Iterator[BotApiEmulator]:
    with BotApiEmulator() as emulator:
        yield emulator
        assert_valid_html_everywhere(emulator)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def bot(emu: BotApiEmulator, state_dir: Path) -> Iterator[RunningBot]:
    with serving(emu, state_dir) as running:
        yield running


@pytest.fixture
def alice(emu: BotApiEmulator) -> JSON:
    return emu.new_user("Alice", username="alice_w")


@pytest.fixture
def bob(emu: BotApiEmulator) -> JSON:
    return emu.new_user("Bob", username="bob_k")


# --------------------------------------------------------------------------- buttons


@pytest.mark.usefixtures("bot")
def test_every_answer_has_vote_buttons_in_private_and_in_groups(
    emu: BotApiEmulator, alice: JSON
) -> None:
    private = wait_reply(emu, ask(emu, emu.private_chat(alice), alice, TAX_QUESTION))
    group = emu.group_chat("Team", supergroup=True)
    in_group = wait_reply(emu, ask(emu, group, alice, f"/ask@{BOT} {TAX_QUESTION}"))
    declined = wait_reply(emu, ask(emu, emu.private_chat(alice), alice, FOOTBALL_QUESTION))

    for reply in (private, in_group, declined):
        assert button(reply, "👍")["callback_data"] == "vote:up"
        assert button(reply, "👎")["callback_data"] == "vote:down"
    for reply in (private, in_group):
        assert button(reply, "Share")["switch_inline_query"] == TAX_QUESTION
    assert "Share" not in [b["text"] for b in buttons(declined)]


@pytest.mark.usefixtures("bot")
def test_a_vote_is_acknowledged_in_a_notification_not_a_message(
    emu: BotApiEmulator, state_dir: Path, alice: JSON, bob: JSON
) -> None:
    for chat in (emu.group_chat("Team"), emu.private_chat(alice)):
        answer = answered(emu, state_dir, chat, alice, f"/ask {TAX_QUESTION}")
        before = sends(emu)
        voter = bob if chat["type"] == "group" else alice
        assert press(emu, answer, voter, "👍") == messages.VOTED_UP == "Thanks — noted 👍"
        assert press(emu, answer, voter, "👎") == messages.VOTED_DOWN
        # Each press is answered as its handler's last step: nothing can follow it.
        assert sends(emu) == before
        assert [m["message_id"] for m in emu.bot_messages(chat["id"])] == [answer["message_id"]]


@pytest.mark.usefixtures("bot")
def test_one_vote_per_user_per_answer_and_the_helpful_rate(
    emu: BotApiEmulator, state_dir: Path, alice: JSON, bob: JSON
) -> None:
    assert helpful_line(emu).endswith("no votes yet")
    group = emu.group_chat("Team", supergroup=True)
    answer = answered(emu, state_dir, group, alice, f"@{BOT} {TAX_QUESTION}")

    press(emu, answer, alice, "👍")
    assert press(emu, answer, alice, "👎") == messages.VOTED_DOWN  # switched, not added
    assert helpful_line(emu).endswith(": 0% (0 👍, 1 👎)")
    assert press(emu, answer, alice, "👎") == messages.VOTE_WITHDRAWN  # the same again
    assert helpful_line(emu).endswith("no votes yet")

    press(emu, answer, alice, "👎")
    press(emu, answer, bob, "👍")
    other = answered(emu, state_dir, group, bob, f"/ask {GIANTS_QUESTION}")
    press(emu, other, bob, "👍")
    assert helpful_line(emu).endswith(": 67% (2 👍, 1 👎)")


@pytest.mark.usefixtures("bot")
def test_excerpts_sent_by_more_sources_carry_the_same_answer(
    emu: BotApiEmulator, state_dir: Path, alice: JSON
) -> None:
    chat = emu.private_chat(alice)
    answer = answered(emu, state_dir, chat, alice, "What does the policy say?")
    update = emu.press_button(answer, alice, button(answer, "More sources")["callback_data"])
    callback_answer(emu, update)
    more = wait_reply(emu, answer)
    recorded(state_dir, more)

    press(emu, answer, alice, "👍")
    assert press(emu, more, alice, "👎") == messages.VOTED_DOWN
    assert helpful_line(emu).endswith(": 0% (0 👍, 1 👎)")  # one vote, switched
    assert press(emu, more, alice, "👎") == messages.VOTE_WITHDRAWN


def test_votes_survive_a_restart(
    emu: BotApiEmulator, state_dir: Path, alice: JSON, bob: JSON
) -> None:
    chat = emu.private_chat(alice)
    with serving(emu, state_dir):
        answer = answered(emu, state_dir, chat, alice, TAX_QUESTION)
        press(emu, answer, alice, "👎")
        press(emu, answer, bob, "👎")

    with serving(emu, state_dir):
        assert helpful_line(emu).endswith(": 0% (0 👍, 2 👎)")
        # Alice's vote from before the restart is switched, not joined by a second one.
        assert press(emu, answer, alice, "👍") == messages.VOTED_UP
        assert helpful_line(emu).endswith(": 50% (1 👍, 1 👎)")


@pytest.mark.usefixtures("bot")
def test_votes_on_an_answer_posted_through_inline_mode(
    emu: BotApiEmulator, state_dir: Path, alice: JSON, bob: JSON
) -> None:
    query = emu.inline_query(alice, TAX_QUESTION)["inline_query"]["id"]
    inline = emu.wait_for(
        lambda: [a for a in emu.inline_answers() if a["inline_query_id"] == query], TIMEOUT
    )
    (article,) = inline[0]["results"]
    up, down = button(article, "👍")["callback_data"], button(article, "👎")["callback_data"]
    assert up.startswith("vote:up:") and down.startswith("vote:down:")
    assert max(len(up.encode()), len(down.encode())) <= 64
    assert "More sources" not in [b["text"] for b in buttons(article)]

    # Posted twice (two inline messages): each user still has one vote on the answer.
    posted = emu.press_inline_button(alice, down)["callback_query"]["inline_message_id"]
    assert callback_answer(emu, emu.press_inline_button(bob, down))["text"] == messages.VOTED_DOWN
    again = emu.press_inline_button(alice, up, posted)
    assert callback_answer(emu, again)["text"] == messages.VOTED_UP
    assert helpful_line(emu).endswith(": 50% (1 👍, 1 👎)")
    gaps = read_gaps(state_dir)
    assert [(g.question, g.kind, g.doc_ids) for g in gaps] == [
        (TAX_QUESTION, "disliked", TOPICS["tax"])
    ]


@pytest.mark.usefixtures("bot")
def test_a_vote_on_an_answer_sent_before_votes_were_recorded(
    emu: BotApiEmulator, state_dir: Path, alice: JSON
) -> None:
    """Its question is read from the message it replies to, as "More sources" does."""
    chat = emu.private_chat(alice)
    now = int(time.time())
    question = {"message_id": 9001, "date": now, "chat": chat, "from": alice, "text": TAX_QUESTION}
    old = {
        "message_id": 9002,
        "date": now,
        "chat": chat,
        "from": emu.bot_user,
        "text": f"❓ {TAX_QUESTION}",
        "reply_to_message": question,
    }
    assert callback_answer(emu, emu.press_button(old, alice, "vote:down"))["text"] == (
        messages.VOTED_DOWN
    )
    lonely = {**old, "message_id": 9003, "reply_to_message": None}
    assert callback_answer(emu, emu.press_button(lonely, alice, "vote:down"))["text"] == (
        messages.VOTE_UNKNOWN
    )
    assert read_gaps(state_dir) == [
        Gap(
            question=TAX_QUESTION,
            kind="disliked",
            count=1,
            last_asked=read_gaps(state_dir)[0].last_asked,
            doc_ids=TOPICS["tax"],
        )
    ]


# --------------------------------------------------------------------------- gaps


@pytest.mark.usefixtures("bot")
def test_gaps_lists_disliked_and_declined_questions_most_frequent_first(
    emu: BotApiEmulator, state_dir: Path, cli: CliRun, alice: JSON, bob: JSON
) -> None:
    env = {"BOT_STATE_DIR": str(state_dir)}
    started = int(time.time())
    private, group = emu.private_chat(alice), emu.group_chat("Team", supergroup=True)
    disliked = answered(emu, state_dir, private, alice, TAX_QUESTION)
    press(emu, disliked, alice, "👎")
    press(emu, answered(emu, state_dir, private, alice, GIANTS_QUESTION), alice, "👍")
    answered(emu, state_dir, group, bob, f"@{BOT} {FOOTBALL_QUESTION}")
    answered(emu, state_dir, group, bob, f"/ask {CAKE_QUESTION}")
    latest_wording = "which   FOOTBALL club won the league"
    answered(emu, state_dir, private, alice, latest_wording)

    result = cli("gaps", "--json", env=env)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0] == {
        "question": latest_wording,
        "kind": "declined",
        "count": 2,
        "last_asked": lines[0]["last_asked"],
    }
    assert sorted((line["question"], line["kind"], line["count"]) for line in lines[1:]) == [
        (CAKE_QUESTION, "declined", 1),
        (TAX_QUESTION, "disliked", 1),
    ]
    (tax,) = [line for line in lines if line["kind"] == "disliked"]
    assert tax["doc_ids"] == TOPICS["tax"]
    for line in lines:
        asked = line["last_asked"]
        assert asked.endswith("Z")
        assert started - 1 <= datetime.fromisoformat(asked).timestamp() <= time.time() + 1

    table = cli("gaps", env=env)
    assert table.returncode == 0, table.stderr
    rows = table.stdout.splitlines()
    assert rows[1].split()[:2] == ["2", "declined"]
    assert rows[1].endswith(" ".join(latest_wording.split()))  # one line per question
    assert any(row.strip() == "cited: tax-report, sme-survey" for row in rows)


def test_gaps_with_nothing_recorded(cli: CliRun, tmp_path: Path) -> None:
    env = {"BOT_STATE_DIR": str(tmp_path / "never-used")}
    table = cli("gaps", env=env)
    assert table.returncode == 0, table.stderr
    assert table.stdout.strip() == messages.GAPS_EMPTY
    as_json = cli("gaps", "--json", env=env)
    assert (as_json.returncode, as_json.stdout, as_json.stderr) == (0, "", "")


@pytest.mark.usefixtures("bot")
def test_gaps_command_for_admins_only(
    emu: BotApiEmulator, state_dir: Path, alice: JSON, bob: JSON
) -> None:
    admin_chat = emu.private_chat(ADMIN)
    empty = wait_reply(emu, ask(emu, admin_chat, ADMIN, "/gaps"))
    assert empty["text"] == messages.GAPS_EMPTY

    answered(emu, state_dir, emu.private_chat(bob), bob, CAKE_QUESTION)
    listed = wait_reply(emu, ask(emu, admin_chat, ADMIN, "/gaps"))
    shown = check_message(_html_of(emu, listed)).text
    assert CAKE_QUESTION in shown  # its markup shown as text
    assert "1× declined" in listed["text"]

    refused = wait_reply(emu, ask(emu, emu.private_chat(alice), alice, "/gaps"))
    assert refused["text"] == messages.ADMIN_ONLY

    group = emu.group_chat("Team")
    before = sends(emu)
    handled(state_dir, emu.send_message(group, alice, f"/gaps@{BOT}"))
    assert sends(emu) == before
    assert emu.bot_messages(group["id"]) == []


def _html_of(emu: BotApiEmulator, message: JSON) -> str:
    for call in emu.calls("sendMessage"):
        result = (call.response or {}).get("result") or {}
        if result.get("message_id") == message["message_id"] and (
            result["chat"]["id"] == message["chat"]["id"]
        ):
            return str(call.params["text"])
    raise AssertionError("no such message")
