"""Load benchmark: the real bot (`python -m bot run`) against the Bot API emulator.

Run from the repo root:
`.venv/bin/python -m benchmarks.load [--chats 100] [--questions 5] [--rate 100]
[--messages-per-second 1000] [--index-dir DIR]`.

Private chats each ask distinct questions about the corpus (one in ten out of scope), first
open-loop at `--rate` questions/s, then all at once. Latency runs from the getUpdates
response that handed the update to the bot to the arrival of the bot's sendMessage reply.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import resource
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from telegram.constants import FloodLimit

from benchmarks._common import peak_rss_mb, percentiles, print_header, print_table
from knowledge.config import default_crosslingual_dir, default_second_stage_dir
from tests.support.botrunner import bot_process
from tests.support.data import REPO
from tests.support.emulator import JSON, BotApiEmulator, Call
from tests.support.processes import descendants_of, engine_workers, fork_server

GOAL_P50_MS, GOAL_P99_MS, GOAL_RATE, GOAL_CORES = 50.0, 250.0, 200.0, 2
TELEGRAM_MESSAGES_PER_SECOND = int(FloodLimit.MESSAGES_PER_SECOND)
WARMUP_QUESTIONS = 5
OUT_OF_SCOPE_EVERY = 10  # every tenth question is off topic
GRACE_SECONDS = 1.0  # after the last answer, to catch late duplicates
PHASE_DEADLINE = 20.0  # seconds after the last question (plus the send-limit time)
STOP_SECONDS = 30
NOT_COVERED = "The documents I know don't cover that."
SECOND = 1000.0

IN_SCOPE = (
    "What is a little giant?",
    "What are China's little giants?",
    "How many small giants did China pick in 2021?",
    "How many companies were on the small giants list before 2021?",
    "When was the small giants list introduced?",
    "Which ministry runs the little giants programme?",
    "What does xiao ju ren mean?",
    "What share of China's GDP comes from SMEs?",
    "What share of tax revenue comes from SMEs?",
    "How much employment do SMEs account for in China?",
    "How many little giants does China want by 2025?",
    "How many little giants had been announced by December 2024?",
    "How much R&D spending is required to become a little giant?",
    "How many patents does a little giant need?",
    "What domestic market share must a little giant hold?",
    "How much money does the government give each little giant?",
    "What share of IPOs in 2022 were little giant companies?",
    "Why was the Beijing Stock Exchange launched?",
    "What happened to venture capital funding in China in 2024?",
    "What is Made in China 2025?",
    "Who is Barry Naughton and what did he say about the programme?",
    "What did Kenneth Huang say about SMEs?",
    "What did Valarie Tan say about the big internet platforms?",
    "Which company was named a small giant in 2019 and then listed in Shenzhen?",
    "What does Keanda Electronic Technology make?",
    "What does Kofon Motion Group produce?",
    "What does FlexBot do?",
    "Which lighting company lit the Olympic stadium?",
    "What criteria must SMEs meet to qualify for the label?",
    "What benefits do little giants get?",
    "What are gazelles?",
    "Who coined the term gazelle?",
    "What is a unicorn?",
    "What did Premier Li Qiang say at the two sessions?",
    "Which sectors do little giants specialise in?",
    "Why does China's focus on specialisation worry some observers?",
    "How do SMEs progress from provincial recognition to national status?",
    "Which firms supply Xinjiang Goldwind Technology?",
    "Which industrial clusters concentrate little giants?",
    "What risks do little giants face from Western partners?",
    "How did the crackdown on Alibaba and Tencent relate to the programme?",
    "What is the Single Champions initiative?",
    "Why does overcapacity matter for little giants?",
    "What does TankeBlue Semiconductor do?",
    "How does DeepSeek relate to the little giants?",
    "What does the 14th Five-Year Plan say about SMEs?",
)
OUT_OF_SCOPE = (
    "What's the weather in Paris tomorrow?",
    "How do I bake sourdough bread?",
    "Who won the 2018 football world cup?",
    "What is the capital of Australia?",
    "How do I reset my router password?",
    "Recommend a good science fiction novel.",
    "How many calories are in a banana?",
    "What time is it in Tokyo right now?",
    "How do I change a flat bicycle tyre?",
    "What is the best way to learn the guitar?",
    "Translate good night into Spanish.",
    "How tall is Mount Kilimanjaro?",
)
PREFIXES = (
    "",
    "Quick question: ",
    "Can you tell me: ",
    "I'm writing a report. ",
    "Hey bot, ",
    "Please help - ",
    "One more thing. ",
    "For my class: ",
)
SUFFIXES = (
    "",
    " Thanks!",
    " Please be brief.",
    " Sources please.",
    " :)",
    "??",
    " (asking for work)",
)


@dataclass
class Question:
    """One question as queued at the emulator."""

    chat_id: int
    message_id: int
    update_id: int
    in_scope: bool
    queued: float  # time.monotonic() just after the update was queued


@dataclass
class Phase:
    """What one phase measured."""

    name: str
    questions: list[Question]
    latencies: list[float]  # update handed to the bot -> its sendMessage arrived
    end_to_end: list[float]  # update queued -> sendMessage arrived
    answered: int
    lost: int
    duplicated: int
    declined: dict[bool, int]  # by in-scope: replies saying the documents don't cover it
    replied: dict[bool, int]  # by in-scope: questions with a reply
    throughput: float
    seconds: float
    bot_cpu: tuple[float, float]  # whole process, event-loop thread
    bench_cpu: float

    @property
    def send_seconds(self) -> float:
        return self.questions[-1].queued - self.questions[0].queued


class TimedEmulator(BotApiEmulator):
    """The emulator, also noting when each update first left in a getUpdates response.

    BotApiEmulator records no such time, so this hooks its private `_record`, which runs
    under the emulator lock just before the response is written.
    """

    def __init__(self) -> None:
        super().__init__()
        self.handed_out: dict[int, float] = {}

    def _record(self, call: Call, status: int, body: JSON | None) -> None:
        super()._record(call, status, body)
        if call.method == "getUpdates" and status == 200 and body is not None:
            now = time.monotonic()
            for update in body["result"]:
                self.handed_out.setdefault(update["update_id"], now)


# --- questions ----------------------------------------------------------------


def question_texts(count: int, rng: random.Random, used: set[str]) -> Iterator[tuple[str, bool]]:
    """Distinct questions (never repeated in one run), every tenth one out of scope."""
    for number in range(count):
        in_scope = number % OUT_OF_SCOPE_EVERY != OUT_OF_SCOPE_EVERY - 1
        pool = IN_SCOPE if in_scope else OUT_OF_SCOPE
        for attempt in range(100):
            text = f"{rng.choice(PREFIXES)}{rng.choice(pool)}{rng.choice(SUFFIXES)}"
            text = text.lower() if rng.random() < 0.25 else text
            text = text if attempt < 50 else f"{text} (#{number})"
            if text not in used:
                break
        used.add(text)
        yield text, in_scope


def plan_questions(
    chats: list[tuple[JSON, JSON]], per_chat: int, rng: random.Random, used: set[str]
) -> list[tuple[JSON, JSON, str, bool]]:
    """Round-robin order: every chat's first question, then every chat's second, ..."""
    texts = question_texts(len(chats) * per_chat, rng, used)
    return [(chat, user, *next(texts)) for _ in range(per_chat) for chat, user in chats]


def send(
    emu: TimedEmulator, plan: list[tuple[JSON, JSON, str, bool]], rate: float | None
) -> list[Question]:
    """Queue the plan from a sender thread: open loop at `rate` per second, or all at once."""
    sent: list[Question] = []

    def run() -> None:
        start = time.monotonic()
        for number, (chat, user, text, in_scope) in enumerate(plan):
            if rate is not None and (delay := start + number / rate - time.monotonic()) > 0:
                time.sleep(delay)
            update = emu.send_message(chat, user, text)
            message = update["message"]
            sent.append(
                Question(
                    chat_id=chat["id"],
                    message_id=message["message_id"],
                    update_id=update["update_id"],
                    in_scope=in_scope,
                    queued=time.monotonic(),
                )
            )

    sender = threading.Thread(target=run, name="sender")
    sender.start()
    sender.join()
    return sent


# --- replies and figures ------------------------------------------------------


def replies(emu: TimedEmulator) -> dict[tuple[int, int], list[Call]]:
    """Delivered sendMessage calls by the (chat id, message id) they reply to."""
    found: dict[tuple[int, int], list[Call]] = defaultdict(list)
    for call in emu.calls("sendMessage"):
        result = (call.response or {}).get("result")
        if isinstance(result, dict) and "reply_to_message" in result:
            found[result["chat"]["id"], result["reply_to_message"]["message_id"]].append(call)
    return found


def wait_for_answers(emu: TimedEmulator, questions: list[Question], deadline: float) -> None:
    """Until every question has a reply (then a grace period for duplicates) or `deadline`."""
    keys = [(q.chat_id, q.message_id) for q in questions]
    while time.monotonic() < deadline:
        found = replies(emu)
        if all(key in found for key in keys):
            time.sleep(GRACE_SECONDS)
            return
        time.sleep(0.05)


def unanswered(emu: TimedEmulator, phases: list[Phase]) -> int:
    """Questions of all phases with no reply so far."""
    found = replies(emu)
    questions = [q for phase in phases for q in phase.questions]
    return sum((q.chat_id, q.message_id) not in found for q in questions)


def cpu_seconds(pid: int, tid: int | None = None) -> float:
    """User plus system CPU time of a process (or one of its threads) from /proc."""
    path = f"/proc/{pid}/task/{tid}/stat" if tid else f"/proc/{pid}/stat"
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and all its descendants (those alive now)."""
    total = cpu_seconds(pid)
    for child in descendants_of(pid):
        with contextlib.suppress(OSError):
            total += cpu_seconds(child)
    return total


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def figures(
    emu: TimedEmulator, name: str, questions: list[Question], cpu: tuple[float, float, float]
) -> Phase:
    """Match replies to questions and compute the phase's figures."""
    found = replies(emu)
    latencies: list[float] = []
    end_to_end: list[float] = []
    declined, replied = {True: 0, False: 0}, {True: 0, False: 0}
    last = 0.0
    for question in questions:
        calls = found.get((question.chat_id, question.message_id), [])
        if not calls:
            continue
        first = min(call.time for call in calls)
        last = max(last, first)
        latencies.append(first - emu.handed_out.get(question.update_id, question.queued))
        end_to_end.append(first - question.queued)
        text = calls[0].response["result"].get("text", "")  # type: ignore[index]
        declined[question.in_scope] += NOT_COVERED in text
        replied[question.in_scope] += 1
    counts = [len(found.get((q.chat_id, q.message_id), [])) for q in questions]
    duplicated = sum(count > 1 for count in counts)
    seconds = max(last - questions[0].queued, 1e-9)
    return Phase(
        name=name,
        questions=questions,
        latencies=latencies,
        end_to_end=end_to_end,
        answered=counts.count(1),
        lost=counts.count(0),
        duplicated=duplicated,
        declined=declined,
        replied=replied,
        throughput=(len(questions) - counts.count(0)) / seconds,
        seconds=seconds,
        bot_cpu=(cpu[0], cpu[1]),
        bench_cpu=cpu[2],
    )


def run_phase(
    emu: TimedEmulator,
    bot_pid: int,
    name: str,
    plan: list[tuple[JSON, JSON, str, bool]],
    *,
    rate: float | None,
    deadline_after: float,
) -> Phase:
    """Send the plan, wait for the answers, and measure CPU of the bot (with its engine
    workers) and of this process meanwhile."""
    before = tree_cpu_seconds(bot_pid), cpu_seconds(bot_pid, bot_pid), own_cpu_seconds()
    questions = send(emu, plan, rate)
    wait_for_answers(emu, questions, time.monotonic() + deadline_after)
    after = tree_cpu_seconds(bot_pid), cpu_seconds(bot_pid, bot_pid), own_cpu_seconds()
    cpu = (after[0] - before[0], after[1] - before[1], after[2] - before[2])
    return figures(emu, name, questions, cpu)


# --- the bot process --------------------------------------------------------


def model_caches() -> dict[str, str]:
    """The user's caches of the multilingual and second-stage vectors and of the unpacked
    mpnet, for the bot and `bot index`: made once, as in a deployment, not per run."""
    return {
        "KNOWLEDGE_CROSSLINGUAL_DIR": str(default_crosslingual_dir()),
        "KNOWLEDGE_SECOND_STAGE_DIR": str(default_second_stage_dir()),
    }


def build_index(index_dir: Path, home: Path) -> str:
    """`python -m bot index` in a subprocess, so the benchmark process never loads the model."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "KNOWLEDGE_INDEX_DIR": str(index_dir),
        **model_caches(),
    }
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "bot", "index"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        sys.exit(f"index build failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return f"{done.stdout.strip()} [{time.monotonic() - started:.1f} s]"


@contextlib.contextmanager
def running_bot(
    emu: TimedEmulator,
    root: Path,
    index_dir: Path,
    messages_per_second: float,
    engine_workers: int | None,
    *,
    second_stage: str = "true",
) -> Iterator[subprocess.Popen[bytes]]:
    """The bot as a subprocess, polling the emulator; stopped (SIGTERM) by the caller."""
    log_path = root / "bot.log"
    workers = {} if engine_workers is None else {"BOT_ENGINE_WORKERS": str(engine_workers)}
    process = bot_process(
        emu,
        root / "state",
        index_dir,
        log_path,
        fresh_interpreter=True,  # the bot as it runs, not forked from the tests' zygote
        BOT_MESSAGES_PER_SECOND=f"{messages_per_second:g}",
        BOT_USER_QUESTIONS_PER_MINUTE="1000",
        BOT_CHAT_QUESTIONS_PER_MINUTE="10000",
        KNOWLEDGE_SECOND_STAGE=second_stage,  # on as deployed (the tests' bots run without)
        **model_caches(),
        **workers,
    )
    assert isinstance(process, subprocess.Popen)  # fresh_interpreter: a real interpreter
    started = time.monotonic()
    try:
        emu.wait_for(lambda: process.poll() is not None or emu.calls("getUpdates"), 180)
        if process.poll() is not None:
            sys.exit(f"the bot exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        print(f"bot: pid {process.pid}, polling {time.monotonic() - started:.1f} s after start")
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def stop_bot(process: subprocess.Popen[bytes], unanswered: int) -> str:
    """SIGTERM, then the exit status and how long the bot took to finish."""
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    backlog = f"{unanswered} questions unanswered at SIGTERM"
    try:
        code = process.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        return f"did not exit within {STOP_SECONDS} s of SIGTERM ({backlog}): MISSED"
    verdict = "ok" if code == 0 else "MISSED"
    seconds = time.monotonic() - started
    return f"exit {code} {seconds:.1f} s after SIGTERM ({backlog}): {verdict}"


def journal_pending(state_dir: Path) -> set[int]:
    """Update ids the bot's journal holds as fetched but not finished (handled next start)."""
    path = state_dir / "updates.sqlite3"
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            rows = db.execute("SELECT update_id FROM updates WHERE done = 0").fetchall()
    except sqlite3.Error as exc:
        print(f"journal not readable: {exc}")
        return set()
    return {row[0] for row in rows}


def shutdown_report(emu: TimedEmulator, phases: list[Phase], state_dir: Path) -> str:
    """Where the questions still unanswered after exit are: none may be simply gone."""
    found = replies(emu)
    left = [q for p in phases for q in p.questions if (q.chat_id, q.message_id) not in found]
    pending = journal_pending(state_dir)
    journal = sum(q.update_id in pending for q in left)
    resent = sum(q.update_id not in pending and q.update_id >= emu.confirmed_offset for q in left)
    gone = len(left) - journal - resent
    return (
        f"after exit: {len(left)} unanswered = {journal} in the journal for the next start "
        f"+ {resent} never confirmed (Telegram resends) + {gone} gone: "
        f"{'ok' if gone == 0 else 'MISSED'}"
    )


def peak_rss_report(pid: int) -> str:
    """Peak memory of the bot, its engine workers and their fork server, and the memory of
    them all now counted once (PSS: a page shared by processes is split between them, as
    the fork server's libraries are with the workers forked from it)."""
    parent = peak_rss_of(pid)
    workers = [peak_rss_of(worker) for worker in engine_workers(pid)]
    server = fork_server(pid)
    shown = " + ".join(f"{rss:.0f}" for rss in workers)
    served = f" + fork server {peak_rss_of(server):.0f} MiB" if server is not None else ""
    total = sum(pss_of(p) for p in [pid, *descendants_of(pid)])
    return (
        f"bot {parent:.0f} MiB + {len(workers)} engine worker(s) {shown or '0'} MiB{served} "
        f"(VmHWM); all of them now {total:.0f} MiB (PSS)"
    )


def pss_of(pid: int) -> float:
    """Proportional set size of a running process, in MiB (0 if it is gone)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_of(pid: int) -> float:
    """VmHWM of a running process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def log_summary(log_path: Path) -> str:
    lines = log_path.read_text(errors="replace").splitlines()
    warnings = sum(" WARNING " in line for line in lines)
    errors = sum(" ERROR " in line or " CRITICAL " in line for line in lines)
    return f"bot log: {len(lines)} lines, {warnings} warnings, {errors} errors ({log_path.name})"


# --- report ---------------------------------------------------------------


def ms3(samples: list[float]) -> list[str]:
    return [f"{SECOND * p:.1f}" for p in percentiles(samples)] if samples else ["-"] * 3


def print_phases(phases: list[Phase]) -> None:
    header = [
        "phase",
        "sent",
        "answered",
        "lost",
        "dup",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "e2e p50/p99 ms",
        "answers/s",
        "bot CPU s: all (event loop)",
        "bench CPU s",
    ]
    rows = []
    for p in phases:
        e2e = ms3(p.end_to_end)
        rows.append(
            [
                p.name,
                str(len(p.questions)),
                str(p.answered),
                str(p.lost),
                str(p.duplicated),
                *ms3(p.latencies),
                f"{e2e[0]} / {e2e[2]}",
                f"{p.throughput:.0f}",
                f"{p.bot_cpu[0]:.1f} ({p.bot_cpu[1]:.1f})",
                f"{p.bench_cpu:.1f}",
            ]
        )
    print_table(header, rows)
    for p in phases:
        print(
            f"  {p.name}: declined {p.declined[False]} of {p.replied[False]} answered "
            f"out-of-scope and {p.declined[True]} of {p.replied[True]} in-scope questions; "
            f"questions queued over {p.send_seconds:.2f} s, "
            f"last answer {p.seconds:.2f} s after the first"
        )


def print_goals(paced: Phase, burst: Phase, rate: float) -> None:
    """Each goal, the figure and ok or MISSED; a lost question misses the latency goals."""

    def mark(ok: bool) -> str:
        return "ok" if ok else "MISSED"

    lost = sum(p.lost for p in (paced, burst))
    duplicated = sum(p.duplicated for p in (paced, burst))
    p50, _, p99 = (SECOND * p for p in percentiles(paced.latencies or [float("inf")]))
    over = f" (over {len(paced.latencies)} answered, {paced.lost} lost)" if paced.lost else ""
    print("goals:")
    none = mark(lost == duplicated == 0)
    print(f"  none lost or duplicated: {lost} lost, {duplicated} duplicated: {none}")
    for label, value, limit in (("p50", p50, GOAL_P50_MS), ("p99", p99, GOAL_P99_MS)):
        print(
            f"  {label} <= {limit:g} ms at {rate:g} questions/s: {value:.1f} ms{over}: "
            f"{mark(value <= limit and not paced.lost)}"
        )
    print(
        f"  >= {GOAL_RATE:g} questions/s sustained on {GOAL_CORES} cores: "
        f"{burst.throughput:.0f}/s on {os.cpu_count()} cores: "
        f"{mark(burst.throughput >= GOAL_RATE and not burst.lost)}"
    )


# --- main -------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__)
    parser.add_argument("--chats", type=int, default=100, help="private chats (default 100)")
    parser.add_argument("--questions", type=int, default=5, help="questions per chat and phase")
    parser.add_argument("--rate", type=float, default=100, help="paced phase, questions/s")
    parser.add_argument(
        "--messages-per-second",
        type=float,
        default=1000,
        help="BOT_MESSAGES_PER_SECOND for the bot (Telegram's limit: 30)",
    )
    parser.add_argument(
        "--engine-workers",
        type=int,
        help="BOT_ENGINE_WORKERS for the bot (default: the bot's own, one per core up to 4)",
    )
    parser.add_argument(
        "--second-stage",
        choices=("true", "false"),
        default="true",
        help="KNOWLEDGE_SECOND_STAGE for the bot (default true, as deployed)",
    )
    parser.add_argument("--index-dir", type=Path, help="reuse (or build) the index here")
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args()


def describe_send_limit(messages_per_second: float) -> str:
    if messages_per_second > TELEGRAM_MESSAGES_PER_SECOND:
        return (
            f"BOT_MESSAGES_PER_SECOND={messages_per_second:g}: above Telegram's "
            f"{TELEGRAM_MESSAGES_PER_SECOND}/s, so this measures the bot pipeline; "
            f"--messages-per-second {TELEGRAM_MESSAGES_PER_SECOND} shows the cap"
        )
    return (
        f"BOT_MESSAGES_PER_SECOND={messages_per_second:g}: throughput is capped at "
        f"{messages_per_second:g} messages/s by design"
    )


def warm_up(emu: TimedEmulator, rng: random.Random, used: set[str]) -> str:
    """A few questions from one chat, answered before the clock starts."""
    user = emu.new_user("Warm")
    plan = plan_questions([(emu.private_chat(user), user)], WARMUP_QUESTIONS, rng, used)
    started = time.monotonic()
    questions = send(emu, plan, None)
    wait_for_answers(emu, questions, started + 120)
    found = replies(emu)
    answered = sum((q.chat_id, q.message_id) in found for q in questions)
    return f"warm-up: {answered}/{len(questions)} answered in {time.monotonic() - started:.1f} s"


def settle(pid: int, quiet: float = 1.0, limit: float = 180.0) -> str:
    """Wait until the bot and its workers have done starting (the bot polls once its first
    worker is ready; the others are still loading models): a second in which the whole
    process tree uses under a tenth of a core."""
    started = time.monotonic()
    before = tree_cpu_seconds(pid)
    while time.monotonic() - started < limit:
        time.sleep(quiet)
        now = tree_cpu_seconds(pid)
        if now - before < 0.1 * quiet:
            break
        before = now
    return f"settled: the bot's processes idle {time.monotonic() - started:.1f} s after polling"


def drive(emu: TimedEmulator, pid: int, args: argparse.Namespace) -> list[Phase]:
    """The paced phase, then the flat-out phase, over the same chats with new questions."""
    rng, used = random.Random(args.seed), set[str]()
    print(settle(pid))
    print(warm_up(emu, rng, used))
    users = [emu.new_user(f"User{number}") for number in range(args.chats)]
    chats = [(emu.private_chat(user), user) for user in users]
    total = args.chats * args.questions
    deadline = PHASE_DEADLINE + total / args.messages_per_second
    phases = []
    for name, rate in ((f"paced {args.rate:g}/s", args.rate), ("max rate", None)):
        plan = plan_questions(chats, args.questions, rng, used)
        phases.append(run_phase(emu, pid, name, plan, rate=rate, deadline_after=deadline))
    return phases


def prepare_index(index_dir: Path | None, root: Path) -> Path:
    """The given index directory if it holds an index, else one built now."""
    if index_dir and any(index_dir.glob("*")):
        print(f"index: reusing {index_dir}")
        return index_dir
    index_dir = index_dir or root / "index"
    print(f"index: {build_index(index_dir, root / 'home')}")
    return index_dir


def main() -> None:
    args = parse_args()
    started = time.monotonic()
    print_header("load: the real bot process against the Bot API emulator")
    print(describe_send_limit(args.messages_per_second))
    print(
        "latency: from the getUpdates response that handed the update to the bot to the "
        "arrival of its sendMessage reply; e2e: from queueing the update instead"
    )
    emu = TimedEmulator()
    with tempfile.TemporaryDirectory(prefix="load-bench-") as tmp, emu:
        root = Path(tmp)
        index_dir = prepare_index(args.index_dir, root)
        with running_bot(
            emu,
            root,
            index_dir,
            args.messages_per_second,
            args.engine_workers,
            second_stage=args.second_stage,
        ) as bot:
            phases = drive(emu, bot.pid, args)
            bot_rss = peak_rss_report(bot.pid)
            stopped = stop_bot(bot, unanswered(emu, phases))
        print_phases(phases)
        print_goals(phases[0], phases[1], args.rate)
        print(f"peak RSS: {bot_rss}; benchmark {peak_rss_mb():.0f} MiB; {os.cpu_count()} CPUs")
        print(f"bot stopped: {stopped}")
        print(shutdown_report(emu, phases, root / "state"))
        print(log_summary(root / "bot.log"))
    print(f"total {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
