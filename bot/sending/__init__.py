"""The delivery path: rendered answers out to Telegram, paced, retried, never sent twice."""
