"""Handlers, one module per surface: each turns one kind of update into engine calls and
messages (`bot.surface.app` registers them)."""
