"""Every user-facing string, in one place. HTML strings here are trusted markup;
values are filled in by the renderers, which escape them."""

from __future__ import annotations

# --- answers ---------------------------------------------------------------
NOT_COVERED = "The documents I know don't cover that."
CLOSEST_DOCUMENTS = "Closest documents:"
EMPTY_QUESTION = "Please type a question, for example: {example}"
TRUNCATED = "Your question was long; I read only its first part."
MORE_SOURCES_BUTTON = "More sources"
SHARE_BUTTON = "Share"
NO_MORE_SOURCES = "That's every excerpt I have for this question."
ANSWER_EXPIRED = "That answer is too old to expand; please ask again."
EXAMPLE_QUESTION = "What does the Little Giants label entitle a company to?"

# --- commands --------------------------------------------------------------
START = (
    "Hi! I answer questions about China's “Little Giants” (小巨人) programme for small and "
    "medium-sized enterprises, from {count} news articles.\n\n"
    "Ask me anything in plain words and I reply with the exact passages that answer it, "
    "each with its source.\n\nTry: <i>{example}</i>\n\n"
    "/sources lists what I know; /help tells more."
)
HELP_PRIVATE = (
    "<b>How to ask</b>\nJust write your question. I quote the sentences that answer it, "
    "word for word, with the article they come from. If the articles don't answer, I say so.\n\n"
    "<b>Commands</b>\n/ask &lt;question&gt; ask a question\n/sources the articles I know\n"
    "/help this text\n\n"
    "<b>In groups</b>\nAdd me to a group and ask with <code>/ask your question</code>, by "
    "mentioning @{username}, or by replying to one of my messages. With Telegram's privacy mode "
    "on (the default) I only see those messages, and I ignore the rest of the chat.\n\n"
    "<b>Sharing</b>\nType <code>@{username} your question</code> in any chat to post a cited "
    "answer "
    "there, or press Share under an answer."
)
HELP_GROUP = (
    "Ask me with <code>/ask your question</code>, by mentioning @{username}, or by replying to "
    "one of my messages. Privacy mode is on by default, so I only see messages addressed to me "
    "and stay quiet otherwise."
)
SOURCES_HEADER = "<b>The articles I know</b>"
ASK_USAGE = "Usage: /ask your question, for example: /ask {example}"
GREETING_REPLY = "Hello! Ask me a question about China's Little Giants, for example: {example}"
NOT_TEXT = "I answer text questions. Please type your question."
RATE_LIMITED = "You're asking faster than I can answer. Please wait a minute and try again."
NOT_ALLOWED = "Sorry, this bot is private."
ADMIN_ONLY = "That command is for the bot's administrators."
REINDEX_STARTED = "Rebuilding the index; I keep answering from the old one meanwhile."
REINDEX_DONE = "Index rebuilt: {passages} passages from {documents} documents in {seconds:.1f} s."
REINDEX_FAILED = "The rebuild failed; I keep answering from the old index. Reason: {reason}"
REINDEX_RUNNING = "A rebuild is already running."
INTERNAL_ERROR = "Sorry, something went wrong on my side. Please try again."
STATS = (
    "<b>Since start</b> ({uptime})\nQuestions answered: {answered}\nAbstained: {abstained} "
    "({abstain_rate:.0%})\nLatency p50 {p50:.0f} ms, p95 {p95:.0f} ms, p99 {p99:.0f} ms\n"
    "Rate-limited: {limited}\nDuplicates skipped: {duplicates}\n"
    "Unreachable chats (blocked or kicked): {blocked}\n"
    "Polling conflicts (another instance with this token): {conflicts}"
)

# --- inline mode -----------------------------------------------------------
INLINE_HOWTO_TITLE = "Ask about China's Little Giants"
INLINE_HOWTO_DESCRIPTION = "Type a question after my name to share a cited answer."
INLINE_HOWTO_MESSAGE = (
    "Ask me about China's “Little Giants” programme: type <code>@{username} your question</code> "
    "in any chat."
)
INLINE_NOT_COVERED_TITLE = "Not covered by my documents"

# --- bot command menu (setMyCommands) -------------------------------------
COMMANDS = (
    ("ask", "Ask a question about the documents"),
    ("sources", "List the documents I know"),
    ("help", "How to ask, in private and in groups"),
    ("start", "Introduction"),
)

# --- terminal chat ---------------------------------------------------------
CHAT_BANNER = (
    "Little Giants: ask about China's 小巨人 SME programme ({count} articles).\n"
    "Type a question; /sources lists the articles, /help shows this again, Ctrl-D leaves."
)
CHAT_PROMPT = "you> "
CHAT_BYE = "Bye."
TERMINAL_SOURCES_HEADER = "The articles I know:"

# --- command line ----------------------------------------------------------
INDEX_DONE = "Index {status}: {passages} passages from {documents} documents at {path}"
EDITED = "I answer new messages, not edits: please send your question again."
UNKNOWN_COMMAND = "I don't know that command. /help lists what I can do."
STATE_DIR_IN_USE = (
    "BOT_STATE_DIR {path} is in use by another `python -m bot run` (pid {pid}); stop that one, "
    "or give this one its own BOT_STATE_DIR"
)
CHAT_HISTORY_NOT_SAVED = "warning: the chat history was not saved to {path}: {reason}"
CHAT_HISTORY_NOT_READ = "warning: the chat history in {path} was not read: {reason}"
