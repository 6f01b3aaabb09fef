"""Every user-facing string, in one place. HTML strings here are trusted markup;
values are filled in by the renderers, which escape them."""

from __future__ import annotations

# --- answers ---------------------------------------------------------------
NOT_COVERED = "The documents I know don't cover that."
TAKEN_AS = "Taken as: {question}"
# A question in another script: the documents are English, so is the engine.
# A question in another script that the search across languages could not match. It says
# what failed (matching this wording), never that the documents lack the answer: they may
# well have it, in English.
OTHER_LANGUAGE = {
    "en": "I couldn't match this question to my documents with confidence. They are in "
    "English, and I read questions in English best: please ask in English, for example: "
    "{example}",
    "zh": "我没能把这个问题可靠地对应到文档内容。文档是英文的，我最擅长读英文问题，请用英文提问，"
    "例如：{example}",
    "ru": "Я не смог уверенно сопоставить этот вопрос с документами. Документы на английском, "
    "и вопросы на английском я понимаю лучше всего: спросите по-английски, например: {example}",
}
CROSS_LANGUAGE = {  # above excerpts matched to a question in another script
    "en": "The documents are in English; these passages are the closest to your question:",
    "zh": "文档是英文的；以下是与您的问题最接近的段落：",
    "ru": "Документы на английском; вот отрывки, ближе всего к вашему вопросу:",
}
CLOSEST_DOCUMENTS = "Closest documents:"
EMPTY_QUESTION = "Please type a question, for example: {example}"
TRUNCATED = "Your question was long; I read only its first part."
MORE_SOURCES_BUTTON = "More sources"
SHARE_BUTTON = "Share"
NO_MORE_SOURCES = "That's every excerpt I have for this question."
ANSWER_EXPIRED = "That answer is too old to expand; please ask again."
VOTE_UP_BUTTON = "👍"
VOTE_DOWN_BUTTON = "👎"
VOTED_UP = "Thanks — noted 👍"
VOTED_DOWN = "Thanks — noted 👎"
VOTE_WITHDRAWN = "Your vote is withdrawn."
VOTE_UNKNOWN = "Thanks! I can't find that answer any more, so the vote isn't counted."
EXAMPLE_QUESTION = "What does the Little Giants label entitle a company to?"

# --- commands --------------------------------------------------------------
START = (
    "Hi! I answer questions about China's “Little Giants” (小巨人) programme for small and "
    "medium-sized enterprises, from {count} news articles.\n\n"
    "Ask me anything in plain words and I reply with the exact passages that answer it, "
    "each with its source.\n\nTry: <i>{example}</i>\n\n"
    "Press 👍 or 👎 under an answer to tell me whether it helped.\n\n"
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
    "there, or press Share under an answer.\n\n"
    "<b>Feedback</b>\nPress 👍 or 👎 under an answer to say whether it helped. Press the other "
    "one to change your vote, the same one again to withdraw it."
)
HELP_GROUP = (
    "Ask me with <code>/ask your question</code>, by mentioning @{username}, or by replying to "
    "one of my messages. Privacy mode is on by default, so I only see messages addressed to me "
    "and stay quiet otherwise. Press 👍 or 👎 under an answer to say whether it helped."
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

# --- the collection, for admins ------------------------------------------------
UPLOAD_TOO_BIG = "That file is {size}; Telegram lets me download files of up to 20 MB."
UPLOAD_REFUSED = "I can't add that file: {reason}"
UPLOAD_READ = (
    "I read <b>{title}</b> ({publisher}): {size}, {passages} passages. Add it to the collection?"
)
ADD_BUTTON = "Add"
CANCEL_BUTTON = "Cancel"
UPLOAD_ADDED = "Added {doc_id}: {title} ({passages} passages). I answer from it now."
UPLOAD_CANCELLED = "Not added."
UPLOAD_EXPIRED = "That upload is no longer pending; please send the file again."
REMOVE_USAGE = "Usage: /remove DOC_ID (the ids are in /documents)"
COLLECTION_HEADER = "<b>The collection</b> (ids for /remove)"
STATS = (
    "<b>Since start</b> ({uptime})\nQuestions answered: {answered}\nAbstained: {abstained} "
    "({abstain_rate:.0%})\nLatency p50 {p50:.0f} ms, p95 {p95:.0f} ms, p99 {p99:.0f} ms\n"
    "Rate-limited: {limited}\nDuplicates skipped: {duplicates}\n"
    "Unreachable chats (blocked or kicked): {blocked}\n"
    "Polling conflicts (another instance with this token): {conflicts}"
)
STATS_HELPFUL = "\nRated helpful (all time): {rate:.0%} ({up} 👍, {down} 👎)"
STATS_NO_VOTES = "\nRated helpful (all time): no votes yet"
GAPS_HEADER = "<b>What the documents failed at</b>, most frequent first"
GAP_LINE = "{count}× {kind} · last asked {date}"
GAP_DECLINED = "declined"
GAP_DISLIKED = "rated 👎"
GAP_CITED = "Cited:"
GAPS_MORE = "…and {count} more: python -m bot gaps lists them all."
GAPS_EMPTY = "Nothing recorded yet: no question was declined and no answer was rated 👎."

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
GAPS_HEADER_TERMINAL = "count  kind      last asked  question"
ADDED_DOCUMENT = "Added {doc_id}: {title} ({passages} passages)"
REMOVED_DOCUMENT = "Removed {doc_id}: {title}"
NOTHING_ADDED = "{reason}; nothing was added"
NOTHING_REMOVED = "{reason}; nothing was removed"
DOCUMENT_LINE = "{doc_id}: {source} · {passages} passages · {origin}"
BUNDLED = "bundled"
FOLDER_ERROR = "{setting}: {reason}"
EDITED = "I answer new messages, not edits: please send your question again."
UNKNOWN_COMMAND = "I don't know that command. /help lists what I can do."
STATE_DIR_IN_USE = (
    "BOT_STATE_DIR {path} is in use by another `python -m bot run` (pid {pid}); stop that one, "
    "or give this one its own BOT_STATE_DIR"
)
CHAT_HISTORY_NOT_SAVED = "warning: the chat history was not saved to {path}: {reason}"
CHAT_HISTORY_NOT_READ = "warning: the chat history in {path} was not read: {reason}"
