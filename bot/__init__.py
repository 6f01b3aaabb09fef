"""The Telegram bot around the `knowledge` engine.

- `surface/`: the Telegram Application, its handlers, addressing, and the update journal.
- `sending/`: the delivery path: replies with fallbacks, send pacing, retries, the HTTP client.
- `serving/`: the serving path: answer backends (a thread or worker processes) and the batcher.
- `render/`, `messages.py`: every user-facing string, and the renderers that escape them.
- `cli.py`, `chat.py`, `manage.py`: the command line, the terminal chat, collection commands.
- `settings.py`, `statedir.py`, `logs.py`, `feedback.py`, `stats.py`: what they say.
"""
