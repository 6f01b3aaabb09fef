"""The one place the Telegram Application is built, wired and run."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from typing import Any

from telegram import BotCommand, Update
from telegram.error import InvalidToken
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ExtBot,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import handlers, messages, uploads
from bot.batcher import AnswerBackend, AnswerBatcher, EngineThread
from bot.delivery import Delivery
from bot.feedback import FeedbackStore, feedback_path
from bot.journal import UpdateJournal
from bot.ratelimit import QuestionLimiter, SendLimiter
from bot.services import Services, install, services
from bot.settings import Settings, SettingsError
from bot.transport import ResilientRequest
from knowledge import Engine
from knowledge.workers import EngineWorkers

log = logging.getLogger(__name__)

POLL_TIMEOUT = 10


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


class JournalApplication(Application):  # type: ignore[type-arg]
    """Handles each update id once, and marks it done only when its handlers have run."""

    async def process_update(self, update: object) -> None:
        if not isinstance(update, Update):
            await super().process_update(update)
            return
        journal = services(self).journal  # type: ignore[arg-type]
        if not journal.claim(update.update_id):
            log.info("update %d already handled; skipped", update.update_id)
            return
        try:
            await super().process_update(update)
        except asyncio.CancelledError:
            journal.release(update.update_id)
            raise
        journal.finish(update.update_id)


def build_application(settings: Settings, backend: AnswerBackend) -> Application:  # type: ignore[type-arg]
    """The Application with its handlers, transport, journal and shared services."""
    journal = UpdateJournal(settings.bot_state_dir / "updates.sqlite3")
    sending = ResilientRequest(
        limiter=SendLimiter(settings.bot_messages_per_second),
        connection_pool_size=16,
        read_timeout=settings.bot_send_timeout_seconds,
        write_timeout=settings.bot_send_timeout_seconds,
        connect_timeout=10,
        pool_timeout=30,
    )
    polling = ResilientRequest(connection_pool_size=2, read_timeout=POLL_TIMEOUT + 10)
    bot = JournalBot(
        settings.token(),
        base_url=settings.telegram_base_url,
        base_file_url=_file_url(settings.telegram_base_url),
        request=sending,
        get_updates_request=polling,
        journal=journal,
    )
    application = (
        ApplicationBuilder()
        .bot(bot)
        .application_class(JournalApplication)
        .concurrent_updates(256)
        .build()
    )
    install(
        application.bot_data,
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


def _add_handlers(app: Application) -> None:  # type: ignore[type-arg]
    new = filters.UpdateType.MESSAGE
    private, groups = filters.ChatType.PRIVATE, filters.ChatType.GROUPS
    app.add_handler(TypeHandler(Update, handlers.guard), group=-1)
    for name, callback in (
        ("start", handlers.start),
        ("help", handlers.help_command),
        ("sources", handlers.sources_command),
        ("ask", handlers.ask_command),
        ("stats", handlers.stats_command),
        ("reindex", handlers.reindex_command),
        ("gaps", handlers.gaps_command),
        ("documents", uploads.documents_command),
        ("remove", uploads.remove_command),
    ):
        app.add_handler(CommandHandler(name, callback, filters=new))
    app.add_handler(MessageHandler(new & filters.StatusUpdate.MIGRATE, handlers.migrated))
    app.add_handler(MessageHandler(new & private & filters.COMMAND, handlers.unknown_command))
    app.add_handler(MessageHandler(new & private & filters.TEXT, handlers.private_text))
    app.add_handler(
        MessageHandler(new & groups & filters.TEXT & ~filters.COMMAND, handlers.group_text)
    )
    app.add_handler(MessageHandler(new & private & filters.Document.ALL, uploads.received))
    app.add_handler(MessageHandler(new & private, handlers.not_text))
    app.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE, handlers.edited))
    app.add_handler(InlineQueryHandler(handlers.inline_query))
    app.add_handler(CallbackQueryHandler(handlers.more_sources, pattern=r"^more:\d+$"))
    app.add_handler(CallbackQueryHandler(handlers.vote, pattern=handlers.VOTE_PATTERN))
    app.add_handler(CallbackQueryHandler(uploads.button, pattern=r"^upload:(add|cancel):"))
    app.add_error_handler(handlers.on_error)


async def serve(application: Application, stop: asyncio.Event) -> None:  # type: ignore[type-arg]
    """Poll and answer until `stop` is set; then finish in-flight answers and close."""
    svc = services(application)  # type: ignore[arg-type]
    try:
        await svc.batcher.start()  # a broken corpus or model fails here, before Telegram
        await _serve(application, svc, stop)
    finally:
        await svc.batcher.close()
        svc.journal.close()
        svc.feedback.close()


async def _serve(application: Application, svc: Services, stop: asyncio.Event) -> None:  # type: ignore[type-arg]
    async with application:  # getMe, and shutdown on the way out
        await application.bot.set_my_commands(
            [BotCommand(name, text) for name, text in messages.COMMANDS]
        )
        await _requeue_unfinished(application, svc)
        assert application.updater is not None
        await application.updater.start_polling(
            allowed_updates=Update.ALL_TYPES, timeout=POLL_TIMEOUT, bootstrap_retries=-1
        )
        await application.start()
        log.info("serving as @%s", application.bot.username)
        await stop.wait()
        log.info("stopping: finishing answers in flight")
        await application.updater.stop()
        await application.stop()  # waits for every update already fetched


async def _requeue_unfinished(application: Application, svc: Services) -> None:  # type: ignore[type-arg]
    pending = svc.journal.pending()
    for payload in pending:
        await application.update_queue.put(Update.de_json(payload, application.bot))
    svc.journal.prune()
    if pending:
        log.info("%d unfinished update(s) from the last run queued again", len(pending))


def run_bot(settings: Settings) -> int:
    """Serve until SIGINT or SIGTERM; in-flight answers are sent before exit."""
    application = build_application(settings, _backend(settings))
    try:
        asyncio.run(_serve_until_signalled(application))
    except InvalidToken:
        raise SettingsError("TELEGRAM_BOT_TOKEN: Telegram refused this token") from None
    return 0


def _backend(settings: Settings) -> AnswerBackend:
    """Engine worker processes; or, with BOT_ENGINE_WORKERS=0, the engine in a thread."""
    if settings.bot_engine_workers > 0:
        return EngineWorkers(settings.engine_config(), settings.bot_engine_workers)
    _share_cores_with_the_event_loop()
    return EngineThread(Engine.load(settings.engine_config()))


def _share_cores_with_the_event_loop() -> None:
    """The encoder works in a thread beside the event loop: leave the loop a core, and make
    the interpreter switch threads often so sends are not held up behind engine work."""
    import torch  # noqa: PLC0415 - the engine loads it next anyway

    torch.set_num_threads(max(1, (os.cpu_count() or 1) - 1))
    sys.setswitchinterval(0.0005)


async def _serve_until_signalled(application: Application) -> None:  # type: ignore[type-arg]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await serve(application, stop)
