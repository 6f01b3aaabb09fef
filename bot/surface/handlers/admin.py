"""Admin commands: /stats, /reindex and /gaps."""

from __future__ import annotations

import logging
import time

from telegram import (
    Update,
)

from bot import messages
from bot.render import telegram as render
from bot.surface.handlers.common import is_private_chat, message_of, reply
from bot.surface.services import Context

log = logging.getLogger(__name__)


async def stats_command(update: Update, context: Context) -> None:
    svc = context.services
    if not await admin_only(update, context):
        return
    p50, p95, p99 = svc.stats.percentiles()
    text = messages.STATS.format(
        uptime=svc.stats.uptime(),
        answered=svc.stats.answered,
        abstained=svc.stats.abstained,
        abstain_rate=svc.stats.abstained / max(1, svc.stats.answered),
        p50=p50,
        p95=p95,
        p99=p99,
        limited=svc.limiter.refused,
        duplicates=svc.journal.duplicates,
        blocked=svc.delivery.blocked,
        conflicts=svc.stats.polling_conflicts,
    )
    up, down = svc.feedback.totals()
    helpful = (
        messages.STATS_HELPFUL.format(rate=up / (up + down), up=up, down=down)
        if up + down
        else messages.STATS_NO_VOTES
    )
    await reply(update, context, [text + helpful])


async def reindex_command(update: Update, context: Context) -> None:
    """Rebuilds from the corpus in the background; answers come from the old index meanwhile."""
    svc = context.services
    if not await admin_only(update, context):
        return
    if svc.reindexing.locked():
        await reply(update, context, [render.plain(messages.REINDEX_RUNNING)])
        return
    async with svc.reindexing:
        await reply(update, context, [render.plain(messages.REINDEX_STARTED)])
        started = time.monotonic()
        try:
            reloaded = await svc.batcher.reload()
        except Exception as exc:
            log.exception("reindex failed")
            failed = messages.REINDEX_FAILED.format(reason=exc.__class__.__name__)
            await reply(update, context, [render.plain(failed)])
            return
        done = messages.REINDEX_DONE.format(
            passages=reloaded.passages,
            documents=reloaded.documents,
            seconds=time.monotonic() - started,
        )
        await reply(update, context, [render.plain(done)])


async def gaps_command(update: Update, context: Context) -> None:
    """Admins: the questions declined and the answers rated 👎, most frequent first."""
    if not await admin_only(update, context):
        return
    await reply(update, context, [render.gaps_message(context.services.feedback.gaps())])


async def admin_only(update: Update, context: Context) -> bool:
    message = message_of(update)
    user_id = message.from_user.id if message.from_user else None
    if context.services.access.is_admin(user_id):
        return True
    if is_private_chat(message):
        await reply(update, context, [render.plain(messages.ADMIN_ONLY)])
    return False
