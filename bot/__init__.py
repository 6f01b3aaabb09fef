"""The Telegram side: settings, the command line, the Application, handlers and renderers."""
