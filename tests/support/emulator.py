"""A Telegram Bot API emulator for end-to-end tests of the bot.

:class:`BotApiEmulator` serves the Bot API on 127.0.0.1 from a background thread so that
an unmodified python-telegram-bot client (in a thread or a subprocess) can talk to it
through ``base_url``. Test code builds inbound updates, inspects what the bot sent and
injects faults (429, 409, 5xx, timeouts, dropped connections) through a synchronous,
thread-safe API. Given a ``port`` (see :func:`free_port`), its ``base_url`` is known before
it starts: a bot can be started against a Bot API that is not there yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import itertools
import json
import math
import re
import socket
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, TypeVar

import telegram
from aiohttp import web

from .telegram_html import MAX_MESSAGE_LENGTH, TelegramHtmlError, parse_html

JSON = dict[str, Any]
T = TypeVar("T")

MAX_CAPTION_LENGTH = 1024
MAX_DOWNLOAD_BYTES = 20 * 2**20  # bots may download files of up to 20 MB
_PATH_RE = re.compile(r"/bot([^/]+)/([A-Za-z0-9_]+)/?")
_FILE_PATH_RE = re.compile(r"/file/bot([^/]+)/(.+)")
_NUMBER_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")
_AUTO_ENTITY_RE = re.compile(
    r"(?<![\w/@])(?:(?P<command>/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?)"
    r"|(?P<mention>@[A-Za-z0-9_]{5,32}))(?![\w@/])"
)
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
# All Bot API methods python-telegram-bot knows, by lower-cased name (Telegram ignores case).
_METHODS = {
    name.lower(): name
    for name in [*dir(telegram.Bot), "close"]
    if re.fullmatch(r"[a-z]+(?:[A-Z][a-z0-9]*)*", name)
    and (name == "close" or name != name.lower())
}
# fmt: off
# String-typed parameters that must never be converted to numbers, booleans or JSON.
_TEXT_PARAMS = frozenset([
    "text", "caption", "title", "description", "short_description", "next_offset",
    "switch_pm_text", "switch_pm_parameter", "inline_query_id", "callback_query_id",
    "shipping_query_id", "pre_checkout_query_id", "web_app_query_id", "business_connection_id",
    "message_effect_id", "custom_emoji_id", "inline_message_id", "url", "parse_mode", "question",
    "explanation", "emoji", "address", "first_name", "last_name", "phone_number", "vcard", "name",
    "custom_title", "language_code", "secret_token", "ip_address", "payload", "provider_token",
    "currency", "start_parameter", "performer", "file_id", "photo", "audio", "document", "video",
    "animation", "voice", "video_note", "sticker", "thumbnail", "action", "invite_link",
    "foursquare_id", "foursquare_type", "google_place_id", "google_place_type", "gift_id",
])
_CHAT_ACTIONS = frozenset([
    "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
    "upload_document", "choose_sticker", "find_location", "record_video_note",
    "upload_video_note",
])
_BUTTON_ACTIONS = frozenset([
    "url", "callback_data", "web_app", "login_url", "switch_inline_query",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
    "callback_game", "pay",
])
_DEFAULT_ALLOWED_UPDATES = frozenset([  # everything but chat_member and message reactions
    "message", "edited_message", "channel_post", "edited_channel_post", "business_connection",
    "business_message", "edited_business_message", "deleted_business_messages", "inline_query",
    "chosen_inline_result", "callback_query", "shipping_query", "pre_checkout_query",
    "purchased_paid_media", "poll", "poll_answer", "my_chat_member", "chat_join_request",
    "chat_boost", "removed_chat_boost",
])
# fmt: on
_SEND_MEDIA_METHODS = {
    "sendPhoto": "photo",
    "sendSticker": "sticker",
    "sendVoice": "voice",
    "sendVideo": "video",
    "sendDocument": "document",
    "sendAudio": "audio",
    "sendLocation": "location",
    "sendContact": "contact",
    "sendAnimation": "animation",
    "sendVideoNote": "video_note",
    "sendPoll": "poll",
    "sendDice": "dice",
    "sendVenue": "venue",
}
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
_QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"
_BLOCKED = {
    "private": "bot was blocked by the user",
    "group": "bot was kicked from the group chat",
    "supergroup": "bot was kicked from the supergroup chat",
    "channel": "bot is not a member of the channel chat",
}


# --------------------------------------------------------------------------- faults


@dataclass(frozen=True)
class RetryAfter:
    """Answer 429 flood control with ``retry_after``; the request is not processed."""

    seconds: int


@dataclass(frozen=True)
class ServerError:
    """Answer with an HTTP error status (500, 502, ...); the request is not processed."""

    status: int = 500
    description: str | None = None


@dataclass(frozen=True)
class Conflict:
    """Answer 409 as Telegram does when another instance polls with the same token; the
    request is not processed."""

    description: str = (
        "Conflict: terminated by other getUpdates request; make sure that only one bot "
        "instance is running"
    )


@dataclass(frozen=True)
class Delay:
    """Answer ``seconds`` late; ``process=True`` delivers before sleeping, else after."""

    seconds: float
    process: bool = True


@dataclass(frozen=True)
class Drop:
    """Close the connection without a response, after processing the request or instead."""

    process: bool


@dataclass(frozen=True)
class BadRequest:
    """Answer 400 with ``description``; the request is not processed."""

    description: str


Fault = RetryAfter | ServerError | Conflict | Delay | Drop | BadRequest


@dataclass
class Call:
    """One recorded request: ``time`` of arrival (monotonic), decoded ``params``, the
    ``response`` body the emulator produced and the HTTP ``status`` the client received,
    0 if it received none (a Drop fault, or the client gave up first)."""

    method: str
    params: JSON
    time: float
    status: int = 0
    response: JSON | None = None


class _ApiError(Exception):
    """A Bot API error response."""

    def __init__(self, status: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad(description: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {description}")


def _fault_error(fault: RetryAfter | ServerError | Conflict | BadRequest) -> _ApiError:
    if isinstance(fault, RetryAfter):
        return _ApiError(
            429, f"Too Many Requests: retry after {fault.seconds}", {"retry_after": fault.seconds}
        )
    if isinstance(fault, Conflict):
        return _ApiError(409, fault.description)
    if isinstance(fault, ServerError):
        return _ApiError(fault.status, fault.description or HTTPStatus(fault.status).phrase)
    return _bad(fault.description.removeprefix("Bad Request: "))


# --------------------------------------------------------------------------- helpers


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _auto_entities(text: str) -> list[JSON]:
    """Bot command and mention entities as Telegram adds them to inbound text."""
    entities = []
    for match in _AUTO_ENTITY_RE.finditer(text):
        entities.append(
            {
                "type": "bot_command" if match.group("command") else "mention",
                "offset": _utf16_length(text[: match.start()]),
                "length": _utf16_length(match.group()),
            }
        )
    return entities


def _file(kind: str, number: int, **fields: Any) -> JSON:
    return {"file_id": f"{kind}-{number}", "file_unique_id": f"u-{kind}-{number}", **fields}


MEDIA_KINDS = (
    "photo", "sticker", "voice", "video", "document", "audio", "location", "contact",
    "animation", "video_note", "poll", "dice", "venue",
)  # fmt: skip


def _media_fields(kind: str, number: int) -> JSON:
    """Minimal, schema-valid message fields of a non-text message of ``kind``."""
    location = {"latitude": 52.52, "longitude": 13.405}
    animation = _file("animation", number, width=320, height=240, duration=3)
    options = [
        {"text": text, "voter_count": 0, "persistent_id": f"{number}-{index}"}
        for index, text in enumerate(("Yes", "No"))
    ]
    fields: dict[str, JSON] = {
        "photo": {
            "photo": [
                _file("photo-s", number, width=90, height=60, file_size=1200),
                _file("photo-m", number, width=800, height=533, file_size=48000),
            ]
        },
        "sticker": {
            "sticker": _file(
                "sticker",
                number,
                type="regular",
                width=512,
                height=512,
                is_animated=False,
                is_video=False,
                emoji="\N{THUMBS UP SIGN}",
            )
        },
        "voice": {"voice": _file("voice", number, duration=2, mime_type="audio/ogg")},
        "video": {"video": _file("video", number, width=640, height=360, duration=5)},
        "document": {
            "document": _file(
                "document", number, file_name="notes.pdf", mime_type="application/pdf"
            )
        },
        "audio": {"audio": _file("audio", number, duration=180, title="Song")},
        "location": {"location": location},
        "contact": {"contact": {"phone_number": "+15550100", "first_name": "Bob"}},
        "animation": {"animation": animation, "document": animation},
        "video_note": {"video_note": _file("video_note", number, length=240, duration=4)},
        "poll": {
            "poll": {
                "id": str(number),
                "question": "Ready?",
                "options": options,
                "total_voter_count": 0,
                "is_closed": False,
                "is_anonymous": True,
                "type": "regular",
                "allows_multiple_answers": False,
                "allows_revoting": True,
                "members_only": False,
            }
        },
        "dice": {"dice": {"emoji": "\N{GAME DIE}", "value": 1 + number % 6}},
        "venue": {
            "venue": {"location": location, "title": "Cafe", "address": "Main St 1"},
            "location": location,
        },
    }
    if kind not in fields:
        raise ValueError(f"unknown media kind {kind!r}; expected one of {sorted(fields)}")
    return fields[kind]


def _decode_param(name: str, value: Any) -> Any:
    """Undo python-telegram-bot's form encoding: JSON objects, numbers and booleans."""
    if not isinstance(value, str) or name in _TEXT_PARAMS:
        return value
    if value in ("true", "false") or _NUMBER_RE.fullmatch(value):
        return json.loads(value)
    if value.startswith(("{", "[")):
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


async def _read_params(request: web.Request) -> JSON:
    """Query-string, form, multipart or JSON parameters, decoded; files are summarised."""
    raw: JSON = dict(request.query)
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError as error:
            raise _bad("can't parse JSON object") from error
        if not isinstance(body, dict):
            raise _bad("can't parse JSON object")
        raw.update(body)
    elif request.body_exists:
        for name, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                size = len(value.file.read())
                raw[name] = {"file_name": value.filename, "size": size}
            else:
                raw[name] = value
    return {name: _decode_param(name, value) for name, value in raw.items()}


def _formatted(source: JSON, key: str, entities_key: str) -> tuple[str, list[JSON]]:
    """Plain text and entities of ``source[key]`` according to its ``parse_mode``."""
    text = str(source.get(key) or "")
    mode = source.get("parse_mode")
    if mode is None:
        entities = source.get(entities_key) or []
        if not isinstance(entities, list):
            raise _bad(f"can't parse {entities_key} JSON object")
        return text, entities
    if str(mode).lower() == "html":
        try:
            parsed = parse_html(text)
        except TelegramHtmlError as error:
            raise _bad(str(error)) from error
        return parsed.text, parsed.entities
    if str(mode).lower() in ("markdown", "markdownv2"):
        return text, []  # Markdown is accepted but not interpreted
    raise _bad(f"unsupported parse_mode {mode!r}")


def _message_text(source: JSON, key: str = "text") -> tuple[str, list[JSON]]:
    """Validated text and entities of a text message, with Telegram's errors."""
    text, entities = _formatted(source, key, "entities")
    if not text.strip():
        raise _bad("message text is empty")
    if len(text) > MAX_MESSAGE_LENGTH:
        raise _bad("message is too long")
    return text, entities


def _check_button(button: Any) -> None:
    if not isinstance(button, dict) or not button.get("text"):
        raise _bad("inline keyboard button text must be non-empty")
    if not _BUTTON_ACTIONS.intersection(button):
        raise _bad("text buttons are unallowed in the inline keyboard")
    data = button.get("callback_data")
    if data is not None and not 1 <= len(str(data).encode()) <= 64:
        raise _bad("BUTTON_DATA_INVALID")


def _inline_markup(params: JSON) -> JSON | None:
    """The inline keyboard to store on the message (other keyboards are not returned)."""
    markup = params.get("reply_markup")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise _bad("can't parse reply keyboard markup JSON object")
    rows = markup.get("inline_keyboard")
    if rows is None:
        return None
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise _bad("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
    for row in rows:
        for button in row:
            _check_button(button)
    return markup


def _with(message: JSON, **fields: Any) -> JSON:
    """A copy of ``message`` with ``fields`` set, and dropped where the value is empty."""
    updated = dict(message)
    for key, value in fields.items():
        if value:
            updated[key] = value
        else:
            updated.pop(key, None)
    return updated


def _content(message: JSON) -> tuple[Any, ...]:
    keys = ("text", "entities", "caption", "caption_entities", "reply_markup")
    return tuple(message.get(key) for key in keys)


def _window_wait(times: deque[float], now: float, window: float, limit: int) -> float:
    """Seconds until another event fits into ``limit`` events per ``window`` seconds."""
    while times and times[0] <= now - window:
        times.popleft()
    return times[0] + window - now if len(times) >= limit else 0.0


def _describe(predicate: Callable[[], object]) -> str:
    """The source of ``predicate`` (typically a lambda) for a failure message."""
    try:
        return inspect.getsource(predicate).strip()
    except (OSError, TypeError):
        return repr(predicate)


# --------------------------------------------------------------------------- state


class _World:
    """Chats, messages and pending updates. Callers hold the emulator's lock."""

    def __init__(self, bot_user: JSON) -> None:
        self.bot_user = bot_user
        self.chats: dict[int, JSON] = {}
        self.usernames: dict[str, int] = {}
        self.blocked: set[int] = set()
        self.migrated: dict[int, int] = {}
        self.messages: dict[tuple[int, int], JSON] = {}
        self.last_message_id: Counter[int] = Counter()
        self.bot_keys: list[tuple[int, int]] = []
        self.bot_keys_by_chat: defaultdict[int, list[tuple[int, int]]] = defaultdict(list)
        self.delivered: Counter[int] = Counter()
        self.updates: deque[JSON] = deque()
        self.next_update_id = 100_000
        self.confirmed_offset = 0
        self.allowed_updates = _DEFAULT_ALLOWED_UPDATES
        self.webhook_url = ""
        self.serial = itertools.count(1)
        self.files: dict[str, tuple[str, bytes, int]] = {}  # file_id: path, content, size

    def add_chat(self, chat: JSON) -> JSON:
        self.chats[chat["id"]] = chat
        if chat.get("username"):
            self.usernames[chat["username"].lower()] = chat["id"]
        return chat

    def chat(self, chat_id: Any, *, sending: bool = True) -> JSON:
        """The known chat ``chat_id`` (an id or "@username"), or Telegram's error for it."""
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            chat_id = self.usernames.get(chat_id[1:].lower())
        chat = self.chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None:
            raise _bad("chat not found")
        if chat["id"] in self.migrated:
            raise _ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": self.migrated[chat["id"]]},
            )
        if sending and chat["id"] in self.blocked:
            raise _ApiError(403, f"Forbidden: {_BLOCKED[chat['type']]}")
        return chat

    def new_message(self, chat: JSON, sender: JSON | None, fields: JSON) -> JSON:
        """Store a new message in ``chat``; channel posts are sent by the chat itself."""
        self.last_message_id[chat["id"]] += 1
        message: JSON = {"message_id": self.last_message_id[chat["id"]], "date": int(time.time())}
        if chat["type"] == "channel":
            message["sender_chat"] = chat
        elif sender is not None:
            message["from"] = sender
        message["chat"] = chat
        message.update(fields)
        self.messages[chat["id"], message["message_id"]] = message
        return message

    def find(self, chat_id: int, message_id: Any) -> JSON | None:
        """The stored message ``message_id`` of ``chat_id``, if there is one."""
        return self.messages.get((chat_id, message_id)) if isinstance(message_id, int) else None

    def current(self, message: JSON) -> JSON:
        """The stored (latest) version of ``message``, or ``message`` itself."""
        return self.messages.get((message["chat"]["id"], message["message_id"]), message)

    def queue(self, payload: JSON) -> JSON:
        self.next_update_id += 1
        update = {"update_id": self.next_update_id, **payload}
        self.updates.append(update)
        return update

    def confirm(self, offset: int) -> None:
        """Forget updates below ``offset``; a negative offset keeps the last ``-offset``."""
        if offset < 0:
            while len(self.updates) > -offset:
                self.updates.popleft()
            return
        while self.updates and self.updates[0]["update_id"] < offset:
            self.updates.popleft()
        self.confirmed_offset = max(self.confirmed_offset, offset)

    def begin_poll(self, params: JSON) -> float:
        """Apply getUpdates' offset and allowed_updates; return its long-poll timeout."""
        try:
            offset = int(params.get("offset") or 0)
            timeout = float(params.get("timeout") or 0)
        except (TypeError, ValueError) as error:
            raise _bad("wrong parameter offset or timeout") from error
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self.allowed_updates = frozenset(allowed) or _DEFAULT_ALLOWED_UPDATES
        self.confirm(offset)
        return max(timeout, 0.0)

    def allowed(self, update: JSON) -> bool:
        return any(key in self.allowed_updates for key in update if key != "update_id")

    def has_updates(self) -> bool:
        return any(self.allowed(update) for update in self.updates)


# --------------------------------------------------------------------------- Bot API methods


class _BotApi:
    """Implementations of Bot API methods; each takes decoded params and returns the result."""

    def __init__(self, world: _World, me: JSON) -> None:
        self.world = world
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.open_inline_queries: set[str] = set()
        self.open_callback_queries: set[str] = set()
        self.inline_answers: list[JSON] = []
        self.callback_answers: list[JSON] = []
        self.handlers: dict[str, Callable[[JSON], Any]] = {
            "getMe": lambda params: me,
            "getUpdates": self.get_updates,
            "deleteWebhook": self.delete_webhook,
            "setWebhook": self.set_webhook,
            "getWebhookInfo": self.get_webhook_info,
            "sendMessage": self.send_message,
            "editMessageText": self.edit_message_text,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "deleteMessage": self.delete_message,
            "sendChatAction": self.send_chat_action,
            "answerInlineQuery": self.answer_inline_query,
            "answerCallbackQuery": self.answer_callback_query,
            "setMyCommands": self.set_my_commands,
            "getMyCommands": lambda params: self.commands.get(self._commands_key(params), []),
            "deleteMyCommands": self.delete_my_commands,
            "getChat": self.get_chat,
            "getFile": self.get_file,
        }
        for method, kind in _SEND_MEDIA_METHODS.items():
            self.handlers[method] = functools.partial(self.send_media, kind)

    def dispatch(self, method: str, params: JSON) -> Any:
        """Run ``method``; methods without an implementation just succeed."""
        handler = self.handlers.get(method)
        return True if handler is None else handler(params)

    # -- updates and webhooks

    def get_updates(self, params: JSON) -> list[JSON]:
        world = self.world
        if world.webhook_url:
            raise _ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        result: list[JSON] = []
        for update in list(world.updates):
            if len(result) == limit:
                break
            if world.allowed(update):
                result.append(update)
            else:
                world.updates.remove(update)  # Telegram never creates unwanted updates
        return result

    def delete_webhook(self, params: JSON) -> bool:
        self.world.webhook_url = ""
        if params.get("drop_pending_updates"):
            self.world.updates.clear()
        return True

    def set_webhook(self, params: JSON) -> bool:
        self.world.webhook_url = str(params.get("url") or "")
        if params.get("drop_pending_updates"):
            self.world.updates.clear()
        return True

    def get_webhook_info(self, params: JSON) -> JSON:
        return {
            "url": self.world.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self.world.updates),
        }

    # -- sending and editing

    def send_message(self, params: JSON) -> JSON:
        chat = self.world.chat(params.get("chat_id"))
        text, entities = _message_text(params)
        fields: JSON = {"text": text}
        if entities:
            fields["entities"] = entities
        if isinstance(params.get("link_preview_options"), dict):
            fields["link_preview_options"] = params["link_preview_options"]
        return self._deliver(chat, params, fields)

    def send_media(self, kind: str, params: JSON) -> JSON:
        chat = self.world.chat(params.get("chat_id"))
        caption, entities = _formatted(params, "caption", "caption_entities")
        if len(caption) > MAX_CAPTION_LENGTH:
            raise _bad("message caption is too long")
        fields = _media_fields(kind, next(self.world.serial))
        if caption.strip():
            fields["caption"] = caption
            if entities:
                fields["caption_entities"] = entities
        return self._deliver(chat, params, fields)

    def _deliver(self, chat: JSON, params: JSON, fields: JSON) -> JSON:
        """Store a bot message with reply, keyboard and topic fields and count it delivered."""
        reply_to = self._reply_target(chat, params)
        if reply_to is not None:
            fields["reply_to_message"] = reply_to
        markup = _inline_markup(params)
        if markup is not None:
            fields["reply_markup"] = markup
        thread_id = params.get("message_thread_id")
        if thread_id is not None:
            fields["message_thread_id"] = thread_id
            if chat.get("is_forum"):
                fields["is_topic_message"] = True
        message = self.world.new_message(chat, self.world.bot_user, fields)
        key = (chat["id"], message["message_id"])
        self.world.bot_keys.append(key)
        self.world.bot_keys_by_chat[chat["id"]].append(key)
        self.world.delivered[chat["id"]] += 1
        return message

    def _reply_target(self, chat: JSON, params: JSON) -> JSON | None:
        reply = params.get("reply_parameters")
        if isinstance(reply, dict):
            message_id = reply.get("message_id")
            allow_missing = reply.get("allow_sending_without_reply")
        else:
            message_id = params.get("reply_to_message_id")
            allow_missing = params.get("allow_sending_without_reply")
        if message_id is None:
            return None
        target = self.world.find(chat["id"], message_id)
        if target is None:
            if allow_missing:
                return None
            raise _bad("message to be replied not found")
        return _with(target, reply_to_message=None)

    def _own_message(self, params: JSON, missing: str) -> JSON:
        """The bot message addressed by chat_id and message_id, or Telegram's error."""
        chat = self.world.chat(params.get("chat_id"))
        message = self.world.find(chat["id"], params.get("message_id"))
        if message is None:
            raise _bad(missing)
        if message.get("from") != self.world.bot_user and message.get("sender_chat") is None:
            raise _bad("message can't be edited")
        return message

    def _replace(self, old: JSON, new: JSON) -> JSON:
        if _content(old) == _content(new):
            raise _bad(_NOT_MODIFIED)
        new["edit_date"] = int(time.time())
        self.world.messages[new["chat"]["id"], new["message_id"]] = new
        return new

    def edit_message_text(self, params: JSON) -> JSON | bool:
        if params.get("inline_message_id") is not None:
            _message_text(params)
            return True
        message = self._own_message(params, "message to edit not found")
        if "text" not in message:
            raise _bad("there is no text in the message to edit")
        text, entities = _message_text(params)
        updated = _with(message, text=text, entities=entities, reply_markup=_inline_markup(params))
        return self._replace(message, updated)

    def edit_message_reply_markup(self, params: JSON) -> JSON | bool:
        markup = _inline_markup(params)
        if params.get("inline_message_id") is not None:
            return True
        message = self._own_message(params, "message to edit not found")
        return self._replace(message, _with(message, reply_markup=markup))

    def delete_message(self, params: JSON) -> bool:
        chat = self.world.chat(params.get("chat_id"), sending=False)
        message = self.world.find(chat["id"], params.get("message_id"))
        if message is None:
            raise _bad("message to delete not found")
        del self.world.messages[chat["id"], message["message_id"]]
        return True

    def send_chat_action(self, params: JSON) -> bool:
        self.world.chat(params.get("chat_id"))
        if params.get("action") not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    # -- queries

    def _take_query(self, open_queries: set[str], query_id: Any) -> None:
        if str(query_id) not in open_queries:
            raise _bad(_QUERY_INVALID)
        open_queries.remove(str(query_id))

    def answer_inline_query(self, params: JSON) -> bool:
        results = params.get("results")
        if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
            raise _bad("can't parse inline query results JSON object")
        if len(results) > 50:
            raise _bad("RESULTS_TOO_MUCH")
        ids = [str(result.get("id", "")) for result in results]
        if len(set(ids)) != len(ids):
            raise _bad("RESULT_ID_DUPLICATE")
        for result_id, result in zip(ids, results, strict=True):
            self._check_inline_result(result_id, result)
        self._take_query(self.open_inline_queries, params.get("inline_query_id"))
        self.inline_answers.append(params)
        return True

    @staticmethod
    def _check_inline_result(result_id: str, result: JSON) -> None:
        if not 1 <= len(result_id.encode()) <= 64 or not result.get("type"):
            raise _bad("RESULT_ID_INVALID")
        content = result.get("input_message_content")
        if result["type"] == "article" and not result.get("title"):
            raise _bad("ARTICLE_TITLE_EMPTY")
        if result["type"] == "article" and not isinstance(content, dict):
            raise _bad("MESSAGE_EMPTY")
        if isinstance(content, dict) and "message_text" in content:
            _message_text(content, "message_text")

    def answer_callback_query(self, params: JSON) -> bool:
        if len(str(params.get("text") or "")) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        self._take_query(self.open_callback_queries, params.get("callback_query_id"))
        self.callback_answers.append(params)
        return True

    # -- commands and chats

    @staticmethod
    def _commands_key(params: JSON) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    def set_my_commands(self, params: JSON) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad("can't parse commands JSON object")
        for command in commands:
            if not isinstance(command, dict) or not _COMMAND_RE.fullmatch(
                str(command.get("command", ""))
            ):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._commands_key(params)] = commands
        return True

    def delete_my_commands(self, params: JSON) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    def get_file(self, params: JSON) -> JSON:
        stored = self.world.files.get(str(params.get("file_id")))
        if stored is None:
            raise _bad("invalid file_id")
        path, _, size = stored
        if size > MAX_DOWNLOAD_BYTES:
            raise _bad("file is too big")
        file_id = str(params["file_id"])
        return {"file_id": file_id, "file_unique_id": f"u-{file_id}", "file_size": size,
                "file_path": path}  # fmt: skip

    def get_chat(self, params: JSON) -> JSON:
        chat = self.world.chat(params.get("chat_id"), sending=False)
        gifts = dict.fromkeys(
            (
                "unlimited_gifts",
                "limited_gifts",
                "unique_gifts",
                "premium_subscription",
                "gifts_from_channels",
            ),
            False,
        )
        return {
            **chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": gifts,
        }


# --------------------------------------------------------------------------- server


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now (the system's choice)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _ServerThread:
    """An aiohttp server on 127.0.0.1 (the given port, or one the system chooses) in a daemon
    thread with its own loop."""

    def __init__(
        self, handler: Callable[[web.Request], Awaitable[web.StreamResponse]], port: int = 0
    ) -> None:
        self._handler = handler
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._run, name="bot-api-emulator", daemon=True)
        self._started = threading.Event()
        self._error: BaseException | None = None
        self.port = port

    def start(self) -> None:
        self._thread.start()
        if not self._started.wait(10) or self._error is not None:
            raise RuntimeError("the Bot API emulator failed to start") from self._error

    def _run(self) -> None:
        loop = self._loop
        try:
            loop.run_until_complete(self._listen())
        except Exception as error:
            self._error = error
        self._started.set()
        if self._error is None:
            loop.run_forever()
        if self._runner is not None:
            loop.run_until_complete(self._runner.cleanup())
        # Handlers still waiting (a delayed reply, a poll nobody woke) end here, as asyncio.run
        # ends its tasks, rather than being destroyed pending with the loop.
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()

    async def _listen(self) -> None:
        app = web.Application(client_max_size=64 * 2**20)
        app.router.add_route("*", "/{path:.*}", self._handler)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    def call_soon(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` in the server loop; ignored once the server has stopped."""
        with contextlib.suppress(RuntimeError):  # the loop is already closed
            self._loop.call_soon_threadsafe(callback)

    def stop(self) -> None:
        self.call_soon(self._loop.stop)
        self._thread.join(timeout=10)


@dataclass
class _Injected:
    fault: Fault
    remaining: int


# --------------------------------------------------------------------------- public API


class BotApiEmulator:
    """A thread-safe Telegram Bot API emulator; use as a context manager or start()/stop()."""

    def __init__(
        self,
        token: str = "123456:TEST-token",  # noqa: S107 - a fake token
        bot_username: str = "LittleGiantsBot",
        bot_id: int = 123456,
        bot_first_name: str = "Little Giants",
        port: int = 0,
    ) -> None:
        self.token = token
        self._port = port
        sender: JSON = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.bot_user: JSON = {
            **sender,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
        }
        self._lock = threading.RLock()
        self._world = _World(sender)
        self._api = _BotApi(self._world, self.bot_user)
        self._calls: list[Call] = []
        self._calls_by_method: defaultdict[str, list[Call]] = defaultdict(list)
        self._faults: defaultdict[str, deque[_Injected]] = defaultdict(deque)
        self._per_chat_limit: int | None = None
        self._global_limit: int | None = None
        self._chat_sends: defaultdict[Any, deque[float]] = defaultdict(deque)
        self._global_sends: deque[float] = deque()
        self._server: _ServerThread | None = None
        self._wakeup = asyncio.Event()
        self._poll_generation = 0
        self._closing = False

    # -- lifecycle

    def start(self) -> BotApiEmulator:
        """Start serving in a background thread; returns ``self``."""
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        self._closing = False
        self._wakeup = asyncio.Event()
        self._server = _ServerThread(self._handle, self._port)
        self._server.start()
        return self

    def stop(self) -> None:
        """Answer pending long polls and stop the server (idempotent)."""
        server, self._server = self._server, None
        if server is not None:
            self._closing = True
            server.call_soon(self._wakeup.set)
            server.stop()

    def __enter__(self) -> BotApiEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """python-telegram-bot's ``base_url`` for this emulator (the token is appended)."""
        port = self._server.port if self._server is not None else self._port
        if not port:
            raise RuntimeError("the emulator is not running, and has no port given")
        return f"http://127.0.0.1:{port}/bot"

    # -- chats and users

    def new_user(
        self, first_name: str = "Alice", username: str | None = None, language_code: str = "en"
    ) -> JSON:
        """A new human ``User`` with a unique id."""
        with self._lock:
            user: JSON = {
                "id": 1_000_000 + next(self._world.serial),
                "is_bot": False,
                "first_name": first_name,
            }
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        return user

    def private_chat(self, user: JSON) -> JSON:
        """The private chat of ``user`` with the bot."""
        chat: JSON = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        chat.update({key: user[key] for key in ("last_name", "username") if key in user})
        with self._lock:
            return self._world.add_chat(chat)

    def group_chat(self, title: str, supergroup: bool = False, forum: bool = False) -> JSON:
        """A new group; ``forum`` implies a supergroup (ids -100...)."""
        with self._lock:
            number = next(self._world.serial)
            if not (supergroup or forum):
                return self._world.add_chat(
                    {"id": -4_000_000 - number, "type": "group", "title": title}
                )
            chat: JSON = {"id": -1_000_000_000_000 - number, "type": "supergroup", "title": title}
            if forum:
                chat["is_forum"] = True
            return self._world.add_chat(chat)

    def channel_chat(self, title: str) -> JSON:
        """A new channel in which the bot can post."""
        with self._lock:
            number = next(self._world.serial)
            return self._world.add_chat(
                {"id": -1_000_000_000_000 - number, "type": "channel", "title": title}
            )

    def block_chat(self, chat_id: int) -> None:
        """Make every send to ``chat_id`` fail with 403 as if the user blocked the bot."""
        with self._lock:
            self._world.blocked.add(chat_id)

    def migrate_chat(self, old_id: int, new_id: int) -> JSON:
        """Upgrade basic group ``old_id`` to supergroup ``new_id``; returns the new chat."""
        with self._lock:
            old = self._world.chats.get(old_id)
            if old is None or old["type"] != "group":
                raise ValueError(f"{old_id} is not a known basic group")
            self._world.migrated[old_id] = new_id
            return self._world.add_chat({"id": new_id, "type": "supergroup", "title": old["title"]})

    # -- inbound updates

    def push_update(self, payload: JSON) -> JSON:
        """Queue a raw update (``update_id`` is assigned) and wake a pending long poll."""
        with self._lock:
            update = self._world.queue({k: v for k, v in payload.items() if k != "update_id"})
        if self._server is not None:
            self._server.call_soon(self._wakeup.set)
        return update

    def redeliver(self, update: JSON) -> JSON:
        """Queue ``update`` again, id and all, as Telegram does with an unconfirmed one."""
        with self._lock:
            self._world.updates.append(update)
        if self._server is not None:
            self._server.call_soon(self._wakeup.set)
        return update

    def restart_update_ids(self, next_id: int) -> None:
        """Give the next update ``next_id``, as Telegram may after a week without updates (or
        as another bot's ids on the same state directory would); confirmations start over."""
        with self._lock:
            self._world.next_update_id = next_id - 1
            self._world.confirmed_offset = 0

    def _inbound(self, kind: str, chat: JSON, sender: JSON | None, fields: JSON) -> JSON:
        with self._lock:
            stored_chat = self._world.chats.get(chat["id"]) or self._world.add_chat(chat)
            message = self._world.new_message(stored_chat, sender, fields)
            return self.push_update({kind: message})

    def send_message(
        self,
        chat: JSON,
        user: JSON,
        text: str,
        *,
        reply_to: JSON | None = None,
        message_thread_id: int | None = None,
        forward_origin: JSON | None = None,
        **extra_message_fields: Any,
    ) -> JSON:
        """A ``message`` update from ``user``, with command/mention entities like Telegram."""
        fields: JSON = {"text": text}
        if entities := _auto_entities(text):
            fields["entities"] = entities
        if message_thread_id is not None:
            fields["message_thread_id"] = message_thread_id
            if chat.get("is_forum"):
                fields["is_topic_message"] = True
        if forward_origin is not None:
            fields["forward_origin"] = forward_origin
        if reply_to is not None:
            with self._lock:
                fields["reply_to_message"] = _with(
                    self._world.current(reply_to), reply_to_message=None
                )
        fields.update(extra_message_fields)
        return self._inbound("message", chat, user, fields)

    def send_media(self, chat: JSON, user: JSON, kind: str, *, caption: str | None = None) -> JSON:
        """A non-text ``message`` update: photo, sticker, voice, video, document, audio,
        location, contact, animation, video_note, poll, dice or venue."""
        with self._lock:
            fields = _media_fields(kind, next(self._world.serial))
        if caption is not None:
            fields["caption"] = caption
            if entities := _auto_entities(caption):
                fields["caption_entities"] = entities
        return self._inbound("message", chat, user, fields)

    def send_document(
        self,
        chat: JSON,
        user: JSON,
        data: bytes,
        file_name: str,
        *,
        mime_type: str = "application/octet-stream",
        file_size: int | None = None,
    ) -> JSON:
        """A ``message`` update with a document the bot can fetch with getFile and download
        from ``/file/bot<token>/<file_path>``; ``file_size`` may claim more than ``data``."""
        size = len(data) if file_size is None else file_size
        with self._lock:
            number = next(self._world.serial)
            document = _file(
                "document", number, file_name=file_name, mime_type=mime_type, file_size=size
            )
            self._world.files[document["file_id"]] = (f"documents/file_{number}", data, size)
        return self._inbound("message", chat, user, {"document": document})

    def channel_post(self, chat: JSON, text: str) -> JSON:
        """A ``channel_post`` update in channel ``chat``."""
        if chat["type"] != "channel":
            raise ValueError("channel_post needs a chat from channel_chat()")
        fields: JSON = {"text": text}
        if entities := _auto_entities(text):
            fields["entities"] = entities
        return self._inbound("channel_post", chat, None, fields)

    def edit_message(self, message: JSON, new_text: str) -> JSON:
        """An ``edited_message`` (or ``edited_channel_post``) update for a user's message."""
        with self._lock:
            edited = _with(
                self._world.current(message),
                text=new_text,
                entities=_auto_entities(new_text),
                edit_date=int(time.time()),
            )
            self._world.messages[edited["chat"]["id"], edited["message_id"]] = edited
            channel = edited["chat"]["type"] == "channel"
            return self.push_update(
                {"edited_channel_post" if channel else "edited_message": edited}
            )

    def inline_query(self, user: JSON, query: str, offset: str = "") -> JSON:
        """An ``inline_query`` update with a fresh id the bot may answer once."""
        with self._lock:
            query_id = str(4_000_000_000 + next(self._world.serial))
            self._api.open_inline_queries.add(query_id)
            inline = {
                "id": query_id,
                "from": user,
                "query": query,
                "offset": offset,
                "chat_type": "sender",
            }
            return self.push_update({"inline_query": inline})

    def press_button(self, message: JSON, user: JSON, data: str) -> JSON:
        """A ``callback_query`` update for pressing a button with ``data`` on a bot message."""
        with self._lock:
            current = self._world.current(message)
            query_id = str(5_000_000_000 + next(self._world.serial))
            self._api.open_callback_queries.add(query_id)
            callback = {
                "id": query_id,
                "from": user,
                "message": current,
                "chat_instance": str(abs(current["chat"]["id"]) + 10**15),
                "data": data,
            }
            return self.push_update({"callback_query": callback})

    def press_inline_button(
        self, user: JSON, data: str, inline_message_id: str | None = None
    ) -> JSON:
        """A ``callback_query`` update for pressing a button with ``data`` on a message posted
        through inline mode: it carries ``inline_message_id`` (a fresh one unless given)
        instead of the message."""
        with self._lock:
            number = next(self._world.serial)
            query_id = str(5_000_000_000 + number)
            self._api.open_callback_queries.add(query_id)
            callback = {
                "id": query_id,
                "from": user,
                "inline_message_id": inline_message_id or f"inline-{number}",
                "chat_instance": str(10**15 + number),
                "data": data,
            }
            return self.push_update({"callback_query": callback})

    # -- inspection

    @property
    def long_polls_begun(self) -> int:
        """How many getUpdates requests have reached the server so far."""
        return self._poll_generation

    @property
    def last_update_id(self) -> int:
        """The id the latest update queued was given."""
        with self._lock:
            return self._world.next_update_id

    @property
    def confirmed_offset(self) -> int:
        """The highest ``offset`` the bot has passed to getUpdates."""
        with self._lock:
            return self._world.confirmed_offset

    def calls(self, method: str | None = None) -> list[Call]:
        """Recorded requests (all, or of one method) in completion order."""
        with self._lock:
            return list(self._calls if method is None else self._calls_by_method.get(method, []))

    def bot_messages(self, chat_id: int | None = None) -> list[JSON]:
        """Current state (edits applied, deletions removed) of messages the bot sent."""
        world = self._world
        with self._lock:
            keys = world.bot_keys if chat_id is None else world.bot_keys_by_chat.get(chat_id, [])
            return [dict(world.messages[key]) for key in keys if key in world.messages]

    def delivered(self, chat_id: int) -> int:
        """How many bot messages reached ``chat_id``, even if the HTTP answer was lost."""
        with self._lock:
            return self._world.delivered[chat_id]

    def inline_answers(self) -> list[JSON]:
        """Parameters of every accepted answerInlineQuery call."""
        with self._lock:
            return list(self._api.inline_answers)

    def callback_answers(self) -> list[JSON]:
        """Parameters of every accepted answerCallbackQuery call."""
        with self._lock:
            return list(self._api.callback_answers)

    def wait_for(
        self,
        predicate: Callable[[], T | None],
        timeout: float = 10.0,
        interval: float = 0.02,
        description: str | None = None,
    ) -> T:
        """Poll ``predicate`` until it returns something truthy and return that."""
        deadline = time.monotonic() + timeout
        while not (value := predicate()):
            if time.monotonic() >= deadline:
                raise AssertionError(self._timeout_message(predicate, timeout, description))
            time.sleep(interval)
        return value

    async def async_wait_for(
        self,
        predicate: Callable[[], T | None],
        timeout: float = 10.0,
        interval: float = 0.02,
        description: str | None = None,
    ) -> T:
        """Like :meth:`wait_for`, for a bot that runs in the test's own event loop."""
        deadline = time.monotonic() + timeout
        while not (value := predicate()):
            if time.monotonic() >= deadline:
                raise AssertionError(self._timeout_message(predicate, timeout, description))
            await asyncio.sleep(interval)
        return value

    def wait_for_messages(self, chat_id: int, count: int, timeout: float = 10.0) -> list[JSON]:
        """Wait until the bot has at least ``count`` messages in ``chat_id``; return them."""

        def enough() -> list[JSON]:
            messages = self.bot_messages(chat_id)
            return messages if len(messages) >= count else []

        return self.wait_for(enough, timeout, description=f"{count} bot messages in {chat_id}")

    def _timeout_message(
        self, predicate: Callable[[], object], timeout: float, description: str | None
    ) -> str:
        recent = ", ".join(f"{call.method}->{call.status}" for call in self.calls()[-10:])
        what = description or _describe(predicate)
        return f"timed out after {timeout:g}s waiting for {what}; last calls: [{recent}]"

    # -- fault injection

    def inject(self, method: str, fault: Fault, times: int = 1) -> None:
        """Apply ``fault`` to the next ``times`` calls of ``method`` ("*" for any method)."""
        if method != "*" and method not in _METHODS.values():
            raise ValueError(f"unknown Bot API method {method!r}")
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._faults[method].append(_Injected(fault, times))

    def set_rate_limit(
        self, per_chat_per_minute: int | None = None, global_per_second: int | None = None
    ) -> None:
        """Enable (or with None disable) flood control on sending and editing methods."""
        with self._lock:
            self._per_chat_limit = per_chat_per_minute
            self._global_limit = global_per_second

    def _take_fault(self, method: str) -> Fault | None:
        with self._lock:
            for key in (method, "*"):
                queue = self._faults.get(key)
                if queue:
                    injected = queue[0]
                    injected.remaining -= 1
                    if injected.remaining == 0:
                        queue.popleft()
                    return injected.fault
        return None

    def _check_rate_limit(self, method: str, params: JSON) -> None:
        """Raise 429 if a send/edit exceeds the configured limits, else count it."""
        if not method.startswith(("send", "edit", "copy", "forward")) or method == "sendChatAction":
            return
        windows: list[tuple[deque[float], float, int]] = []
        if self._global_limit:
            windows.append((self._global_sends, 1.0, self._global_limit))
        if self._per_chat_limit:
            windows.append((self._chat_sends[params.get("chat_id")], 60.0, self._per_chat_limit))
        now = time.monotonic()
        wait = max(
            (_window_wait(times, now, window, limit) for times, window, limit in windows),
            default=0.0,
        )
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise _ApiError(
                429, f"Too Many Requests: retry after {seconds}", {"retry_after": seconds}
            )
        for times, _, _ in windows:
            times.append(now)

    # -- request handling (runs in the server thread)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/file/"):
            return self._download(request)
        call = Call(method=request.path, params={}, time=time.monotonic())
        try:
            call.params = await _read_params(request)
            call.method = self._authorize(request.path)
        except _ApiError as error:
            with self._lock:
                self._record(call, error.status, error.body())
            return web.json_response(error.body(), status=error.status)
        fault = self._take_fault(call.method)
        if isinstance(fault, RetryAfter | ServerError | Conflict | BadRequest):
            rejection = _fault_error(fault)
            with self._lock:
                self._record(call, rejection.status, rejection.body())
            return web.json_response(rejection.body(), status=rejection.status)
        return await self._respond(request, call, fault)

    async def _respond(
        self, request: web.Request, call: Call, fault: Delay | Drop | None
    ) -> web.StreamResponse:
        """Process ``call`` around a Delay or Drop fault and send (or withhold) the answer."""
        if isinstance(fault, Delay) and not fault.process:
            await asyncio.sleep(fault.seconds)
        if isinstance(fault, Drop) and not fault.process:
            with self._lock:
                self._record(call, 0, None)
            return _drop(request)
        status, body = await self._execute(call, request, dropped=isinstance(fault, Drop))
        if isinstance(fault, Drop):
            return _drop(request)
        if isinstance(fault, Delay) and fault.process:
            await asyncio.sleep(fault.seconds)
            if _client_gone(request):
                with self._lock:
                    call.status = 0
        return web.json_response(body, status=status)

    def _download(self, request: web.Request) -> web.StreamResponse:
        """A file's content, as Telegram serves what getFile pointed to."""
        match = _FILE_PATH_RE.fullmatch(request.path)
        with self._lock:
            found = [
                content
                for path, content, _ in self._world.files.values()
                if match and match.group(1) == self.token and path == match.group(2)
            ]
        if not found:
            return web.json_response(_ApiError(404, "Not Found").body(), status=404)
        return web.Response(body=found[0], content_type="application/octet-stream")

    def _authorize(self, path: str) -> str:
        """The canonical method name of a request path, or Telegram's 401/404 error."""
        match = _PATH_RE.fullmatch(path)
        if match is None:
            raise _ApiError(404, "Not Found")
        method = _METHODS.get(match.group(2).lower())
        if match.group(1) != self.token:
            raise _ApiError(401, "Unauthorized")
        if method is None:
            raise _ApiError(404, "Not Found")
        return method

    async def _execute(
        self, call: Call, request: web.Request, *, dropped: bool
    ) -> tuple[int, JSON]:
        """Run the method and record the call in one critical section."""
        error = await self._long_poll(call.params) if call.method == "getUpdates" else None
        with self._lock:
            try:
                if error is not None:
                    raise error
                self._check_rate_limit(call.method, call.params)
                status, body = (
                    200,
                    {"ok": True, "result": self._api.dispatch(call.method, call.params)},
                )
            except _ApiError as api_error:
                status, body = api_error.status, api_error.body()
            except (TypeError, ValueError, KeyError, AttributeError) as malformed:
                status, body = 400, _bad(f"invalid parameters: {malformed}").body()
            self._record(call, 0 if dropped or _client_gone(request) else status, body)
        return status, body

    async def _long_poll(self, params: JSON) -> _ApiError | None:
        """Confirm ``offset`` and wait up to ``timeout`` seconds for an update.

        A newer getUpdates request ends an older one with 409, as on Telegram.
        """
        self._poll_generation += 1
        generation = self._poll_generation
        wakeup = self._wakeup
        wakeup.set()  # wake (and thereby terminate) an older long poll
        try:
            with self._lock:
                timeout = self._world.begin_poll(params)
        except _ApiError as error:
            return error
        deadline = time.monotonic() + timeout
        while generation == self._poll_generation:
            with self._lock:
                ready = self._closing or self._world.webhook_url or self._world.has_updates()
            remaining = deadline - time.monotonic()
            if ready or remaining <= 0:
                return None
            wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wakeup.wait(), remaining)
        return _ApiError(
            409,
            "Conflict: terminated by other getUpdates request; make sure that "
            "only one bot instance is running",
        )

    def _record(self, call: Call, status: int, body: JSON | None) -> None:
        call.status = status
        call.response = body
        self._calls.append(call)
        self._calls_by_method[call.method].append(call)


def _client_gone(request: web.Request) -> bool:
    return request.transport is None or request.transport.is_closing()


def _drop(request: web.Request) -> web.StreamResponse:
    """Close the connection so the client gets no HTTP response at all."""
    if request.transport is not None:
        request.transport.close()
    return web.Response()
