"""The one place the Telegram Application is built, wired and run."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import signal
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any

from telegram import BotCommand, Update
from telegram.error import Conflict, InvalidToken, TelegramError
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ExtBot,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import messages
from bot.feedback import FeedbackStore, feedback_path
from bot.logs import configure_logging
from bot.sending.delivery import Delivery
from bot.sending.http_client import AiohttpRequest
from bot.sending.ratelimit import GROUP_WINDOW_SECONDS, QuestionLimiter, SendLimiter
from bot.sending.transport import ResilientRequest, backoff
from bot.serving.backends import AnswerBackend, EngineThread
from bot.serving.batcher import AnswerBatcher
from bot.serving.workers import EngineWorkers
from bot.settings import Settings, SettingsError
from bot.stats import Stats
from bot.surface.handlers import access, admin, buttons, chat, commands, errors, inline, uploads
from bot.surface.journal import UpdateJournal, update_key
from bot.surface.services import (
    BotApplication,
    BotData,
    Context,
    Services,
    application_services,
    install,
)

log = logging.getLogger(__name__)

POLL_TIMEOUT = 10
STARTUP_FIRST_DELAY, STARTUP_MAX_DELAY = 1.0, 60.0  # seconds between start-up attempts
POLLING_QUIET_SECONDS = 300.0  # a polling failure after this long without one is logged again


class JournalBot(ExtBot[None]):
    """Writes every fetched update to the journal before the next poll confirms it."""

    def __init__(self, *args: Any, journal: UpdateJournal, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._journal = journal

    async def get_updates(self, *args: Any, **kwargs: Any) -> tuple[Update, ...]:
        updates = await super().get_updates(*args, **kwargs)
        if updates:
            self._journal.record([update.to_dict() for update in updates])
        return updates


@dataclass(frozen=True)
class Unfinished:
    """An update of the last run that was never finished, queued again with its journal key
    (the key of its stored payload, whatever a fresh digest of it might say)."""

    key: str
    update: Update


class JournalApplication(BotApplication):
    """Handles each update once, and marks it done only when its handlers have run."""

    async def process_update(self, update: object) -> None:
        if isinstance(update, Unfinished):
            key, current = update.key, update.update
        elif isinstance(update, Update):
            key, current = update_key(update.to_dict()), update
        else:
            await super().process_update(update)
            return
        journal = application_services(self).journal
        if not journal.claim(key):
            log.info("update %d already handled; skipped", current.update_id)
            return
        try:
            await super().process_update(current)
        except asyncio.CancelledError:
            journal.release(key)
            raise
        journal.finish(key)


class PollingErrors:
    """python-telegram-bot's `error_callback` for getUpdates, which it retries with backoff:
    one log line for each burst of failures of a kind, instead of a traceback for each
    failure; conflicts (mostly another instance polling with this token) are counted for
    /stats. A burst ends after `quiet` seconds without a failure of its kind."""

    def __init__(self, stats: Stats, quiet: float = POLLING_QUIET_SECONDS) -> None:
        self._stats = stats
        self._quiet = quiet
        self._last: dict[str, float] = {}

    def __call__(self, error: TelegramError) -> None:
        kind, now = type(error).__name__, time.monotonic()
        last, self._last[kind] = self._last.get(kind), now
        if isinstance(error, Conflict):
            self._stats.polling_conflicts += 1
        if last is not None and now - last < self._quiet:
            return
        if isinstance(error, Conflict):  # Telegram's words say why: another poller, a webhook
            log.warning(
                "getUpdates: %s; polling goes on with backoff, and /stats counts the conflicts",
                " ".join(str(error).split()),
            )
        else:
            log.warning("getUpdates failed (%s); polling goes on with backoff", _one_line(error))


def build_application(
    settings: Settings, backend: AnswerBackend, *, group_window: float = GROUP_WINDOW_SECONDS
) -> BotApplication:
    """The Application with its handlers, transport, journal and shared services; messages to
    one group are held to Telegram's 20 in any `group_window` seconds."""
    journal = UpdateJournal(settings.bot_state_dir / "updates.sqlite3")
    sending = ResilientRequest(
        connection_pool_size=16,
        read_timeout=settings.bot_send_timeout_seconds,
        write_timeout=settings.bot_send_timeout_seconds,
        connect_timeout=10,
        pool_timeout=30,
    )
    # No retries here: the polling loop retries getUpdates itself, reporting to PollingErrors.
    polling = AiohttpRequest(connection_pool_size=2, read_timeout=POLL_TIMEOUT + 10)
    bot: ExtBot[None] = JournalBot(
        settings.token(),
        base_url=settings.telegram_base_url,
        base_file_url=_file_url(settings.telegram_base_url),
        request=sending,
        get_updates_request=polling,
        # The builder's own rate_limiter() cannot be used with a bot of our own: given here.
        rate_limiter=SendLimiter(settings.bot_messages_per_second, group_window=group_window),
        journal=journal,
    )
    application = (
        ApplicationBuilder()
        .bot(bot)
        .context_types(ContextTypes(context=Context, bot_data=BotData))
        .job_queue(None)
        .application_class(JournalApplication)
        .concurrent_updates(256)
        .build()
    )
    install(
        application,
        Services(
            settings=settings,
            batcher=AnswerBatcher(backend),
            limiter=QuestionLimiter(
                settings.bot_user_questions_per_minute, settings.bot_chat_questions_per_minute
            ),
            delivery=Delivery(bot),
            journal=journal,
            feedback=FeedbackStore(feedback_path(settings.bot_state_dir)),
        ),
    )
    _add_handlers(application)
    return application


def _file_url(base_url: str) -> str:
    """Where files are downloaded from: Telegram's `.../bot` API gives `.../file/bot`."""
    return base_url.removesuffix("bot") + "file/bot"


def _add_handlers(app: BotApplication) -> None:
    new = filters.UpdateType.MESSAGE
    private, groups = filters.ChatType.PRIVATE, filters.ChatType.GROUPS
    app.add_handler(TypeHandler(Update, access.guard), group=-1)
    for name, callback in (
        ("start", commands.start),
        ("help", commands.help_command),
        ("sources", commands.sources_command),
        ("ask", commands.ask_command),
        ("stats", admin.stats_command),
        ("reindex", admin.reindex_command),
        ("gaps", admin.gaps_command),
        ("documents", uploads.documents_command),
        ("remove", uploads.remove_command),
    ):
        app.add_handler(CommandHandler(name, callback, filters=new))
    app.add_handler(MessageHandler(new & filters.StatusUpdate.MIGRATE, chat.migrated))
    app.add_handler(MessageHandler(new & private & filters.COMMAND, commands.unknown_command))
    app.add_handler(MessageHandler(new & private & filters.TEXT, chat.private_text))
    app.add_handler(MessageHandler(new & groups & filters.TEXT & ~filters.COMMAND, chat.group_text))
    app.add_handler(MessageHandler(new & private & filters.Document.ALL, uploads.received))
    app.add_handler(MessageHandler(new & private, chat.not_text))
    app.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE, chat.edited))
    app.add_handler(InlineQueryHandler(inline.inline_query))
    app.add_handler(CallbackQueryHandler(buttons.more_sources, pattern=r"^more:\d+$"))
    app.add_handler(CallbackQueryHandler(buttons.vote, pattern=buttons.VOTE_PATTERN))
    app.add_handler(CallbackQueryHandler(uploads.button, pattern=r"^upload:(add|cancel):"))
    app.add_error_handler(errors.on_error)


async def serve(
    application: BotApplication,
    stop: asyncio.Event,
    retry_delays: Iterator[float] | None = None,
) -> None:
    """Start the engine, connect to Telegram (retried after `retry_delays` seconds, doubling
    from 1 s to a minute by default), then poll and answer until `stop` is set; finish the
    answers in flight and close. `stop` ends start-up too, at any point of it."""
    svc = application_services(application)
    delays = retry_delays or backoff(STARTUP_FIRST_DELAY, STARTUP_MAX_DELAY)
    try:
        # A broken corpus or model fails in batcher.start, before Telegram is called.
        engine_ready = await _unless_stopped(svc.batcher.start(), stop)
        if engine_ready and await _unless_stopped(_connect(application, svc, delays), stop):
            await application.start()
            log.info("serving as @%s", application.bot.username)
            await stop.wait()
            log.info("stopping: finishing answers in flight")
    finally:
        await _shut_down(application)
        await svc.batcher.close()
        svc.journal.close()
        svc.feedback.close()


async def _unless_stopped(work: Coroutine[Any, Any, None], stop: asyncio.Event) -> bool:
    """Run `work` to its end, or cancel it when `stop` is set first; whether it ended."""
    task = asyncio.create_task(work)
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return False
    task.result()  # its error, if any
    return True


async def _connect(
    application: BotApplication,
    svc: Services,
    delays: Iterator[float],
) -> None:
    """getMe and the command menu, tried until Telegram answers, with one log line for each
    failed attempt (a refused token is final: InvalidToken); then the unfinished updates of
    the last run are queued, and polling starts."""
    for attempt in itertools.count(1):
        try:
            await application.initialize()
            await application.bot.set_my_commands(
                [BotCommand(name, text) for name, text in messages.COMMANDS]
            )
            break
        except InvalidToken:
            raise
        except TelegramError as exc:
            delay = next(delays)
            log.warning(
                "start-up: Telegram did not answer (%s); attempt %d failed, next in %g s",
                _one_line(exc),
                attempt,
                delay,
            )
            await asyncio.sleep(delay)
    _requeue_unfinished(application, svc)
    assert application.updater is not None
    await application.updater.start_polling(
        allowed_updates=Update.ALL_TYPES,
        timeout=POLL_TIMEOUT,
        bootstrap_retries=-1,  # deleteWebhook, just after getMe answered
        error_callback=PollingErrors(svc.stats),
    )


def _requeue_unfinished(application: BotApplication, svc: Services) -> None:
    pending = svc.journal.pending()
    for key, payload in pending:
        application.update_queue.put_nowait(
            Unfinished(key, Update.de_json(payload, application.bot))
        )
    svc.journal.prune()
    if pending:
        log.info("%d unfinished update(s) from the last run queued again", len(pending))


async def _shut_down(application: BotApplication) -> None:
    """Stop polling, finish the updates fetched, and close every connection; from any point
    of start-up too."""
    if application.updater is not None and application.updater.running:
        await application.updater.stop()
    if application.running:
        await application.stop()  # waits for every update already fetched
    await application.shutdown()
    await application.bot.shutdown()  # its HTTP sessions, even if getMe never answered


def _one_line(error: Exception) -> str:
    return " ".join(f"{type(error).__name__}: {error}".split())


def run_bot(settings: Settings, loaded: Callable[[], None] = lambda: None) -> int:
    """Serve until SIGINT or SIGTERM; in-flight answers are sent before exit. `loaded` is
    called once the engine is, before the event loop takes the signals over."""
    backend = _backend(settings)
    loaded()
    application = build_application(settings, backend)
    try:
        asyncio.run(_serve_until_signalled(application))
    except InvalidToken:
        raise SettingsError("TELEGRAM_BOT_TOKEN: Telegram refused this token") from None
    return 0


def _backend(settings: Settings) -> AnswerBackend:
    """Engine worker processes (logging, and masking the token, as this process does); or,
    with BOT_ENGINE_WORKERS=0, the engine in a thread."""
    if settings.bot_engine_workers > 0:
        return EngineWorkers(
            settings.engine_config(),
            settings.bot_engine_workers,
            initializer=functools.partial(
                configure_logging, settings.log_level, settings.secrets()
            ),
        )
    return EngineThread.load(settings.engine_config())


async def _serve_until_signalled(application: BotApplication) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await serve(application, stop)
