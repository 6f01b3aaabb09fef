"""The `python -m bot` command line: run, chat, ask, index, gaps, add, remove, documents."""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import sys
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import BinaryIO

from bot import messages
from bot.feedback import feedback_path, read_gaps
from bot.logs import configure_logging
from bot.render import jsonl, terminal
from bot.settings import Settings, SettingsError, load_settings
from bot.statedir import StateDirInUseError, claimed
from knowledge import Answer, Engine, FolderError, KnowledgeError

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
    ask.add_argument(
        "--json", action="store_true", help="print one JSON object per answer (see README.md)"
    )
    index = commands.add_parser(
        "index",
        help="build or refresh the passage index, with progress",
        description="Load the index if it matches the corpus, model and settings; build "
        "it otherwise. --force rebuilds it regardless.",
    )
    index.add_argument("--force", action="store_true", help="rebuild even if up to date")
    gaps = commands.add_parser(
        "gaps",
        help="list what the collection failed at: declined questions, answers rated 👎",
        description="List the questions the bot declined in Telegram and the answers rated 👎 "
        "there (the current votes), most frequent first, from everything recorded in "
        "BOT_STATE_DIR. Questions that differ only in case, spacing or punctuation count "
        "together, shown in their latest wording. Needs no token and no model.",
    )
    gaps.add_argument(
        "--json",
        action="store_true",
        help="print JSON lines: question, kind (declined or disliked), count, last_asked "
        "(ISO 8601, UTC), and doc_ids for disliked answers",
    )
    _collection_commands(commands)
    return parser


def _collection_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    add = commands.add_parser(
        "add",
        help="add documents to the collection (.md, .txt, .html, .htm, .pdf)",
        description="Read each file (Markdown with or without front matter, plain text, a "
        "web page or a PDF), store it in the collection folder (KNOWLEDGE_COLLECTION_DIR) as "
        "Markdown with front matter, and index it; a running bot answers from it within "
        "seconds. All or nothing: if one file is bad, none is added.",
    )
    add.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="a file to add")
    remove = commands.add_parser(
        "remove",
        help="take documents out of the collection",
        description="Take documents out by doc_id (see `documents`): added ones are "
        "deleted from the collection folder, bundled ones are listed in its removed.txt.",
    )
    remove.add_argument("doc_ids", nargs="+", metavar="DOC_ID", help="a document's id")
    documents = commands.add_parser(
        "documents",
        help="list the collection",
        description="List the documents answers come from: the bundled articles not "
        "removed and the documents added.",
    )
    documents.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per line: doc_id, title, publisher, published, source, "
        "passages, bundled",
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(settings.log_level, settings.secrets())
        return _dispatch(args, settings)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except FolderError as exc:
        setting = f"KNOWLEDGE_{exc.setting.upper()}"
        print(
            f"error: {messages.FOLDER_ERROR.format(setting=setting, reason=exc)}", file=sys.stderr
        )
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
    if args.command == "gaps":
        return _gaps(settings, as_json=args.json)
    if args.command in {"add", "remove", "documents"}:
        return _manage(args, settings)
    engine = Engine.load(settings.engine_config(), progress=sys.stderr.isatty())
    # Its vectors now, for the same answers on a first run as on later ones; its models too
    # for a chat (an `ask` loads them only if a question needs them).
    engine.warm_second_stage(wait=True, models=args.command == "chat")
    if args.command == "chat":
        from bot.chat import chat  # noqa: PLC0415

        return chat(engine, settings)
    return _ask(engine, args.question, as_json=args.json)


class _StartUpStop:
    """Until the event loop takes signals over, SIGTERM and SIGINT stop start-up wherever it
    is (loading the model, say), as Ctrl-C does; and are remembered, as an import that is
    interrupted turns the KeyboardInterrupt into an ImportError."""

    def __init__(self) -> None:
        self.requested = False
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._stop)

    def _stop(self, signum: int, frame: object) -> None:
        self.requested = True
        raise KeyboardInterrupt

    def check(self) -> None:
        """Stop now if a signal came while something swallowed its KeyboardInterrupt."""
        if self.requested:
            raise KeyboardInterrupt


def _run(settings: Settings) -> int:
    """Serve Telegram; a stop at start-up is a clean exit."""
    settings.token()  # fail fast, before loading the model
    stop = _StartUpStop()
    try:
        with claimed(settings.bot_state_dir):  # before anything else touches the state
            from bot.surface.app import run_bot  # noqa: PLC0415 - Telegram only loads for `run`

            return run_bot(settings, loaded=stop.check)
    except KeyboardInterrupt:
        return EXIT_OK
    except Exception:
        if stop.requested:  # the interrupted start-up's error, not one to report
            return EXIT_OK
        raise


def _manage(args: argparse.Namespace, settings: Settings) -> int:
    from bot import manage  # noqa: PLC0415 - the readers load only for these commands

    config = settings.engine_config()
    if args.command == "add":
        manage.add(config, args.paths)
    elif args.command == "remove":
        manage.remove(config, args.doc_ids)
    else:
        manage.documents(config, as_json=args.json)
    return EXIT_OK


def _index(settings: Settings, *, force: bool) -> int:
    """Build or bring the index up to date; with `force`, embed every document again (the
    folder keeps anything the index did not write)."""
    config = settings.engine_config()
    engine = Engine.load(config, progress=True, force=force)
    engine.prepare_other_languages()
    print(
        messages.INDEX_DONE.format(
            status=engine.index_status,
            passages=len(engine.index.passages),
            documents=len(engine.documents),
            path=config.index_dir,
        )
    )
    return EXIT_OK


def _gaps(settings: Settings, *, as_json: bool) -> int:
    try:
        gaps = read_gaps(settings.bot_state_dir)
    except sqlite3.DatabaseError as exc:
        print(f"error: {feedback_path(settings.bot_state_dir)}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    if as_json:
        for gap in gaps:
            print(jsonl.gap_line(gap))
    else:
        print(terminal.render_gaps(gaps))
    return EXIT_OK


def _ask(engine: Engine, words: list[str], *, as_json: bool) -> int:
    """Answers on standard output as UTF-8 whatever the locale: bad input bytes become
    U+FFFD, so every input line gets exactly one output line."""
    out = sys.stdout.buffer
    color = sys.stdout.isatty()
    if words:
        question = " ".join(os.fsencode(word).decode("utf-8", "replace") for word in words)
        out.write(_rendered(engine.answer(question), as_json=as_json, color=color) + b"\n")
        return EXIT_OK
    for batch in _batches(sys.stdin.buffer, 1 if sys.stdin.isatty() else _JSON_BATCH):
        for answer in engine.answer_many(batch):
            separator = b"\n" if as_json else b"\n\n"
            out.write(_rendered(answer, as_json=as_json, color=color) + separator)
        out.flush()
    return EXIT_OK


def _rendered(answer: Answer, *, as_json: bool, color: bool) -> bytes:
    text = jsonl.answer_line(answer) if as_json else terminal.render_answer(answer, color=color)
    return text.encode("utf-8", "replace")


def _batches(stream: BinaryIO, size: int) -> Iterator[list[str]]:
    lines = (line.rstrip(b"\r\n").decode("utf-8", "replace") for line in stream)
    while batch := list(islice(lines, size)):
        yield batch
