"""The one place the Telegram Application is built, wired and run."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from telegram import BotCommand, Update
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

from bot import handlers, messages
from bot.batcher import AnswerBatcher
from bot.delivery import Delivery
from bot.journal import UpdateJournal
from bot.ratelimit import QuestionLimiter, SendLimiter
from bot.services import Services, install, services
from bot.settings import Settings
from bot.transport import ResilientRequest
from knowledge import Engine

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


def build_application(settings: Settings, engine: Engine) -> Application:  # type: ignore[type-arg]
    """The Application with its handlers, transport, journal and shared services."""
    journal = UpdateJournal(settings.bot_state_dir / "updates.sqlite3")
    sending = ResilientRequest(
        limiter=SendLimiter(settings.bot_messages_per_second),
        connection_pool_size=64,
        read_timeout=20,
        write_timeout=20,
        connect_timeout=10,
        pool_timeout=30,
    )
    polling = ResilientRequest(connection_pool_size=2, read_timeout=POLL_TIMEOUT + 10)
    bot = JournalBot(
        settings.token(),
        base_url=settings.telegram_base_url,
        request=sending,
        get_updates_request=polling,
        journal=journal,
    )
    application = (
        ApplicationBuilder()
        .bot(bot)
        .application_class(JournalApplication)
        .concurrent_updates(256)
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        .build()
    )
    install(
        application.bot_data,
        Services(
            settings=settings,
            batcher=AnswerBatcher(engine),
            limiter=QuestionLimiter(
                settings.bot_user_questions_per_minute, settings.bot_chat_questions_per_minute
            ),
            delivery=Delivery(bot),
            journal=journal,
        ),
    )
    _add_handlers(application)
    return application


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
    ):
        app.add_handler(CommandHandler(name, callback, filters=new))
    app.add_handler(MessageHandler(new & filters.StatusUpdate.MIGRATE, handlers.migrated))
    app.add_handler(MessageHandler(new & private & filters.COMMAND, handlers.unknown_command))
    app.add_handler(MessageHandler(new & private & filters.TEXT, handlers.private_text))
    app.add_handler(
        MessageHandler(new & groups & filters.TEXT & ~filters.COMMAND, handlers.group_text)
    )
    app.add_handler(MessageHandler(new & private, handlers.not_text))
    app.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE, handlers.edited))
    app.add_handler(InlineQueryHandler(handlers.inline_query))
    app.add_handler(CallbackQueryHandler(handlers.more_sources, pattern=r"^more:\d+$"))
    app.add_error_handler(handlers.on_error)


async def _post_init(app: Application) -> None:  # type: ignore[type-arg]
    svc = services(app)  # type: ignore[arg-type]
    svc.batcher.start()
    await app.bot.set_my_commands([BotCommand(name, text) for name, text in messages.COMMANDS])
    pending = svc.journal.pending()
    for payload in pending:
        await app.update_queue.put(Update.de_json(payload, app.bot))
    svc.journal.prune()
    log.info(
        "serving as @%s; %d unfinished update(s) from the last run queued again",
        app.bot.username,
        len(pending),
    )


async def _post_shutdown(app: Application) -> None:  # type: ignore[type-arg]
    svc = services(app)  # type: ignore[arg-type]
    await svc.batcher.close()
    svc.journal.close()


def run_bot(settings: Settings) -> int:
    """Serve until SIGINT or SIGTERM; in-flight answers are sent before exit."""
    engine = Engine.load(settings.engine_config())
    application = build_application(settings, engine)
    application.run_polling(
        allowed_updates=Update.ALL_TYPES,
        timeout=POLL_TIMEOUT,
        stop_signals=(signal.SIGINT, signal.SIGTERM),
    )
    return 0
