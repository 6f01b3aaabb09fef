"""The serving path: answer backends (a thread or worker processes) and their batcher."""
