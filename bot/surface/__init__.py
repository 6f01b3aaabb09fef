"""The Telegram surface: the Application, its handlers, who is addressed, and the update journal."""
