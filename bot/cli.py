"""The `python -m bot` command line: run, chat, ask, index."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Iterator
from itertools import islice
from typing import TextIO

from bot import messages
from bot.logs import configure_logging
from bot.render import jsonl, terminal
from bot.settings import Settings, SettingsError, load_settings
from bot.statedir import StateDirInUseError, claimed
from knowledge import Engine, KnowledgeError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
_JSON_BATCH = 32


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Answer questions about a document collection with cited, verbatim "
        "excerpts: on Telegram, in a terminal chat, or one question at a time.",
        epilog="Settings come from environment variables (and .env); see README.md.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands.add_parser(
        "run",
        help="serve Telegram by long polling (needs TELEGRAM_BOT_TOKEN)",
        description="Serve Telegram by long polling until SIGINT or SIGTERM. Needs "
        "TELEGRAM_BOT_TOKEN; TELEGRAM_BASE_URL points it at another Bot API server.",
    )
    commands.add_parser(
        "chat",
        help="talk to the engine in this terminal (no token needed)",
        description="A terminal conversation with the same engine the bot uses. "
        "/sources lists the documents, /help shows help, Ctrl-D leaves.",
    )
    ask = commands.add_parser(
        "ask",
        help="answer one question, or JSON lines from standard input",
        description="Answer QUESTION and print the cited excerpts. With --json, print one "
        "JSON object per question; without QUESTION, read questions from standard input, "
        "one per line, and answer them in the same order.",
    )
    ask.add_argument("question", nargs="*", help="the question (words are joined)")
    ask.add_argument("--json", action="store_true", help="print JSON lines (DESIGN.md §3)")
    index = commands.add_parser(
        "index",
        help="build or refresh the passage index, with progress",
        description="Load the index if it matches the corpus, model and settings; build "
        "it otherwise. --force rebuilds it regardless.",
    )
    index.add_argument("--force", action="store_true", help="rebuild even if up to date")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(settings.log_level, settings.secrets())
        return _dispatch(args, settings)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (KnowledgeError, StateDirInUseError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "run":
        return _run(settings)
    if args.command == "index":
        return _index(settings, force=args.force)
    engine = Engine.load(settings.engine_config(), progress=sys.stderr.isatty())
    if args.command == "chat":
        from bot.chat import chat  # noqa: PLC0415

        return chat(engine, settings)
    return _ask(engine, args.question, as_json=args.json)


def _run(settings: Settings) -> int:
    """Serve Telegram. Until the event loop takes signals over, SIGTERM stops start-up as
    Ctrl-C does, wherever it is (loading the model, say); a stop at start-up is a clean exit."""
    settings.token()  # fail fast, before loading the model
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with claimed(settings.bot_state_dir):  # before anything else touches the state
            from bot.app import run_bot  # noqa: PLC0415 - Telegram only loads for `run`

            return run_bot(settings)
    except KeyboardInterrupt:
        return EXIT_OK


def _index(settings: Settings, *, force: bool) -> int:
    config = settings.engine_config()
    if force and config.index_dir.exists():
        import shutil  # noqa: PLC0415

        shutil.rmtree(config.index_dir)
    engine = Engine.load(config, progress=True)
    print(
        messages.INDEX_DONE.format(
            status=engine.index_status,
            passages=len(engine.index.passages),
            documents=len(engine.documents),
            path=config.index_dir,
        )
    )
    return EXIT_OK


def _ask(engine: Engine, words: list[str], *, as_json: bool) -> int:
    if words:
        answer = engine.answer(" ".join(words))
        print(
            jsonl.answer_line(answer)
            if as_json
            else terminal.render_answer(answer, color=sys.stdout.isatty())
        )
        return EXIT_OK
    for batch in _batches(sys.stdin, 1 if sys.stdin.isatty() else _JSON_BATCH):
        for answer in engine.answer_many(batch):
            print(
                jsonl.answer_line(answer)
                if as_json
                else terminal.render_answer(answer, color=sys.stdout.isatty()) + "\n"
            )
        sys.stdout.flush()
    return EXIT_OK


def _batches(stream: TextIO, size: int) -> Iterator[list[str]]:
    lines = (line.rstrip("\r\n") for line in stream)
    while batch := list(islice(lines, size)):
        yield batch
