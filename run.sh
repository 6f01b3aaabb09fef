#!/usr/bin/env bash
# Set everything up (virtual environment, install, index) and start the bot:
# the Telegram bot when TELEGRAM_BOT_TOKEN is set (environment or .env),
# otherwise a chat in this terminal on the same engine.
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh
export HF_HUB_OFFLINE=1
.venv/bin/python -m bot index
if [ -n "${TELEGRAM_BOT_TOKEN:-}" ] || grep -qs '^TELEGRAM_BOT_TOKEN=.' .env; then
    exec .venv/bin/python -m bot run
fi
exec .venv/bin/python -m bot chat
