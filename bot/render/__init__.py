"""One renderer per surface: Telegram HTML, the terminal, and JSON lines."""
