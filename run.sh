#!/usr/bin/env bash
# Set everything up (virtual environment, install) and start the bot: the Telegram bot when
# TELEGRAM_BOT_TOKEN is set (environment or .env), otherwise a chat in this terminal on the
# same engine. Either builds the index on first use, so the model loads only once.
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh
export HF_HUB_OFFLINE=1
# A token line in .env may start with `export` and quote its value, as in a shell script.
token_line="^[[:space:]]*(export[[:space:]]+)?TELEGRAM_BOT_TOKEN[[:space:]]*=[[:space:]]*[\"']?[^[:space:]\"'#]"
if [ -n "${TELEGRAM_BOT_TOKEN:-}" ] || grep -Eqs "$token_line" .env; then
    exec .venv/bin/python -m bot run
fi
exec .venv/bin/python -m bot chat
